"""The executor: parallel DAG runs, streaming dispatch, failures, approvals, dry-run, cancel."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tinyagent.core.approval import ApprovalPolicy, Decision
from tinyagent.core.config import ApprovalConfig
from tinyagent.core.events import ApprovalRequested, PlanFinished, TaskFinished, TaskStarted, TaskStatus
from tinyagent.core.executor import DryRun, Executor, Pending
from tinyagent.core.parser import PlanParser, load_plan
from tinyagent.tools.backend import Backend, ForRequest, ToolCall, ToolError
from tinyagent.tools.base import BaseBackend


class RecordingBackend(Backend):
    """A tiny real backend: sleeps, records what ran and in which threads, fails on request."""

    name = "recording"

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.invoked: list[tuple[str, dict]] = []
        self.prepared: list[str] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def prepare(self, call: ToolCall) -> ToolCall:
        with self.lock:
            self.prepared.append(call.tool.name)
        call.summary = f"{call.tool.name} with {call.args}"
        return call

    def invoke(self, call: ToolCall):
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay)
            name = call.args.get("name")
            if name == "Nobody":
                raise ToolError("no contact named 'Nobody'")
            if name == "Slow":
                time.sleep(5)
            with self.lock:
                self.invoked.append((call.tool.name, dict(call.args)))
            if call.tool.name == "get_email_address":
                return f"{name.lower()}@example.com"
            return f"ok:{call.tool.name}"
        finally:
            with self.lock:
                self.running -= 1


async def approve(request):
    return Decision.APPROVE


def run(plan_text, backend=None, **kwargs):
    events = []
    backend = backend or RecordingBackend()
    kwargs.setdefault("approver", approve)
    ex = Executor(backend, emit=events.append, **kwargs)
    summary = asyncio.run(ex.run(load_plan(plan_text).tasks))
    return summary, events, backend


FAN_IN = (
    '1. get_email_address("Ann")\n2. get_email_address("Bob")\n3. get_email_address("Cy")\n'
    '4. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", ["$1", "$2", "$3"], "", None)\n'
    "5. join()<END_OF_PLAN>"
)


def test_independent_tasks_overlap_and_dependents_get_typed_outputs():
    summary, events, backend = run(FAN_IN, RecordingBackend(delay=0.2))
    assert summary.all_done
    assert backend.max_running == 3  # the three lookups ran at once: parallel, not serial
    invitees = [args for tool, args in backend.invoked if tool == "create_calendar_event"][0]["invitees"]
    assert invitees == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert isinstance(events[-1], PlanFinished)


def test_templates_interpolate_outputs_as_text():
    summary, _, backend = run('1. get_email_address("Ann")\n2. send_sms(["555"], "Mail $1 now")\n3. join()<END_OF_PLAN>')
    assert backend.invoked[-1][1]["message"] == "Mail ann@example.com now"


def test_failure_skips_dependents_but_independent_tasks_finish():
    text = ('1. get_email_address("Nobody")\n2. get_email_address("Bob")\n'
            '3. compose_new_email(["$1"], [], "s", "c", [])\n4. compose_new_email(["$2"], [], "s", "c", [])\n'
            "5. join()<END_OF_PLAN>")
    summary, events, _ = run(text)
    assert summary.statuses == {1: TaskStatus.FAILED, 2: TaskStatus.DONE, 3: TaskStatus.SKIPPED, 4: TaskStatus.DONE}
    assert summary.errors[1] == "no contact named 'Nobody'"
    assert "task 1 (get_email_address) failed" in summary.errors[3]
    assert not summary.all_done


def test_denied_task_skips_its_dependents_and_approve_all_stops_asking():
    asked = []

    async def approver(request):
        asked.append(request.task.id)
        return Decision.DENY if request.task.id == 2 else Decision.APPROVE_ALL

    text = ('1. get_email_address("Ann")\n2. create_note("n", "c", "")\n3. append_note_content("n", "$2", "")\n'
            '4. send_sms(["$1"], "hi")\n5. create_reminder("r", "", "", "", 0, False)\n6. join()<END_OF_PLAN>')
    summary, events, _ = run(text, approver=approver)
    assert summary.statuses[2] is TaskStatus.DENIED
    assert summary.statuses[3] is TaskStatus.SKIPPED
    assert summary.statuses[4] is TaskStatus.DONE and summary.statuses[5] is TaskStatus.DONE
    assert 1 not in asked  # read-only lookups are allowed by the default policy
    assert len(asked) == 2  # after "approve all" nothing more was asked
    denied = [e for e in events if isinstance(e, TaskFinished) and e.task_id == 2][0]
    assert denied.duration == 0.0  # the time a person took to decide is not the tool's
    requests = [e for e in events if isinstance(e, ApprovalRequested)]
    assert requests[0].summary.startswith(requests[0].tool)


def test_policy_can_deny_an_effect_outright_even_with_yes():
    policy = ApprovalPolicy(ApprovalConfig(send="deny"), yes=True)
    summary, _, backend = run('1. send_sms(["555"], "hi")\n2. create_note("a", "b", "")\n3. join()<END_OF_PLAN>',
                              policy=policy, approver=None)
    assert summary.statuses == {1: TaskStatus.DENIED, 2: TaskStatus.DONE}
    assert summary.errors[1] == "the approval policy denies send steps (approval.send: deny)"  # not the person's


def test_a_persons_denial_says_it_was_theirs():
    async def approver(request):
        return Decision.DENY

    summary, _, backend = run('1. send_sms(["555"], "hi")\n2. join()<END_OF_PLAN>', approver=approver)
    assert summary.statuses == {1: TaskStatus.DENIED} and backend.invoked == []
    assert summary.errors[1] == "you declined this step"


def test_safe_dry_run_runs_only_lookups_and_previews_the_rest():
    summary, events, backend = run(FAN_IN, dry_run=DryRun.SAFE)
    assert [t for t, _ in backend.invoked] == ["get_email_address"] * 3
    assert summary.statuses[4] is TaskStatus.DRY_RUN
    assert isinstance(summary.outputs[4], Pending)
    finished = [e for e in events if isinstance(e, TaskFinished) and e.task_id == 4][0]
    assert finished.args["invitees"] == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert "create_calendar_event" in (finished.error or "")  # the preview says what it would do


def test_lookup_on_an_unrun_output_is_not_executed_in_dry_run():
    text = '1. open_and_get_file_path("report")\n2. summarize_pdf("$1")\n3. join()<END_OF_PLAN>'
    summary, _, backend = run(text, dry_run=DryRun.SAFE)
    assert backend.invoked == []
    assert summary.statuses == {1: TaskStatus.DRY_RUN, 2: TaskStatus.DRY_RUN}


def test_strict_dry_run_runs_nothing_at_all():
    summary, _, backend = run(FAN_IN, dry_run=DryRun.STRICT)
    assert backend.invoked == [] and backend.prepared == []
    assert set(summary.statuses.values()) == {TaskStatus.DRY_RUN}


def test_timeout_fails_the_task_with_a_clear_message():
    summary, _, _ = run('1. get_phone_number("Slow")\n2. join()<END_OF_PLAN>', task_timeout=0.2)
    assert summary.statuses[1] is TaskStatus.FAILED
    assert "did not finish within 0.2 s" in summary.errors[1]


def test_tasks_start_while_the_plan_is_still_streaming():
    async def scenario():
        events = []
        ex = Executor(RecordingBackend(), emit=events.append, approver=approve)
        parser = PlanParser()
        for task in parser.feed('1. get_email_address("Ann")\n'):
            ex.add(task)
        for _ in range(20):  # the model is still "writing" line 2
            await asyncio.sleep(0.01)
            if any(isinstance(e, TaskFinished) and e.task_id == 1 for e in events):
                break
        finished_early = any(isinstance(e, TaskFinished) and e.task_id == 1 for e in events)
        for task in parser.feed('2. send_sms(["$1"], "x")\n3. join()<END_OF_PLAN>'):
            ex.add(task)
        summary = await ex.finish()
        return finished_early, summary

    finished_early, summary = asyncio.run(scenario())
    assert finished_early
    assert summary.all_done


def test_cancel_marks_running_and_waiting_tasks_cancelled_and_still_summarises():
    async def scenario():
        events = []
        ex = Executor(RecordingBackend(delay=0.5), emit=events.append, approver=approve)
        plan = load_plan(FAN_IN)
        for task in plan.tasks:
            ex.add(task)
        await asyncio.sleep(0.05)
        ex.cancel()
        summary = await ex.finish()
        return summary, events

    summary, events = asyncio.run(scenario())
    assert set(summary.statuses.values()) == {TaskStatus.CANCELLED}
    assert summary.cancelled
    assert sum(isinstance(e, PlanFinished) for e in events) == 1


def test_every_task_gets_exactly_one_start_and_finish_in_order():
    summary, events, _ = run(FAN_IN)
    for task_id in range(1, 5):
        kinds = [type(e) for e in events if getattr(e, "task_id", None) == task_id and isinstance(e, (TaskStarted, TaskFinished))]
        assert kinds == [TaskStarted, TaskFinished]


def test_preset_outputs_are_reused_without_running_again():
    async def scenario():
        backend = RecordingBackend()
        ex = Executor(backend, approver=approve)
        plan = load_plan('1. get_email_address("Ann")\n2. send_sms(["$1"], "x")\n3. join()<END_OF_PLAN>')
        ex.preset(plan.tasks[0], TaskStatus.DONE, "kept@example.com")
        ex.add(plan.tasks[1])
        return await ex.finish(), backend

    summary, backend = asyncio.run(scenario())
    assert [t for t, _ in backend.invoked] == ["send_sms"]
    assert backend.invoked[0][1]["recipients"] == ["kept@example.com"]


def test_a_backend_bug_is_reported_not_raised():
    class Broken(RecordingBackend):
        def invoke(self, call):
            raise ZeroDivisionError("oops")

    summary, _, _ = run('1. get_phone_number("a")\n2. join()<END_OF_PLAN>', Broken())
    assert summary.statuses[1] is TaskStatus.FAILED
    assert "ZeroDivisionError" in summary.errors[1]


def test_adding_the_same_id_twice_is_refused():
    async def scenario():
        ex = Executor(RecordingBackend(), approver=approve)
        task = load_plan('1. get_phone_number("a")\n2. join()<END_OF_PLAN>').tasks[0]
        ex.add(task)
        with pytest.raises(ValueError):
            ex.add(task)
        await ex.finish()

    asyncio.run(scenario())


def test_capabilities_are_declared_on_the_backend_interface_and_kept_by_the_request_wrapper():
    class Inline(RecordingBackend):
        runs_inline = True

        def __init__(self):
            super().__init__()
            self.threads: set[int] = set()

        def invoke(self, call: ToolCall):
            self.threads.add(threading.get_ident())
            return super().invoke(call)

    plain = RecordingBackend()
    assert (plain.runs_inline, plain.honours_guard) == (False, False)  # the interface's defaults
    assert BaseBackend.honours_guard is True  # every built-in backend claims its change first
    inline = Inline()
    wrapped = ForRequest(inline, "text Ann")
    assert (wrapped.name, wrapped.runs_inline, wrapped.honours_guard) == ("recording", True, False)
    summary, _, _ = run('1. get_email_address("Ann")\n2. get_email_address("Bob")\n3. join()<END_OF_PLAN>', wrapped)
    assert summary.all_done
    assert inline.threads == {threading.get_ident()}  # on the executor's own loop: no worker thread
