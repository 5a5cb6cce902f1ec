"""The run controller without an app: one run at a time, the record of the run on screen, what
its events leave in it, and the history entry it becomes (once). A recording target stands in
for the app, a recording view for the main screen, the real Pipeline runs the plans (no model
needed) on the sandbox."""

from __future__ import annotations

import asyncio

from tests.support.tui_helpers import sandbox_config
from tinyagent.core.approval import Decision
from tinyagent.core.events import AnswerReady, PlanFinished, RunSummary, StageTiming, TaskStatus
from tinyagent.core.history import HistoryStore
from tinyagent.core.parser import parse_plan
from tinyagent.tui.messages import CoreEvent, RunDone
from tinyagent.tui.run_controller import RunController
from tinyagent.tui.services import Services

PLAN = '1. get_phone_number("Mike")\n2. join()<END_OF_PLAN>\n'


class Target:
    """Takes the messages the app would get."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    def post_message(self, message: object) -> bool:
        self.messages.append(message)
        return True


class View:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def show_activity(self, what: str) -> None:
        self.said.append(("activity", what))

    def choosing_tools(self) -> None:
        self.said.append(("tools", ""))

    def run_stopped(self, message: str) -> None:
        self.said.append(("stopped", message))


async def approve_all(request: object) -> Decision:
    return Decision.APPROVE


def controller(tmp_path) -> tuple[RunController, Target, View]:
    target, view = Target(), View()
    services = Services(config=sandbox_config(), history=HistoryStore(tmp_path / "history.jsonl"))
    return RunController(services, target, view), target, view  # type: ignore[arg-type]


def test_one_run_at_a_time(tmp_path):
    runs, target, _ = controller(tmp_path)
    assert runs.claim() and runs.busy
    assert not runs.claim()  # refused while the first goes
    assert runs.cancelled()  # stopped before its body began: RunDone is posted for it
    assert [type(m) for m in target.messages] == [RunDone]
    runs.failed()
    assert not runs.busy and runs.claim()


def test_a_plan_run_is_recorded_and_saved_to_the_history_once(tmp_path):
    runs, target, view = controller(tmp_path)
    plan = parse_plan(PLAN)

    async def run() -> None:
        assert runs.claim()
        await runs.plan(plan, source="editor", request="", dry=False, approver=approve_all)

    asyncio.run(run())
    assert runs.bridge is not None and runs.current is not None
    assert ("activity", "running") in view.said
    assert isinstance(target.messages[-1], RunDone)  # after every event of the run
    events = [m for m in target.messages if isinstance(m, CoreEvent)]
    assert events and all(runs.is_current(m.run) for m in events)
    assert runs.current.summary is not None and runs.current.summary.statuses[1] is TaskStatus.DONE
    assert runs.current.plan == plan.to_text()

    asyncio.run(runs.finish())
    asyncio.run(runs.finish())  # a second RunDone saves nothing more
    assert not runs.busy
    assert [e.plan for e in runs.history()] == [plan.to_text()]


def test_events_leave_timings_the_plan_and_the_answer_in_the_record(tmp_path):
    runs, _, _ = controller(tmp_path)
    plan = parse_plan(PLAN)
    assert runs.claim()
    asyncio.run(runs.plan(plan, source="history", request="call Mike", dry=True, approver=approve_all))
    runs.record(StageTiming("plan", 0.25), shown=lambda: ())
    runs.record(AnswerReady("a draft", replan=True), shown=lambda: ())
    summary = RunSummary("r1", {1: TaskStatus.DONE}, {1: "+1 415 555 0104"}, {}, 0.01)
    runs.record(PlanFinished(summary), shown=lambda: plan.tasks)
    runs.record(AnswerReady("Mike's number is 1."), shown=lambda: ())
    record = runs.current
    assert record is not None and record.request == "call Mike" and record.timings == {"plan": 0.25}
    assert record.summary is summary and record.plan == plan.to_text()
    assert runs.last_plan is not None and runs.last_plan.to_text() == plan.to_text()
    assert runs.last_run_dry and runs.dry
    assert record.answer == "Mike's number is 1."  # a replan's draft answer is not kept
