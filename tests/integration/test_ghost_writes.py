"""A step's reported status is the truth: fault tests against the real sandbox and a fake osascript.

A write that outlives its timeout or a cancellation must either be stopped before it changes
anything (and reported failed/cancelled) or be reported done (or "unknown" when nobody can
tell): after the dust settles the sandbox holds exactly what the report says.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tinyagent.core.events import TaskStatus, null_sink
from tinyagent.core.executor import Executor
from tinyagent.core.parser import load_plan
from tinyagent.core.plan import Task
from tinyagent.core.planner.planner import Planner, PlanResponse
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import CallGuard, CallStopped, OutcomeUnknown
from tinyagent.tools.registry import REGISTRY
from tinyagent.tools.sandbox import SandboxBackend
from tinyagent.tools.sandbox.store import Store

ROOT = Path(__file__).resolve().parents[2]
SMS_PLAN = ('1. send_sms(["+1 415 555 0101"], "one")\n2. send_sms(["+1 415 555 0102"], "two")\n'
            '3. send_sms(["+1 415 555 0103"], "three")\n4. join()<END_OF_PLAN>')


async def approve(request):
    return "approve"


def sms_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM sms").fetchone()[0]
    finally:
        conn.close()


class HeldLock:
    """Another writer holding the sandbox's write lock, as a busy app or a second process would."""

    def __init__(self, db: Path):
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def wait_for_tool_threads(limit: float = 20.0) -> None:
    """Let abandoned worker threads reach their end (they finish in the background)."""
    deadline = time.monotonic() + limit
    while any(t.name == "tinyagent-tool" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a tool thread never ended"
        time.sleep(0.05)


@pytest.fixture
def sandbox(tmp_path) -> SandboxBackend:
    backend = SandboxBackend(tmp_path / "sandbox.db")
    backend.store.ensure_ready()
    return backend


def run_plan(backend, text: str, **kwargs):
    ex = Executor(backend, approver=approve, **kwargs)
    return asyncio.run(ex.run(load_plan(text).tasks))


def test_guard_decides_once_between_abandon_and_begin():
    guard = CallGuard()
    assert guard.abandon() is True
    with pytest.raises(CallStopped):
        guard.begin_effect()
    started = CallGuard()
    started.begin_effect()
    assert started.abandon() is False  # its change began: the caller must wait for the outcome
    stops = []
    late = CallGuard()
    late.on_abandon(lambda: stops.append(1))
    late.abandon()
    late.on_abandon(lambda: stops.append(2))  # registered after: runs at once
    assert stops == [1, 2]


def test_timed_out_write_behind_a_held_lock_never_lands(sandbox):
    before = sms_count(sandbox.db_path)
    lock = HeldLock(sandbox.db_path)
    try:
        summary = run_plan(sandbox, '1. send_sms(["+1 415 555 0101"], "late")\n2. join()<END_OF_PLAN>',
                           task_timeout=0.5)
    finally:
        time.sleep(0.5)
        lock.release()  # the stuck writer now gets the lock, and must roll back
    wait_for_tool_threads()
    assert summary.statuses[1] is TaskStatus.FAILED
    assert "nothing was changed" in summary.errors[1]
    assert sms_count(sandbox.db_path) == before


class SlowAfterCommit(SandboxBackend):
    """The SMS is stored, then the call dawdles past its timeout (slow bookkeeping, a slow disk)."""

    dawdle = 2.5

    def run_tool(self, run, call, a):
        out = super().run_tool(run, call, a)
        if call.tool.name == "send_sms":
            time.sleep(self.dawdle)
        return out


def test_write_that_committed_before_its_timeout_is_reported_done(tmp_path):
    backend = SlowAfterCommit(tmp_path / "sandbox.db")
    # Seed the new sandbox first, so that on a busy machine the send still begins well inside
    # its timeout (a call abandoned before it begins is rightly reported as changing nothing).
    run_plan(backend, '1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>')
    before = sms_count(backend.db_path)
    summary = run_plan(backend, '1. send_sms(["+1 415 555 0101"], "made it")\n2. join()<END_OF_PLAN>',
                       task_timeout=1.0)
    wait_for_tool_threads()
    assert summary.statuses[1] is TaskStatus.DONE, summary.errors
    assert "Sent to" in summary.outputs[1]
    assert sms_count(backend.db_path) == before + 1


def test_cancelled_run_leaves_exactly_the_reported_writes(sandbox):
    before = sms_count(sandbox.db_path)
    lock = HeldLock(sandbox.db_path)

    async def main():
        ex = Executor(sandbox, approver=approve, task_timeout=30)
        run = asyncio.create_task(ex.run(load_plan(SMS_PLAN).tasks))
        await asyncio.sleep(0.5)  # all three are waiting for the lock now
        ex.cancel()
        return await run

    try:
        summary = asyncio.run(main())
    finally:
        lock.release()
    wait_for_tool_threads()
    done = [i for i, s in summary.statuses.items() if s is TaskStatus.DONE]
    assert all(s in (TaskStatus.CANCELLED, TaskStatus.DONE) for s in summary.statuses.values())
    assert sms_count(sandbox.db_path) == before + len(done)
    assert done == []  # none could have begun: all were behind the lock


def test_ctrl_c_exits_promptly_and_the_sandbox_shows_what_was_reported(tmp_path):
    home = tmp_path / "home"
    db = home / "data" / "sandbox" / "sandbox.db"
    SandboxBackend(db).store.ensure_ready()
    before = sms_count(db)
    plan = tmp_path / "plan.txt"
    plan.write_text(SMS_PLAN)
    lock = HeldLock(db)
    # ROOT, and wherever this process found tinyagent on PYTHONPATH (when it is not installed)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TINYAGENT_HOME": str(home), "PYTHONPATH": path}
    proc = subprocess.Popen([sys.executable, "-m", "tinyagent.core.cli", "run-plan", str(plan), "--yes", "--json",
                             "--backend", "sandbox"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        while sum('"task_started"' in line for line in lines) < 3:  # all three wait for the lock now
            line = proc.stdout.readline()
            assert line, f"the run ended early: {proc.stderr.read()}"
            lines.append(line)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        # The tools wait for the lock, which is held until the run has exited: a run that waited
        # for them instead of stopping would never exit, and this times out.
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        lock.release()
    out = "".join(lines) + out
    time.sleep(1.0)  # nothing may land afterwards either
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    finished = [json.loads(line) for line in out.splitlines() if '"task_finished"' in line]
    done = [e for e in finished if e["status"] == "done"]
    assert sms_count(db) == before + len(done)


# -- AppleScript: the child is killed and the report says the script may have run ---------------
FAKE = f"""#!{sys.executable}
import os, sys, time
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
time.sleep(30)
"""


@pytest.fixture
def slow_osascript(tmp_path, monkeypatch):
    exe = tmp_path / "osascript"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "log"))
    return exe


def test_abandoned_osascript_write_is_killed_and_reported_unknown(slow_osascript):
    backend = AppleScriptBackend(osascript=str(slow_osascript), timeout=20)
    started = time.monotonic()
    summary = run_plan(backend, '1. send_sms(["+1 415 555 0101"], "hi")\n2. open_note("Packing", "")\n'
                                '3. join()<END_OF_PLAN>', task_timeout=0.5)
    # The scripts sleep 30 s and the backend's own timeout is 20 s: well under that, they were
    # killed at the task timeout, not waited for (a bound loose enough for a loaded machine).
    assert time.monotonic() - started < 15
    wait_for_tool_threads()
    assert summary.statuses[1] is TaskStatus.UNKNOWN
    assert "may or may not have happened" in summary.errors[1]
    assert summary.statuses[2] is TaskStatus.FAILED  # a lookup changes nothing: a plain failure


def test_osascript_write_past_its_own_timeout_is_unknown_not_failed(slow_osascript):
    backend = AppleScriptBackend(osascript=str(slow_osascript), timeout=0.5)
    summary = run_plan(backend, '1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>', task_timeout=10)
    assert summary.statuses[1] is TaskStatus.UNKNOWN
    assert "check Messages" in summary.errors[1]


def test_osascript_argument_over_the_os_limit_is_a_clear_error(slow_osascript):
    backend = AppleScriptBackend(osascript=str(slow_osascript), timeout=5)
    task = Task(1, "send_sms", (["+1 415 555 0101"], "x" * 200_000))
    summary = asyncio.run(Executor(backend, approver=approve, task_timeout=10).run([task]))
    assert summary.statuses[1] is TaskStatus.FAILED
    assert "at most 100 KiB per argument" in summary.errors[1]


def test_many_first_time_seeders_at_once_all_succeed(tmp_path):
    for trial in range(30):  # the old race showed in about 1 trial of 30
        db = tmp_path / f"t{trial}" / "sandbox.db"
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def seed(db=db, barrier=barrier, errors=errors):
            store = Store(db)  # one per "process": no shared in-memory lock
            barrier.wait()
            try:
                store.ensure_ready()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=seed) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM meta").fetchone()[0] == 1
        conn.close()


def test_status_unknown_has_a_mark_in_every_front_end():
    from tinyagent.core.cli.render import _MARK
    from tinyagent.tui.widgets.graph_layout import ICONS, LABELS

    for status in TaskStatus:
        assert status in ICONS and status in LABELS
        if status.finished and status is not TaskStatus.DONE:
            assert status in _MARK


# -- replans never repeat a write whose outcome is unknown ------------------------------------------
class ScriptedPlanner(Planner):
    """The real planner class, streaming a fixed plan instead of asking a model."""

    def __init__(self, text: str):
        from tinyagent.core.config import Config

        super().__init__(None, config=Config(backend="sandbox"))
        self.scripted = text

    def stream_plan(self, query, tools, examples, *, emit=null_sink, today=None, now=None, instructions=None, context=""):
        async def chunks():
            yield self.scripted

        every_tool = list(REGISTRY.values())
        return PlanResponse(self.render(query, every_tool, []), chunks(), every_tool, emit=emit)


class StopsMidSend(SandboxBackend):
    """osascript-like: the send began and was killed, so nobody knows whether it went out."""

    sends = 0

    def run_tool(self, run, call, a):
        if call.tool.name != "send_sms":
            return super().run_tool(run, call, a)
        StopsMidSend.sends += 1
        raise OutcomeUnknown("send_sms: stopped while Messages was working on it")


def test_a_replan_never_repeats_a_write_whose_outcome_is_unknown(tmp_path):
    from tinyagent.core.config import Config
    from tinyagent.core.pipeline import Pipeline
    from tinyagent.core.planner.profiles import PROFILE_TABLE
    from tinyagent.core.request_run import RequestOptions, RequestRun

    backend = StopsMidSend(tmp_path / "sandbox.db")
    pipeline = Pipeline(Config(backend="sandbox"), backend=backend)
    text = '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'
    run = RequestRun("Text Sarah", RequestOptions(yes=True), tools=[], examples=[], profile=PROFILE_TABLE["compact"],
                     replans=1)

    async def attempt():
        _response, summary = await pipeline._attempt(ScriptedPlanner(text), run, run.next_attempt(), backend,
                                                     lambda e: None, approve)
        return summary

    first = asyncio.run(attempt())
    assert first.statuses == {1: TaskStatus.DONE, 2: TaskStatus.UNKNOWN}
    second = asyncio.run(attempt())
    assert second.statuses[2] is TaskStatus.UNKNOWN and "not repeated" in second.errors[2]
    assert StopsMidSend.sends == 1
