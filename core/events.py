"""The one typed event stream every front end (CLI, JSON lines, TUI) consumes.

The core never calls into a UI: it calls an `EventSink` with these frozen dataclasses.
Sinks must be cheap and non-blocking (print a line, post a message, put on a queue).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from tinyagent.core.plan import Plan, Ref, Task, Template, format_value


class TaskStatus(str, Enum):
    WAITING = "waiting"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    DENIED = "denied"
    CANCELLED = "cancelled"
    DRY_RUN = "dry-run"
    UNKNOWN = "unknown"  # stopped while its change was under way: it may or may not have happened

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.WAITING, TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL)


_BY_KIND: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """One thing that happened. Each event class names its kind once, in its class line
    (`class Notice(Event, kind="notice")`): the "event" of its JSON line, which history files
    and scripts read, so a kind is never renamed, and two classes cannot share one."""

    kind: ClassVar[str]
    ts: float = field(default_factory=time.monotonic, kw_only=True, compare=False)

    def __init_subclass__(cls, *, kind: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind in _BY_KIND:
            raise TypeError(f"event kind {kind!r} is already {_BY_KIND[kind].__name__}'s")
        cls.kind = kind
        _BY_KIND[kind] = cls

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with a "event" key naming the kind."""
        out: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            if f.name == "ts":
                continue
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


# -- request pipeline ---------------------------------------------------------------------
@dataclass(frozen=True)
class RequestStarted(Event, kind="request_started"):
    request: str
    dry_run: bool = False


@dataclass(frozen=True)
class ToolsSelected(Event, kind="tools_selected"):
    """ToolRAG's answer: a probability per built-in tool, a similarity per MCP tool, and the
    tools that go into the prompt (the MCP ones among them)."""

    probabilities: dict[str, float]  # the classifier's, for the 16 built-in tools
    selected: tuple[str, ...]
    threshold: float
    seconds: float
    # MCP tool -> the cosine similarity of its name and description to the request (not a
    # probability: shown marked as a similarity); empty without MCP tools or without ToolRAG
    similarities: dict[str, float] = field(default_factory=dict)
    similarity_threshold: float = 0.0  # toolrag.mcp_similarity, when `similarities` has any


@dataclass(frozen=True)
class PlanToken(Event, kind="plan_token"):
    """Text the model just wrote. High rate: UIs may coalesce these."""

    text: str


@dataclass(frozen=True)
class StageTiming(Event, kind="stage_timing"):
    stage: str  # toolrag, prompt, first_dispatch, plan_complete, execution, join
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice(Event, kind="notice"):
    """Something the user should read: level is info, warning or error."""

    level: str
    message: str


@dataclass(frozen=True)
class Replanning(Event, kind="replanning"):
    """The joiner asked for another plan: attempt `attempt` starts, for `reason`."""

    attempt: int
    reason: str

    @property
    def message(self) -> str:
        return f"replanning (attempt {self.attempt}): {self.reason}"


@dataclass(frozen=True)
class AnswerReady(Event, kind="answer"):
    text: str
    replan: bool = False  # the joiner asked for another plan
    case: str = ""  # why the joiner did or did not run, e.g. "no joiner: actions done"


@dataclass(frozen=True)
class AnswerToken(Event, kind="answer_token"):
    """Answer text as the joiner writes it (AnswerReady follows with the whole answer)."""

    text: str


# -- plan execution -------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanStarted(Event, kind="plan_started"):
    run_id: str
    dry_run: str  # "off", "safe" (read-only lookups run) or "strict" (nothing runs)
    attempt: int = 1


@dataclass(frozen=True)
class TaskAdded(Event, kind="task_added"):
    task: Task


@dataclass(frozen=True)
class TaskStarted(Event, kind="task_started"):
    task_id: int
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ApprovalRequested(Event, kind="approval_requested"):
    task_id: int
    tool: str
    effect: str
    args: dict[str, Any]
    summary: str
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalResolved(Event, kind="approval_resolved"):
    task_id: int
    decision: str  # approve, deny, approve_all, or policy (allowed by the user's settings)


@dataclass(frozen=True)
class TaskFinished(Event, kind="task_finished"):
    task_id: int
    tool: str
    status: TaskStatus
    output: Any = None
    error: str | None = None
    duration: float = 0.0
    args: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    statuses: dict[int, TaskStatus]
    outputs: dict[int, Any]
    errors: dict[int, str]
    duration: float
    cancelled: bool = False

    def count(self, status: TaskStatus) -> int:
        return sum(1 for s in self.statuses.values() if s is status)

    @property
    def all_done(self) -> bool:
        return all(s in (TaskStatus.DONE, TaskStatus.DRY_RUN) for s in self.statuses.values())

    def describe(self) -> str:
        parts = [f"{self.count(s)} {s.value}" for s in TaskStatus if self.count(s)]
        return f"{len(self.statuses)} tasks: " + (", ".join(parts) or "none") + f" in {self.duration:.2f}s"


@dataclass(frozen=True)
class PlanFinished(Event, kind="plan_finished"):
    summary: RunSummary


# -- voice and models ---------------------------------------------------------------------
@dataclass(frozen=True)
class AudioLevel(Event, kind="audio_level"):
    """Input level while recording (RMS and peak, 0..1). High rate: UIs may coalesce these."""

    rms: float
    peak: float
    seconds: float


@dataclass(frozen=True)
class TranscriptReady(Event, kind="transcript"):
    text: str
    seconds: float


@dataclass(frozen=True)
class DownloadProgress(Event, kind="download_progress"):
    name: str
    done_bytes: int
    total_bytes: int | None


EventSink = Callable[[Event], None]


def event_class(kind: str) -> type[Event]:
    """The event class a JSON line's "event" names; KeyError for a kind this version does not know."""
    return _BY_KIND[kind]


def null_sink(event: Event) -> None:
    """A sink that drops everything (for library callers that want only the result)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Task):
        return {"id": value.id, "tool": value.tool, "args": [_jsonable(a) for a in value.args], "deps": list(value.deps),
                "line": value.line, "text": value.to_text()}
    if isinstance(value, (Ref, Template)):
        return format_value(value)[1:-1]
    if isinstance(value, Plan):
        return value.to_text()
    if isinstance(value, RunSummary):
        return {"run_id": value.run_id, "statuses": {str(k): v.value for k, v in value.statuses.items()},
                "outputs": {str(k): _jsonable(v) for k, v in value.outputs.items()},
                "errors": {str(k): v for k, v in value.errors.items()}, "duration": round(value.duration, 6),
                "cancelled": value.cancelled, "all_done": value.all_done}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
