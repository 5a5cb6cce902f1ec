"""Run a plan as a DAG: each task starts the moment its last dependency finishes.

Event-driven, no polling: every task is an asyncio task that awaits its dependencies'
completion futures. Tasks can be added while the plan is still streaming in. Blocking tool
work (osascript, SQLite, PDF reading) runs in a thread pool so independent tasks overlap.

    executor = Executor(backend, emit=print)
    summary = await executor.run(plan.tasks)       # or add() while streaming, then finish()
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from tinyagent.core.approval import ApprovalPolicy, ApprovalRequest, Approver, Decision, deny_all
from tinyagent.core.events import (
    ApprovalRequested,
    ApprovalResolved,
    EventSink,
    Notice,
    PlanFinished,
    PlanStarted,
    RunSummary,
    TaskAdded,
    TaskFinished,
    TaskStarted,
    TaskStatus,
    null_sink,
)
from tinyagent.core.plan import Ref, Task, Template, Value
from tinyagent.core.work_ledger import AttemptLedger
from tinyagent.tools.backend import Backend, CallStopped, OutcomeUnknown, ToolCall, ToolError
from tinyagent.tools.registry import LIST_STR, REGISTRY, ToolSpec


class DryRun(str, Enum):
    OFF = "off"  # everything runs (through the approval gate)
    SAFE = "safe"  # read-only lookups run, so arguments resolve; nothing that changes anything
    STRICT = "strict"  # nothing runs at all


class Pending(str):
    """Stands in for the output of a task that did not run (dry-run); still usable as text."""


_OK = (TaskStatus.DONE, TaskStatus.DRY_RUN)
# How long a stopped call whose change had already begun may take to say how it ended.
OUTCOME_GRACE_S = 3.0


def run_in_daemon_thread(fn: Callable[..., Any], *args: Any, slots: threading.Semaphore | None = None) -> asyncio.Future:
    """`fn(*args)` in a daemon thread, as a future of the running loop.

    Not a ThreadPoolExecutor: its threads are joined at exit, so one stuck tool call (a locked
    database, a hung osascript) would keep the process alive after Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        if slots is not None:
            slots.acquire()
        try:
            result, ok = fn(*args), True
        except BaseException as exc:  # handed to the awaiting task, never lost in the thread
            result, ok = exc, False
        finally:
            if slots is not None:
                slots.release()
        try:
            loop.call_soon_threadsafe(settle, ok, result)
        except RuntimeError:  # the loop is gone (the process is exiting): nobody is waiting
            pass

    threading.Thread(target=work, name="tinyagent-tool", daemon=True).start()
    return future


class Executor:
    def __init__(
        self,
        backend: Backend,
        *,
        emit: EventSink = null_sink,
        approver: Approver = deny_all,
        policy: ApprovalPolicy | None = None,
        dry_run: DryRun | str = DryRun.OFF,
        task_timeout: float = 30.0,
        registry: Mapping[str, ToolSpec] = REGISTRY,
        max_workers: int = 8,
        run_id: str | None = None,
        attempt: int = 1,
        plan_timeout: float | None = None,
        earlier: AttemptLedger | None = None,
    ):
        self.backend = backend
        # Changes earlier attempts of the same request made (or may have made), by the call as
        # prepared: tool and resolved arguments. A replan that writes the same change another
        # way (a name where a lookup was) gets that outcome instead of making it twice.
        self.earlier = earlier
        self.changes: dict[int, str] = {}  # task id -> the change this run invoked (done or not)
        self.reused: set[int] = set()  # tasks answered by an earlier attempt's change
        self.emit = emit
        self.approver = approver
        self.policy = policy or ApprovalPolicy()
        self.dry_run = DryRun(dry_run)
        self.task_timeout = task_timeout
        self.registry = registry
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.attempt = attempt
        self.statuses: dict[int, TaskStatus] = {}
        self.outputs: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.tasks: dict[int, Task] = {}
        self._done: dict[int, asyncio.Future[None]] = {}
        self._handles: dict[int, asyncio.Task[None]] = {}
        self._approval_lock: asyncio.Lock | None = None
        self._approve_all = False
        self._started_at: float | None = None
        self._summary: RunSummary | None = None
        self._cancelled = False
        self._inline = backend.runs_inline
        self._slots = threading.Semaphore(max_workers)
        self.plan_timeout = plan_timeout  # seconds the whole run may take (timeouts.plan)
        self._approval_seconds = 0.0  # time spent waiting for a person: not the plan's
        self._asking_since: float | None = None
        self._honours_guard = backend.honours_guard
        self._last_args: dict[int, dict[str, Any]] = {}

    # -- feeding ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started_at is None:
            self._started_at = time.monotonic()
            self._approval_lock = asyncio.Lock()
            self.emit(PlanStarted(self.run_id, self.dry_run.value, self.attempt))

    def add(self, task: Task) -> None:
        """Schedule a task now; it runs as soon as its dependencies are done."""
        self.start()
        if task.id in self.tasks:
            raise ValueError(f"task {task.id} was added twice")
        loop = asyncio.get_running_loop()
        self.tasks[task.id] = task
        self.statuses[task.id] = TaskStatus.WAITING
        self._done[task.id] = loop.create_future()
        self.emit(TaskAdded(task))
        if self._cancelled:
            self._finish(task, TaskStatus.CANCELLED, error="the run was cancelled")
            return
        self._handles[task.id] = loop.create_task(self._run(task), name=f"task-{task.id}")

    def preset(self, task: Task, status: TaskStatus, output: Any = None, error: str | None = None) -> None:
        """Record a task that already ran in an earlier attempt (replanning never repeats work)."""
        self.start()
        loop = asyncio.get_running_loop()
        self.tasks[task.id] = task
        self._done[task.id] = loop.create_future()
        self.emit(TaskAdded(task))
        self._finish(task, status, output=output, error=error)

    async def finish(self) -> RunSummary:
        """Wait for every added task, then emit PlanFinished (exactly once)."""
        self.start()
        try:
            if self._handles:
                await self._wait_within_plan_timeout()
                await asyncio.gather(*self._handles.values(), return_exceptions=True)
        except asyncio.CancelledError:
            self.cancel()
            await asyncio.gather(*self._handles.values(), return_exceptions=True)
            raise
        finally:
            self._close()
        return self._summary  # type: ignore[return-value]

    async def run(self, tasks: Iterable[Task] | AsyncIterable[Task]) -> RunSummary:
        self.start()
        try:
            if isinstance(tasks, AsyncIterable):
                async for task in tasks:
                    self.add(task)
            else:
                for task in tasks:
                    self.add(task)
        except asyncio.CancelledError:
            self.cancel()
            await self.finish()
            raise
        return await self.finish()

    async def _wait_within_plan_timeout(self) -> None:
        """Cancel what is still running once the run has taken `plan_timeout` seconds, not
        counting the time a person spent deciding on an approval."""
        if self.plan_timeout is None:
            return
        while True:
            pending = [h for h in self._handles.values() if not h.done()]
            if not pending:
                return
            spent = time.monotonic() - (self._started_at or time.monotonic()) - self._approval_seconds
            left = self.plan_timeout - spent
            if self._asking_since is not None:
                left = max(left, 1.0)  # someone is deciding right now: look again later
            elif left <= 0:
                self.emit(Notice("error", f"the plan ran past timeouts.plan ({self.plan_timeout:g} s): "
                                          f"stopping the {len(pending)} unfinished task(s)"))
                self.cancel()
                return
            await asyncio.wait(pending, timeout=left)

    def cancel(self) -> None:
        """Stop running tasks and mark every unfinished one cancelled."""
        self._cancelled = True
        for handle in self._handles.values():
            handle.cancel()

    @property
    def summary(self) -> RunSummary | None:
        return self._summary

    # -- one task ----------------------------------------------------------------------------
    async def _run(self, task: Task) -> None:
        try:
            for dep in task.deps:
                if dep not in self._done:
                    self._finish(task, TaskStatus.FAILED, error=f"refers to ${dep}, but there is no task {dep}")
                    return
                done = self._done[dep]
                if not done.done():
                    await asyncio.shield(done)  # our cancellation must not cancel the shared future
            blocked = [d for d in task.deps if self.statuses[d] not in _OK]
            if blocked:
                self._finish(task, TaskStatus.SKIPPED, error=self._blocked_reason(blocked))
                return
            await self._execute(task)
        except asyncio.CancelledError:
            self._finish(task, TaskStatus.CANCELLED, error="the run was cancelled")
        except OutcomeUnknown as exc:  # stopped mid-change: never claim it failed (or that it ran)
            self._finish(task, TaskStatus.UNKNOWN, error=str(exc), args=self._last_args.get(task.id))
        except ToolError as exc:
            self._finish(task, TaskStatus.FAILED, error=str(exc), args=self._last_args.get(task.id))
        except Exception as exc:  # a bug in a backend must not take the run down
            self._finish(task, TaskStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}")

    async def _execute(self, task: Task) -> None:
        spec = self.registry.get(task.tool)
        if spec is None:
            self._finish(task, TaskStatus.FAILED, error=f"unknown tool {task.tool!r}")
            return
        if not spec.takes(len(task.args)):
            self._finish(task, TaskStatus.FAILED, error=f"{spec.name} takes {spec.arity_words} arguments, "
                                                          f"got {len(task.args)}")
            return
        # Trailing optional parameters the plan left out are not in `args` at all (not None):
        # an MCP server then applies its own default.
        args = {p.name: self._resolve_param(p.type, v) for p, v in zip(spec.params, task.args)}
        self._last_args[task.id] = args
        call = ToolCall(spec, args, dry_run=self.dry_run is not DryRun.OFF)
        self.statuses[task.id] = TaskStatus.RUNNING
        self.emit(TaskStarted(task.id, task.tool, args))
        started = time.monotonic()

        unresolved = any(_has_pending(v) for v in args.values())
        if self.dry_run is DryRun.STRICT or (
            self.dry_run is DryRun.SAFE and (spec.effect.changes_something or unresolved)
        ):
            if self.dry_run is DryRun.SAFE and not unresolved:
                call = await self._call(self.backend.prepare, call)  # preview only; prepare changes nothing
            self._finish(task, TaskStatus.DRY_RUN, output=Pending(f"<{task.tool} output of ${task.id}>"),
                         started=started, args=args, error=call.summary or None)
            return

        call = await self._call(self.backend.prepare, call)
        change = change_key(call) if spec.effect.changes_something else None
        if change is not None:
            earlier = self.earlier.take_change(change) if self.earlier is not None else None
            if earlier is not None:
                self.reused.add(task.id)
                if earlier.done:
                    self._finish(task, TaskStatus.DONE, output=earlier.value, args=args)
                else:
                    self._finish(task, TaskStatus.UNKNOWN, error=f"{earlier.value} (not repeated)", args=args)
                return
        decision, why = await self._approve(task, call)
        if decision is Decision.DENY:
            self._finish(task, TaskStatus.DENIED, error=why, args=args)  # it never ran
            return
        started = time.monotonic()  # the time spent waiting for a person is not the tool's
        if change is not None:
            self.changes[task.id] = change
        output = await self._call(self.backend.invoke, call, changes=spec.effect.changes_something)
        self._finish(task, TaskStatus.DONE, output=output, started=started, args=args)

    async def _call(self, fn: Callable[[ToolCall], Any], call: ToolCall, *, changes: bool = False) -> Any:
        """Run a backend step in a worker thread, within the task timeout.

        A step that outlives its timeout or a cancellation is abandoned through its CallGuard.
        If the backend confirms nothing changed, it failed (or was cancelled) truthfully; if its
        change had begun, we wait briefly for how it ended and report that: done when it
        finished, "unknown" when nobody can tell. Never "failed" and then done.
        """
        if self._inline:
            return fn(call)
        future = run_in_daemon_thread(fn, call, slots=self._slots)
        cancelled = False
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.task_timeout)
        except (asyncio.TimeoutError, TimeoutError):
            why = f"{call.tool.name} did not finish within {self.task_timeout:g} s"
        except asyncio.CancelledError:
            why, cancelled = "the run was cancelled", True
        stopped = call.guard.abandon()
        if not changes or (stopped and self._honours_guard):
            future.add_done_callback(_drop_result)
            if cancelled:
                raise asyncio.CancelledError
            raise ToolError(why + ("; nothing was changed" if changes else ""))
        try:  # its change may be under way: its own ending is the only truth
            return await asyncio.wait_for(asyncio.shield(future), OUTCOME_GRACE_S)
        except CallStopped:
            if cancelled:
                raise asyncio.CancelledError from None
            raise ToolError(why + "; nothing was changed") from None
        except OutcomeUnknown:
            raise
        except ToolError as exc:
            raise ToolError(f"{why}, then: {exc}") from None
        except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
            future.add_done_callback(_drop_result)
            raise OutcomeUnknown(f"{why} and was stopped while it may have been changing something: it may or "
                                 f"may not have happened; check before trying again") from None

    async def _approve(self, task: Task, call: ToolCall) -> tuple[Decision, str]:
        """The decision and, for a denial, whose it was: the config's or the person's."""
        rule = self.policy.decide(call.tool.effect)
        if rule == "deny":  # first: neither --yes nor "approve the rest" overrules the config
            self.emit(ApprovalResolved(task.id, "deny"))
            effect = call.tool.effect.value
            return Decision.DENY, f"the approval policy denies {effect} steps (approval.{effect}: deny)"
        if rule == "allow" or self._approve_all:
            return Decision.APPROVE, ""
        assert self._approval_lock is not None
        async with self._approval_lock:  # one question at a time
            if self._approve_all:
                return Decision.APPROVE, ""
            self.statuses[task.id] = TaskStatus.AWAITING_APPROVAL
            self.emit(ApprovalRequested(task.id, task.tool, call.tool.effect.value, dict(call.args),
                                        call.summary, dict(call.extras)))
            self._asking_since = time.monotonic()
            try:
                decision = Decision(await self.approver(ApprovalRequest(task, call)))
            finally:
                self._approval_seconds += time.monotonic() - self._asking_since
                self._asking_since = None
            self.statuses[task.id] = TaskStatus.RUNNING
            self.emit(ApprovalResolved(task.id, decision.value))
            if decision is Decision.APPROVE_ALL:
                self._approve_all = True
            return decision, "you declined this step" if decision is Decision.DENY else ""

    # -- bookkeeping ---------------------------------------------------------------------------
    def _finish(self, task: Task, status: TaskStatus, *, output: Any = None, error: str | None = None,
                started: float | None = None, args: dict[str, Any] | None = None) -> None:
        done = self._done[task.id]
        if done.done():
            return
        self.statuses[task.id] = status
        if status in _OK:
            self.outputs[task.id] = output
        if error and status is not TaskStatus.DRY_RUN:
            self.errors[task.id] = error
        duration = time.monotonic() - started if started is not None else 0.0
        self.emit(TaskFinished(task.id, task.tool, status, output, error, duration, args))
        done.set_result(None)

    def _blocked_reason(self, blocked: list[int]) -> str:
        words = {TaskStatus.FAILED: "failed", TaskStatus.SKIPPED: "was skipped", TaskStatus.DENIED: "was declined",
                 TaskStatus.CANCELLED: "was cancelled", TaskStatus.UNKNOWN: "may or may not have happened"}
        parts = [f"task {d} ({self.tasks[d].tool}) {words.get(self.statuses[d], self.statuses[d].value)}" for d in blocked]
        return "skipped because " + " and ".join(parts)

    def _close(self) -> None:
        if self._summary is not None:
            return
        for task_id, task in self.tasks.items():
            if not self._done[task_id].done():
                self._finish(task, TaskStatus.CANCELLED, error="the run was cancelled")
        duration = time.monotonic() - (self._started_at or time.monotonic())
        self._summary = RunSummary(self.run_id, dict(self.statuses), dict(self.outputs), dict(self.errors),
                                   duration, self._cancelled)
        self.emit(PlanFinished(self._summary))

    # -- arguments ----------------------------------------------------------------------------
    def _resolve(self, value: Value) -> Any:
        if isinstance(value, Ref):
            return self.outputs.get(value.task_id)
        if isinstance(value, Template):
            parts = [_as_text(self.outputs.get(p.task_id)) if isinstance(p, Ref) else p for p in value.parts]
            text = "".join(parts)
            pending = any(isinstance(p, Ref) and isinstance(self.outputs.get(p.task_id), Pending) for p in value.parts)
            return Pending(text) if pending else text
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        return value

    def _resolve_param(self, type_: str, value: Value) -> Any:
        resolved = self._resolve(value)
        if type_ == LIST_STR and isinstance(value, Ref) and not isinstance(resolved, list):
            return [resolved]  # one output used as a whole list
        return resolved


def _drop_result(future: asyncio.Future) -> None:
    """Retrieve an abandoned call's late result so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    return "" if value is None else str(value)


def _has_pending(value: Any) -> bool:
    if isinstance(value, Pending):
        return True
    if isinstance(value, list):
        return any(_has_pending(v) for v in value)
    return False


def change_key(call: ToolCall) -> str:
    """The change a prepared call makes: its tool and resolved arguments, as one string."""
    return json.dumps([call.tool.name, call.args], sort_keys=True, default=str, ensure_ascii=False)
