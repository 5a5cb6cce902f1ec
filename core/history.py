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

from tinyagent.core.config import data_dir
from tinyagent.core.jsonl import JsonlError, dumps_line, jsonl_lines, read_record

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
        """An entry from one line's object; TypeError when a field has the wrong type (a line
        edited by hand or written by another version), so that line is skipped, not shown."""
        fields = cls.__dataclass_fields__
        known = {k: v for k, v in obj.items() if k in fields}
        for key, value in known.items():  # each field's declared type says what it may hold
            if not _TYPE_CHECKS[str(fields[key].type)](value):
                raise TypeError(f"history field {key!r} has the wrong type: {type(value).__name__}")
        if "id" in known and not known["id"]:
            raise TypeError("history field 'id' is empty")
        return cls(**known)


def _is_text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11  # finite, a date


_TYPE_CHECKS = {  # by HistoryEntry's annotations (strings, with postponed evaluation)
    "str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
    "float": _is_time, "dict[str, str]": _is_text_map,
}


class HistoryStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> HistoryStore:
        return cls(data_dir() / "history.jsonl")

    def append(self, entry: HistoryEntry) -> None:
        line = dumps_line(asdict(entry), default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as fh:
                # a last line cut off (a crash mid-write, a hand edit) must not swallow this one
                torn = fh.seek(0, 2) > 0 and fh.seek(-1, 2) >= 0 and fh.read(1) != b"\n"
                fh.write(("\n" if torn else "").encode() + line.encode("utf-8") + b"\n")
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
        seen: set[str] = set()
        for _, line in jsonl_lines(text):
            try:  # a torn, hand-edited or absurdly nested line is skipped like any bad line
                entry = HistoryEntry.from_json(read_record(line))
            except (JsonlError, TypeError):
                continue
            if entry.id in seen:  # a line written twice (a copied file): one entry
                continue
            seen.add(entry.id)
            entries.append(entry)
        return entries[-limit:] if limit else entries

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)

    def _compact_if_needed(self) -> None:
        try:
            lines = [line for _, line in jsonl_lines(self.path.read_text(encoding="utf-8", errors="replace"))]
        except OSError:
            return
        if len(lines) > MAX_ENTRIES * 2:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines[-MAX_ENTRIES:]) + "\n", encoding="utf-8")
            tmp.replace(self.path)


def short_text(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
