"""Text from data, made safe to draw: every control character goes through core.sanitize.

Rich keeps ESC (and C1 controls such as CSI 0x9b) in a Text, and Textual writes a segment's
characters to the terminal as they are: a note titled "\\x1b]2;...\\x07" would set the
terminal's title, "\\x1b[2J" would clear it. Widgets that show what came from data (tool
outputs, note and contact names, history, errors quoting them) draw it through here, so it
shows as the visible escape `\\x1b` instead.
"""

from __future__ import annotations

from typing import Any

from rich.text import Span, Text
from textual.visual import VisualType
from textual.widgets import Static

from tinyagent.core.sanitize import visible


def _clean(plain: str) -> bool:
    """True when nothing in `plain` needs escaping (the common case, checked in C)."""
    return plain.isprintable() or plain.replace("\n", "").isprintable()


def safe_text(content: str | Text) -> Text:
    """`content` as a Text whose control and format characters are visible escapes; line
    breaks stay, and a Text keeps its styles (each span moves with the characters it covered)."""
    if isinstance(content, str):
        return Text(visible(content, keep_newlines=True))
    plain = content.plain
    if _clean(plain) or visible(plain, keep_newlines=True) == plain:
        return content
    starts = [0]  # where each character of `plain` begins in the escaped text
    pieces = []
    for ch in plain:
        piece = visible(ch, keep_newlines=True)
        pieces.append(piece)
        starts.append(starts[-1] + len(piece))
    out = content.blank_copy("".join(pieces))
    end = len(plain)
    out.spans = [Span(starts[min(s.start, end)], starts[min(s.end, end)], s.style) for s in content.spans]
    return out


def _safe(content: Any) -> Any:
    return safe_text(content) if isinstance(content, (str, Text)) else content


class SafeStatic(Static):
    """A Static for text that came from data: strings and Rich Text go through `safe_text`.

    A string is shown as it is, never parsed as markup: "[red]" in a note is just text."""

    def __init__(self, content: VisualType = "", **kwargs: Any) -> None:
        super().__init__(_safe(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(_safe(content), layout=layout)
