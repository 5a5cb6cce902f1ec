"""Past requests with their plans and results; pick one to run its plan again or re-ask."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from tinyagent.core.history import HistoryEntry
from tinyagent.core.sanitize import visible
from tinyagent.tui.widgets.safe_text import SafeStatic


class HistoryScreen(Screen[tuple[str, HistoryEntry] | None]):
    """Dismisses with ("plan", entry) to run the plan again, ("ask", entry) to re-ask, or None."""

    BINDINGS = [
        Binding("enter", "rerun", "Run plan again", id="history.rerun", priority=True),
        Binding("r", "reask", "Ask again", id="history.reask"),
        Binding("escape", "close", "Back", id="history.close"),
    ]

    def __init__(self, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.entries = list(reversed(entries))  # newest first

    def compose(self) -> ComposeResult:
        yield Label(f"History: {len(self.entries)} runs (newest first)", classes="pane-title")
        with Horizontal():
            options = [Option(self._label(e), id=e.id) for e in self.entries]
            yield OptionList(*options, id="history-list")
            yield SafeStatic(id="history-detail")
        yield Footer()

    @staticmethod
    def _label(e: HistoryEntry) -> Text:
        when = time.strftime("%m-%d %H:%M", time.localtime(e.ts))
        mark = " (dry run)" if e.dry_run else ""
        return Text.assemble((when + "  ", "dim"), visible(e.title[:60]), (mark, "italic"))

    def on_mount(self) -> None:
        if self.entries:
            self.query_one(OptionList).highlighted = 0
            self._show(0)
        else:
            self.query_one("#history-detail", SafeStatic).update("Nothing yet: past requests and plans appear here.")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def _show(self, index: int) -> None:
        if not 0 <= index < len(self.entries):
            return
        e = self.entries[index]
        out = Text()
        if e.request:
            out.append("Request: ", "bold").append(visible(e.request) + "\n")
        out.append("Plan:\n", "bold").append(visible(e.plan.rstrip(), keep_newlines=True) + "\n")
        if e.summary:
            out.append("Result: ", "bold").append(visible(e.summary) + "\n")
        for tid, status in e.statuses.items():
            out.append(f"  {visible(tid)}: {visible(status)}")
            if e.errors.get(tid):
                out.append(f" — {visible(e.errors[tid])}", "italic")
            out.append("\n")
        if e.answer:
            out.append("Answer: ", "bold").append(visible(e.answer, keep_newlines=True))
        self.query_one("#history-detail", SafeStatic).update(out)

    def _current(self) -> HistoryEntry | None:
        index = self.query_one(OptionList).highlighted
        return self.entries[index] if index is not None and 0 <= index < len(self.entries) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        e = self._current()
        if e and e.plan.strip():
            self.dismiss(("plan", e))

    def action_reask(self) -> None:
        e = self._current()
        if e and e.request:
            self.dismiss(("ask", e))
        elif e:
            self.notify("This run came from the plan editor; press enter to run its plan again.")

    def action_close(self) -> None:
        self.dismiss(None)
