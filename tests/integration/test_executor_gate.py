"""The executor's gate against the real sandbox: a stop never calls a sent message cancelled;
an approver that answers nonsense or raises makes the step fail, not run; "approve the rest"
never overrules a policy that denies (that was a bug: the SMS was sent)."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from core.approval import Decision
from core.events import Event, TaskFinished, TaskStatus
from core.executor import Executor
from core.parser import load_plan
from tools.sandbox import SandboxBackend


def sms_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM sms").fetchone()[0]
    finally:
        conn.close()


def wait_for_tool_threads(limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while any(t.name == "tinyagent-tool" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)


class SlowAfterCommit(SandboxBackend):
    """The SMS is stored, then the call dawdles (slow bookkeeping)."""

    def run_tool(self, run, call, a):
        out = super().run_tool(run, call, a)
        if call.tool.name == "send_sms":
            time.sleep(1.5)
        return out


async def approve(request):
    return Decision.APPROVE


def test_stopping_twice_never_reports_a_sent_sms_as_cancelled(tmp_path):
    backend = SlowAfterCommit(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def main():
        ex = Executor(backend, emit=events.append, approver=approve, task_timeout=30)
        run = asyncio.create_task(ex.run(load_plan('1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>').tasks))
        await asyncio.sleep(0.5)  # the SMS is committed; the call is still busy
        run.cancel()  # the user presses stop ...
        await asyncio.sleep(0.1)
        run.cancel()  # ... and presses it again
        with pytest.raises(asyncio.CancelledError):
            await run
        return ex.summary

    summary = asyncio.run(main())
    wait_for_tool_threads()
    sent = sms_count(backend.db_path) - before
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert sent == 1
    assert summary.statuses[1] in (TaskStatus.DONE, TaskStatus.UNKNOWN), (summary.statuses, summary.errors, finished)


def test_one_stop_reports_a_write_that_finished_within_the_grace_as_done(tmp_path):
    """_call: "if its change had begun, we wait briefly for how it ended and report that: done when it finished"."""
    backend = SlowAfterCommit(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    before = sms_count(backend.db_path)
    events: list[Event] = []

    async def main():
        ex = Executor(backend, emit=events.append, approver=approve, task_timeout=30)
        run = asyncio.create_task(ex.run(load_plan('1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>').tasks))
        await asyncio.sleep(0.5)  # the SMS is committed; the call finishes 1 s later (grace: 3 s)
        run.cancel()  # the user presses stop once
        with pytest.raises(asyncio.CancelledError):
            await run
        return ex.summary

    summary = asyncio.run(main())
    wait_for_tool_threads()
    assert sms_count(backend.db_path) - before == 1
    assert summary.statuses[1] is TaskStatus.DONE, (summary.statuses, summary.errors)


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
    from core.approval import ApprovalPolicy
    from core.config import ApprovalConfig

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
