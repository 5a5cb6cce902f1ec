"""The one interface every tool backend (sandbox, AppleScript) implements.

A call goes through two steps so that the approval prompt can show exactly what will happen:
`prepare` (read-only: writes email bodies and note text, finds recipients, describes the change)
and `invoke` (does it). The executor runs both in worker threads; they may block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tools.registry import ToolSpec


class ToolError(Exception):
    """A tool could not do its job; the message is shown to the user and to the replanner."""


@dataclass
class ToolCall:
    tool: ToolSpec
    args: dict[str, Any]  # resolved arguments, by parameter name
    # Filled in by `prepare`: text the backend will use (e.g. {"body": ...}) and a one-line
    # description of what the call changes, for the confirmation prompt.
    extras: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


class ContentWriter(Protocol):
    """Writes the text a tool needs from a short instruction (the planner's sub-agents)."""

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "") -> str: ...

    def note_content(self, content: str, *, name: str) -> str: ...

    def summarize(self, text: str, *, title: str = "") -> str: ...


class PlainWriter:
    """The writer used without a model: the plan's own words, and an extractive summary."""

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "") -> str:
        return (context or "").strip()

    def note_content(self, content: str, *, name: str) -> str:
        return (content or "").strip()

    def summarize(self, text: str, *, title: str = "") -> str:
        return extractive_summary(text)


def extractive_summary(text: str, max_sentences: int = 3, max_chars: int = 600) -> str:
    """The first few sentences of a text, whitespace folded: a summary that never invents."""
    import re

    flat = " ".join(text.split())
    if not flat:
        return "(the document has no extractable text)"
    sentences = re.split(r"(?<=[.!?])\s+", flat)
    out = " ".join(sentences[:max_sentences])
    return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…"


@runtime_checkable
class Backend(Protocol):
    name: str  # "sandbox" or "applescript"

    def prepare(self, call: ToolCall) -> ToolCall: ...

    def invoke(self, call: ToolCall) -> Any: ...
