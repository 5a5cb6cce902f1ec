"""The executor's gate against the real sandbox: a stop never calls a sent message cancelled;
an approver that answers nonsense or raises makes the step fail, not run; "approve the rest"
never overrules a policy that denies (that was a bug: the SMS was sent)."""
from __future__ import annotations

import asyncio

import pytest

from tests.integration import test_ghost_writes as ghost
from tests.integration.test_ghost_writes import sms_count, wait_for_tool_threads
from tinyagent.core.approval import Decision
from tinyagent.core.events import Event, TaskStatus
from tinyagent.core.executor import Executor
from tinyagent.core.parser import load_plan
from tinyagent.tools.sandbox import SandboxBackend


class SlowAfterCommit(ghost.SlowAfterCommit):
    """The SMS is stored, then the call dawdles 1.5 s: within the 3 s grace a stop waits."""

    dawdle = 1.5


async def approve(request):
    return Decision.APPROVE


@pytest.mark.parametrize("presses, truths", [(1, {TaskStatus.DONE}), (2, {TaskStatus.DONE, TaskStatus.UNKNOWN})])
def test_a_stop_after_the_sms_was_stored_never_calls_it_cancelled(tmp_path, presses, truths):
    """Once: the call finishes within the grace, so it is done. Twice: done, or unknown if
    the second press stops the wait; never cancelled, for a message that was sent."""
    backend = SlowAfterCommit(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def main():
        ex = Executor(backend, emit=events.append, approver=approve, task_timeout=30)
        run = asyncio.create_task(ex.run(load_plan('1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>').tasks))
        await asyncio.sleep(0.5)  # the SMS is committed; the call is still busy
        for _ in range(presses):  # the user presses stop
            run.cancel()
            await asyncio.sleep(0.1)
        with pytest.raises(asyncio.CancelledError):
            await run
        return ex.summary

    summary = asyncio.run(main())
    wait_for_tool_threads()
    assert sms_count(backend.db_path) - before == 1
    assert summary.statuses[1] in truths, (summary.statuses, summary.errors)


def _run(backend, text, approver, events):
    async def main():
        ex = Executor(backend, emit=events.append, approver=approver, task_timeout=30)
        return await ex.run(load_plan(text).tasks)
    return asyncio.run(main())


@pytest.mark.parametrize("answer", [None, True, "yes", 1, object()])
def test_approver_answering_something_that_is_not_a_decision(tmp_path, answer):
    backend = SandboxBackend(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def approver(request):
        return answer

    summary = _run(backend, '1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>', approver, events)
    assert sms_count(backend.db_path) == before
    assert summary.statuses[1] in (TaskStatus.DENIED, TaskStatus.FAILED)


def test_approver_raising(tmp_path):
    backend = SandboxBackend(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def approver(request):
        raise OSError("the terminal went away")

    summary = _run(backend, '1. send_sms(["+1 415 555 0101"], "hi")\n2. send_sms(["+1 415 555 0102"], "yo")\n'
                            '3. join()<END_OF_PLAN>', approver, events)
    assert sms_count(backend.db_path) == before
    assert set(summary.statuses.values()) <= {TaskStatus.DENIED, TaskStatus.FAILED}
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("TaskStarted") == kinds.count("TaskFinished") - 0 and kinds[-1] == "PlanFinished"


def test_approver_raising_base_exception(tmp_path):
    """KeyboardInterrupt inside an approver (Ctrl-C at the y/n prompt)."""
    backend = SandboxBackend(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def approver(request):
        raise KeyboardInterrupt

    try:
        _run(backend, '1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>', approver, events)
    except KeyboardInterrupt:
        pass
    assert sms_count(backend.db_path) == before


def test_approve_all_does_not_override_a_policy_that_denies_sends(tmp_path):
    from tinyagent.core.approval import ApprovalPolicy
    from tinyagent.core.config import ApprovalConfig

    backend = SandboxBackend(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)

    async def approver(request):  # "approve all remaining" on the first question
        return Decision.APPROVE_ALL

    async def main():
        ex = Executor(backend, approver=approver, policy=ApprovalPolicy(ApprovalConfig(send="deny")))
        # the send waits for the note (it sends the note's confirmation), so it is asked second
        return await ex.run(load_plan('1. create_note("Plan", "call mum", "")\n'
                                      '2. send_sms(["+1 415 555 0101"], "$1")\n3. join()<END_OF_PLAN>').tasks)

    summary = asyncio.run(main())
    assert summary.statuses[1] is TaskStatus.DONE
    assert summary.statuses[2] is TaskStatus.DENIED, (summary.statuses, summary.errors)
    assert sms_count(backend.db_path) == before
