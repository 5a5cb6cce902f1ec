"""Past requests with their plans and results, one JSON object per line on disk.

UI-free: the terminal UI writes an entry after each run and lists them to re-run.

    store = HistoryStore.default()            # data_dir()/history.jsonl
    store.append(HistoryEntry(request="text Sid", plan="1. ...", ...))
    entries = store.load()                    # newest last; bad lines are skipped
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.config import data_dir

MAX_ENTRIES = 500  # older entries are dropped when the file is compacted


@dataclass
class HistoryEntry:
    request: str = ""  # what the user asked ("" for a plan written by hand)
    plan: str = ""  # the plan's text
    answer: str = ""
    dry_run: bool = False
    statuses: dict[str, str] = field(default_factory=dict)  # task id -> status value
    outputs: dict[str, str] = field(default_factory=dict)  # task id -> short text of the output
    errors: dict[str, str] = field(default_factory=dict)
    summary: str = ""  # RunSummary.describe()
    source: str = "request"  # request or editor
    ts: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def title(self) -> str:
        if self.request:
            return self.request
        first = next((line for line in self.plan.splitlines() if line.strip()), "")
        return f"(plan) {first}"

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HistoryEntry:
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class HistoryStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> HistoryStore:
        return cls(data_dir() / "history.jsonl")

    def append(self, entry: HistoryEntry) -> None:
        line = json.dumps(asdict(entry), ensure_ascii=False, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            self._compact_if_needed()

    def load(self, limit: int | None = None) -> list[HistoryEntry]:
        """Entries oldest first (the last `limit` of them); unreadable lines are skipped."""
        if not self.path.exists():
            return []
        entries: list[HistoryEntry] = []
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                try:
                    entries.append(HistoryEntry.from_json(obj))
                except TypeError:
                    continue
        return entries[-limit:] if limit else entries

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)

    def _compact_if_needed(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        if len(lines) > MAX_ENTRIES * 2:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines[-MAX_ENTRIES:]) + "\n", encoding="utf-8")
            tmp.replace(self.path)


def short_text(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
