"""The request box: one line, at most MAX_REQUEST characters, control characters made visible.

Textual's Input redraws its whole value on each keystroke: with a pasted megabyte, one key
took two minutes to echo. A request is a sentence or two, and it must fit the planner's
context beside the prompt (planner.context 6144 tokens, ~4,300 of them TinyAgent's prompt with
all 16 tools), so a longer paste is cut at the bound and the person is told. Textual's own
max_length would refuse such a paste whole, with only a bell.
"""

from __future__ import annotations

from textual.widgets import Input

from tinyagent.core.sanitize import visible

MAX_REQUEST = 2000  # characters; ~500-700 tokens of English


class RequestInput(Input):
    def replace(self, text: str, start: int, end: int) -> None:
        text = visible(text)  # a pasted ESC would reach the terminal as it is drawn
        value = self.value
        start, end = sorted((max(0, start), min(len(value), end)))
        room = max(0, MAX_REQUEST - (len(value) - (end - start)))
        if len(text) > room:
            self._say_cut(len(text), room)
            text = text[:room]
            if not text:
                return
        super().replace(text, start, end)

    def validate_value(self, value: str) -> str:
        """The same for a value set directly (a transcript put in the box)."""
        value = visible(value)
        if len(value) > MAX_REQUEST:
            self._say_cut(len(value), MAX_REQUEST)
            value = value[:MAX_REQUEST]
        return value

    def _say_cut(self, given: int, kept: int) -> None:
        self.notify(f"A request holds at most {MAX_REQUEST:,} characters: {given - kept:,} of the "
                    f"{given:,} given were left out.", severity="warning", timeout=6)
