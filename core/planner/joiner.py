"""What every profile's joiner shares: the call it asks the model to make and what comes of it.

A profile (core/planner/profile.py) turns a finished round into a `JoinCall`: the text the
model receives, the grammar its reply must follow and how to read that reply into a
`JoinResult`. The Planner runs the call; neither it nor the pipeline knows whose joiner it is.
The answers written without a model (`deterministic_answer`) live here too: every joiner falls
back on them when the model's reply says nothing usable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tinyagent.core.events import RunSummary, TaskStatus
from tinyagent.core.plan import Plan
from tinyagent.core.planner import tinyagent_join as tj

_OUTPUT_CHARS = 300  # per task output shown to the joiner / replanner


@dataclass(frozen=True)
class JoinResult:
    answer: str
    replan: bool = False
    reason: str = ""
    thought: str = ""  # tinyagent profile: the joiner's Thought (the replanner reads it)
    scratchpad: str = ""  # tinyagent profile: every round's actions and observations so far
    steps: tuple[tj.Step, ...] = ()  # tinyagent profile: this round's tasks as the joiner saw them


@dataclass(frozen=True)
class JoinCall:
    """One joiner call as a profile lays it out: run `text` under `grammar`, then `read` the reply."""

    text: str
    grammar: str
    read: Callable[[str], JoinResult]
    stop: tuple[str, ...] = ()
    special: bool = False  # the text holds the chat template's special tokens (tokenize them as such)


def _short(value: Any, width: int = _OUTPUT_CHARS) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def observations(plan: Plan, summary: RunSummary | None) -> str:
    """The plan with what each step did: the joiner's and the replanner's view of a run."""
    lines = ["Plan and results:"]
    for task in plan.tasks:
        status = summary.statuses.get(task.id) if summary else None
        if summary is not None and status in (TaskStatus.DONE, TaskStatus.DRY_RUN):
            result = f"result: {_short(summary.outputs.get(task.id))}"
        elif summary is not None and status is not None:
            result = f"{status.value}: {_short(summary.errors.get(task.id, ''))}"
        else:
            result = "not run"
        lines.append(f"{task.to_text()}\n   {result}")
    for error in plan.errors:
        lines.append(f"Plan problem: {error}")
    return "\n".join(lines)


def deterministic_answer(plan: Plan, summary: RunSummary | None) -> str:
    """What ran and what came of it, without a model: always correct, never invented."""
    if not plan.tasks:
        problems = "; ".join(str(e) for e in plan.errors) or "the plan had no steps"
        return f"Nothing was run: {problems}."
    lines: list[str] = []
    for task in plan.tasks:
        status = summary.statuses.get(task.id) if summary else None
        if summary is not None and status is TaskStatus.DONE:
            lines.append(f"- {task.tool}: {_short(summary.outputs.get(task.id), 160)}")
        elif status is TaskStatus.DRY_RUN:
            lines.append(f"- {task.tool}: would run (dry run)")
        elif status is None:
            lines.append(f"- {task.tool}: not run")
        else:
            why = _short(summary.errors.get(task.id, ""), 160) if summary else ""
            lines.append(f"- {task.tool}: {status.value}" + (f" ({why})" if why else ""))
    done = summary.count(TaskStatus.DONE) if summary else 0
    head = f"{done} of {len(plan.tasks)} steps done:"
    tail = [f"Plan problem: {e}" for e in plan.errors]
    return "\n".join([head, *lines, *tail])
