"""The plan editor's text area, which shows hidden characters as escapes.

A plan from history, a file or a paste can hold bidi overrides, C1 controls or zero-width
characters inside its strings. Drawn raw, they reorder the line a person reads or reach the
terminal. Written as Python escapes (`\\u202e`) inside a string literal, they mean the same
character to the parser (each argument is read with `ast.literal_eval`). So the plan that
runs is the plan that was shown, and what is shown is plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import events
from textual.widgets import TextArea

from tinyagent.core.sanitize import visible


@dataclass
class _Scan:
    """Where a scan of plan text stands: inside which string literal, after a backslash?"""

    quote: str = ""  # the open literal's quote character; "" outside strings
    raw: bool = False  # an r"..." literal: escapes in it are not read, so nothing is changed
    backslash: bool = False  # the previous character was a backslash that escapes this one


def _escape(ch: str) -> str:
    shown = visible(ch)  # "\\u202e" for a hidden character, the character itself otherwise
    return ch if ch == "\t" else shown


def _step(scan: _Scan, ch: str, before: str) -> str:
    """What `ch` is written as, moving `scan` past it; `before` is the text written so far."""
    if ch == "\n":  # a plan's strings never span lines
        scan.quote, scan.backslash = "", False
        return ch
    if not scan.quote:
        if ch in "\"'":
            scan.quote, scan.raw = ch, before[-1:] in ("r", "R")
            return ch
        return _escape(ch)  # hidden here is a syntax problem anyway; it is shown, not drawn
    if scan.raw:
        scan.quote = "" if ch == scan.quote else scan.quote
        return ch
    if scan.backslash:
        scan.backslash = False
        # "\<U+202E>" reads as a backslash and U+202E: so does "\\\u202e"
        return "\\" + visible(ch) if visible(ch) != ch else ch
    if ch == "\\":
        scan.backslash = True
    elif ch == scan.quote:
        scan.quote = ""
    return visible(ch)


def escape_hidden(text: str, scan: _Scan | None = None) -> str:
    """`text` with every hidden character written as an escape that parses to the same plan."""
    if text.replace("\n", "").isprintable():
        return text  # the common case
    scan = scan or _Scan()
    out: list[str] = []
    for ch in text:
        out.append(_step(scan, ch, out[-1] if out else ""))
    return "".join(out)


def _scan_of(prefix: str) -> _Scan:
    """The scan state after `prefix` (the current line up to the cursor)."""
    scan = _Scan()
    written = ""
    for ch in prefix:
        written = _step(scan, ch, written)
    return scan


class PlanText(TextArea):
    """A TextArea whose loaded and pasted text comes in with hidden characters escaped."""

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        super().__init__(escape_hidden(text), **kwargs)

    def load_text(self, text: str) -> None:
        super().load_text(escape_hidden(text))

    async def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # TextArea's own handler would insert the text raw after this one
        event.stop()  # taken here: bubbled up, the app would hand it to the focused widget again
        if self.read_only:
            return
        start, end = sorted(self.selection)
        line = self.document.get_line(start[0])[: start[1]]
        text = escape_hidden(event.text, _scan_of(line))
        if result := self._replace_via_keyboard(text, start, end):
            self.move_cursor(result.end_location)
            self.focus()
