"""Chat templates: how [system, user] messages become the one string the model reads.

TinyAgent sends its planner two chat messages to an OpenAI-compatible server, which applies
the model's own chat template (../shared/golden/README.md, "How TinyAgent sends them").
We do the same locally: the GGUF's `tokenizer.chat_template`, rendered with llama-cpp-python's
sandboxed Jinja2 formatter and the generation prompt. A GGUF without one gets the fallback
the model manifest names for it (`chat_template:` in models/manifest.yaml), or a name set in
config (`planner.chat_template`); `none` is plain concatenation (system, blank line, user),
what TinyAgent's own code does for a completion model.

BOS: a template that writes `bos_token` first has it removed from the text, because
llama.cpp adds BOS itself when it tokenizes (per the GGUF's add_bos flag): never two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tinyagent.core.chat_layouts import NAMED_STOPS, NAMED_TEMPLATES


class ChatTemplateError(ValueError):
    """A template that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class ChatTemplate:
    name: str  # "gguf", a NAMED_TEMPLATES key, or "none"
    source: str  # where it came from, for people: "the GGUF's tokenizer.chat_template", ...
    template: str = ""  # Jinja2 text ("" for none)
    bos_token: str = ""
    eos_token: str = ""
    stops: tuple[str, ...] = field(default=())

    @property
    def plain(self) -> bool:
        return not self.template

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt text, ending with the generation prompt (no leading BOS: llama.cpp adds it)."""
        if self.plain:
            return "\n\n".join(m["content"] for m in messages)
        import jinja2
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            formatter = Jinja2ChatFormatter(self.template, eos_token=self.eos_token, bos_token=self.bos_token,
                                            add_generation_prompt=True)
            text = formatter(messages=list(messages)).prompt  # type: ignore[arg-type]  # plain role/content dicts
        except (jinja2.TemplateError, ValueError, TypeError) as exc:  # raise_exception() in a template: ValueError
            raise ChatTemplateError(f"the chat template ({self.source}) could not be rendered: {exc}; "
                                    "set planner.chat_template to none or a named layout") from None
        if self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token):]
        return text

    def chat(self, system: str, user: str) -> str:
        return self.render([{"role": "system", "content": system}, {"role": "user", "content": user}])

    def single(self, user: str) -> str:
        """One user message (TinyAgent's joiner prompt, which a chat server wraps as one)."""
        return self.render([{"role": "user", "content": user}])


NONE = ChatTemplate("none", "no chat template (plain text)")


def named(name: str, *, bos_token: str = "<s>", eos_token: str = "</s>", source: str = "") -> ChatTemplate:
    if name == "none":
        return NONE
    if name not in NAMED_TEMPLATES:
        raise ChatTemplateError(f"unknown chat template {name!r} (planner.chat_template): use auto, none or one of "
                                + ", ".join(NAMED_TEMPLATES))
    return ChatTemplate(name, source or f"the named layout {name!r}", NAMED_TEMPLATES[name], bos_token, eos_token,
                        NAMED_STOPS.get(name, ()))


def gguf_tokens(model: Any) -> tuple[str, str]:
    """The BOS and EOS texts of a loaded LocalLLM ("" where it has none)."""
    metadata = model.metadata
    out = []
    for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        value = str(metadata.get(key, "-1")).strip()
        token = int(value) if value.lstrip("-").isdigit() else -1
        out.append(model.token_text(token) if token >= 0 else "")
    return out[0], out[1]


def choose(setting: str, *, metadata: dict[str, str], bos_token: str, eos_token: str,
           fallback: str | None = None, fallback_source: str = "") -> ChatTemplate:
    """`planner.chat_template`: auto (the GGUF's, else the manifest's fallback, else none), none, or a name."""
    setting = (setting or "auto").strip()
    if setting != "auto":
        return named(setting, bos_token=bos_token or "<s>", eos_token=eos_token or "</s>",
                     source=f"planner.chat_template: {setting}")
    own = metadata.get("tokenizer.chat_template", "")
    if own.strip():
        return ChatTemplate("gguf", "the GGUF's tokenizer.chat_template", own, bos_token, eos_token,
                            (eos_token,) if eos_token else ())
    if fallback:
        return named(fallback, bos_token=bos_token or "<s>", eos_token=eos_token or "</s>",
                     source=fallback_source or f"the manifest's fallback {fallback!r}")
    return NONE
