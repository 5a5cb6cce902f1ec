"""The `tuned` profile: the exact text the shipped planner adapter (models/planner-lora/) was trained on.

The adapter teaches Qwen2.5-Coder-0.5B TinyAgent's plans, so its prompt needs no rules and no
in-context examples: one line of instructions, the offered tools (signature and the spec's
one-line hint, in the fixed PROMPT_ORDER), then the date and the request. Training
(core/planner/finetune.py) renders every example through `render` below and the chat template
of the base GGUF, so whatever this module writes is what the model learnt to read: change a
byte here and the adapter must be trained again (tests/unit/test_tuned_profile.py pins the text).

The system part depends only on the offered tools, so with every tool offered (`--all-tools`)
it is one constant prefix that llama.cpp's prefix cache keeps between requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from tinyagent.core.plan import END_OF_PLAN
from tinyagent.core.planner.prompt import optional_rule, prompt_order, request_part
from tinyagent.core.tool_text import description_line
from tinyagent.tools.spec import ToolSpec

INSTRUCTION = (f'Plan the request as numbered tool calls, one a line, then join(){END_OF_PLAN}. '
               '"$N" is the output of step N.\nTools:\n')


def tool_line(tool: ToolSpec) -> str:
    return f"{tool.signature()}: {description_line(tool)}\n"


@dataclass(frozen=True)
class TunedPrompt:
    system: str
    user: str
    tool_order: tuple[str, ...]


def render(query: str, tools: Sequence[ToolSpec], *, today: dt.date, instructions: str = "",
           context: str = "") -> TunedPrompt:
    """The two chat messages: [system: instruction + tools, user: date + request (+ replan context)]."""
    ordered = prompt_order(tools)
    system = INSTRUCTION + "".join(tool_line(t) for t in ordered) + optional_rule(ordered)
    user = request_part(query, today=today, instructions=instructions, context=context).lstrip("\n")
    return TunedPrompt(system, user, tuple(t.name for t in ordered))
