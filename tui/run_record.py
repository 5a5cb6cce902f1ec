"""What the app keeps about the run on screen, and the history entry it becomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyagent.core.events import RunSummary
from tinyagent.core.history import HistoryEntry, short_text


@dataclass
class RunRecord:
    number: int  # events of an older run (a different number) are not drawn
    request: str = ""  # "" for a plan from the editor
    source: str = "request"  # request, editor, history or rerun
    dry: bool = False
    plan: str = ""
    answer: str = ""
    summary: RunSummary | None = None
    timings: dict[str, float] = field(default_factory=dict)
    saved: bool = False

    def history_entry(self) -> HistoryEntry | None:
        """The entry to save once (None before the run has a summary, or once saved)."""
        if self.summary is None or self.saved:
            return None
        self.saved = True
        s = self.summary
        return HistoryEntry(
            request=self.request, plan=self.plan, answer=self.answer, dry_run=self.dry,
            statuses={str(k): v.value for k, v in s.statuses.items()},
            outputs={str(k): short_text(v) for k, v in s.outputs.items()},
            errors={str(k): v for k, v in s.errors.items()}, summary=s.describe(), source=self.source)
