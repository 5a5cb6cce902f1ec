"""The named chat layouts for GGUFs that carry no template of their own: data only.

`planner.chat_template` may name one, so the config checks the name against this table
without loading the planner; core/planner/chat.py renders them.
"""

from __future__ import annotations

# Named layouts for GGUFs that carry no template of their own.
#  - tinyllama-32k-instruct: Doctor-Shotgun/TinyLlama-1.1B-32k-Instruct, the base of
#    TinyAgent-1.1B: an Alpaca-like "### Instruction: / ### Input: / ### Response:" layout
#    (see the README's "Prompt layouts" for what was confirmed and how).
#  - vicuna: WizardLM-2-7B, the base of TinyAgent-7B ("{system} USER: {prompt} ASSISTANT:").
#  - chatml: Qwen-style <|im_start|>role ... <|im_end|>.
NAMED_TEMPLATES: dict[str, str] = {
    "tinyllama-32k-instruct": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{{ '\\n### Instruction:\\n' + m['content'] + '\\n' }}"
        "{% elif m['role'] == 'user' %}{{ '\\n### Input:\\n' + m['content'] + '\\n' }}"
        "{% elif m['role'] == 'assistant' %}{{ '\\n### Response:\\n' + m['content'] + eos_token }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '\\n### Response:\\n' }}{% endif %}"
    ),
    "vicuna": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{{ m['content'] + ' ' }}"
        "{% elif m['role'] == 'user' %}{{ 'USER: ' + m['content'] + ' ' }}"
        "{% elif m['role'] == 'assistant' %}{{ 'ASSISTANT: ' + m['content'] + eos_token }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
    ),
    "chatml": (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
}
# Text that starts a new turn in a named layout: generation stops there.
NAMED_STOPS: dict[str, tuple[str, ...]] = {
    "tinyllama-32k-instruct": ("\n### Instruction:", "\n### Input:", "\n### Response:"),
    "vicuna": ("USER:", "</s>"),
    "chatml": ("<|im_end|>", "<|im_start|>"),
}
