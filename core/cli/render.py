"""Human-readable lines for the event stream (the CLI's view; the TUI draws its own)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tinyagent.core.events import (
    AnswerReady,
    AnswerToken,
    ApprovalResolved,
    Event,
    Notice,
    PlanFinished,
    PlanStarted,
    Replanning,
    StageTiming,
    TaskFinished,
    TaskStarted,
    TaskStatus,
    ToolsSelected,
)
from tinyagent.core.sanitize import visible

_MARK = {TaskStatus.DONE: "✓", TaskStatus.FAILED: "✗", TaskStatus.SKIPPED: "↷", TaskStatus.DENIED: "⊘",
         TaskStatus.CANCELLED: "■", TaskStatus.DRY_RUN: "◌", TaskStatus.UNKNOWN: "‽"}


def _short(value: Any, width: int = 100) -> str:
    text = visible(" ".join(str(value).split()))  # tool output (a note, an email) may carry escapes
    return text if len(text) <= width else text[: width - 1] + "…"


def tools_line(event: ToolsSelected) -> str:
    """The tools a request is planned with; an MCP tool's similarity (not a probability) marked "~"."""
    shown = (f"{n} (~{event.similarities[n]:.2f})" if n in event.similarities else n for n in event.selected)
    return "tools: " + ", ".join(shown)


class TextRenderer:
    def __init__(self, out: TextIO = sys.stdout, verbose: bool = False):
        self.out, self.verbose = out, verbose
        self._streamed = ""  # answer text already printed while the joiner wrote it
        self._open = False  # that text's line is not ended yet

    def __call__(self, event: Event) -> None:
        if isinstance(event, AnswerToken):  # the answer as the joiner writes it, on one growing line
            self._print(("\n" if not self._streamed else "") + event.text, end="")
            self._streamed += event.text
            self._open = True
            return
        if isinstance(event, AnswerReady) and self._streamed:
            streamed, self._streamed = self._streamed, ""
            self._end_line()
            if event.text.strip() == streamed.strip():
                if self.verbose and event.case:
                    self._print(f"  ({event.case})")
                return
        line = self.line(event)
        if line:
            self._end_line()
            self._print(line)

    def _print(self, text: str, end: str = "\n") -> None:
        """Every line goes out through the one sanitiser: answers, notices and errors quote data
        (a note titled "\\x1b]2;..." would set the terminal's title, "\\x1b]52;..." its clipboard)."""
        print(visible(text, keep_newlines=True), end=end, file=self.out, flush=True)

    def _end_line(self) -> None:
        if self._open:
            print(file=self.out, flush=True)
            self._open = False

    def line(self, event: Event) -> str | None:
        if isinstance(event, PlanStarted):
            return f"plan {event.run_id}" + ("" if event.dry_run == "off" else f" (dry run: {event.dry_run})")
        if isinstance(event, TaskStarted) and self.verbose:
            return f"… {event.task_id} {event.tool}"
        if isinstance(event, TaskFinished):
            mark = _MARK.get(event.status, "?")
            head = f"{mark} {event.task_id} {event.tool} [{event.status.value}, {event.duration:.2f}s]"
            if event.status is TaskStatus.DONE:
                return f"{head} → {_short(event.output)}"
            if event.status is TaskStatus.DRY_RUN:
                return f"{head} would: {_short(event.error or event.args)}"
            return f"{head} {_short(event.error or '')}"
        if isinstance(event, ApprovalResolved) and event.decision == "deny":
            return f"  task {event.task_id}: declined"
        if isinstance(event, PlanFinished):
            return event.summary.describe()
        if isinstance(event, ToolsSelected):
            return tools_line(event)
        if isinstance(event, StageTiming) and self.verbose:
            return f"  {event.stage}: {event.seconds * 1000:.0f} ms"
        if isinstance(event, Notice):
            return f"{event.level}: {event.message}"
        if isinstance(event, Replanning):
            return f"info: {event.message}"
        if isinstance(event, AnswerReady):
            return f"\n{event.text}" + (f"\n  ({event.case})" if self.verbose and event.case else "")
        return None
