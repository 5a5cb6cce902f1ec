"""One run at a time, from claiming it to saving it in the history: plain code, no widgets.

The controller owns whether a run is going (`busy`), the record of the run on screen, the
bridge its events come in by, the plan last shown, the pipeline (built on first use) and the
history. The app starts `request` or `plan` in a worker once `claim` took the run; what the
person sees while a run goes is the view's (the main screen's).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol

from textual.message_pump import MessagePump

from tinyagent.core.approval import Approver
from tinyagent.core.events import AnswerReady, Event, Notice, PlanFinished, StageTiming
from tinyagent.core.executor import DryRun
from tinyagent.core.history import HistoryEntry
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.plan import Plan, Task
from tinyagent.core.toolbox import built_in_registry
from tinyagent.tools.registry import ToolSpec
from tinyagent.tui.messages import EventBridge, RunDone
from tinyagent.tui.run_record import RunRecord
from tinyagent.tui.services import Services

TOKEN_INTERVAL = 1 / 30  # plan text is drawn at most this often; tokens in between are batched
HISTORY_SHOWN = 200  # entries the history screen lists


class RunView(Protocol):
    """What a run shows while its worker goes (the main screen does it)."""

    def show_activity(self, what: str) -> None: ...

    def choosing_tools(self) -> None: ...

    def run_stopped(self, message: str) -> None: ...


class RunController:
    def __init__(self, services: Services, target: MessagePump, view: RunView) -> None:
        self.services = services
        self.target = target  # the app: each run's events and its RunDone are posted there, in order
        self.view = view
        self.busy = False
        self.current: RunRecord | None = None  # the run on screen
        self.bridge: EventBridge | None = None  # its events' way in
        self.last_plan: Plan | None = None  # the plan on screen, for the editor and "run for real"
        self.last_run_dry = False
        self._runs = 0
        self._began = False  # the claimed run's worker has entered its body (and will post RunDone)
        self._pipeline: Pipeline | None = None
        self._registry: Mapping[str, ToolSpec] | None = None  # the pipeline's, once its MCP servers answered
        self._last_token_draw = 0.0

    # -- claiming and ending ----------------------------------------------------------------------
    def claim(self) -> bool:
        """Take the next run; False while one is still going (one run at a time)."""
        if self.busy:
            return False
        self.busy = True
        self._began = False
        return True

    def cancelled(self) -> bool:
        """The run's worker was cancelled. True when that happened before its first step: its
        body, which posts RunDone, never runs, so RunDone is posted here."""
        if self.busy and not self._began:
            self.target.post_message(RunDone())
            return True
        return False

    def failed(self) -> None:
        """The run's worker ended with an error (its RunDone may never come)."""
        self.busy = False

    async def finish(self) -> None:
        """The run's worker has ended (RunDone): free the app and save the run to the history,
        once. An OSError from the history file goes to the caller."""
        self.busy = False
        entry = self.current.history_entry() if self.current else None
        if entry is not None and self.services.history is not None:
            await asyncio.to_thread(self.services.history.append, entry)

    def history(self) -> list[HistoryEntry]:
        return self.services.history.load(HISTORY_SHOWN) if self.services.history else []

    # -- the runs -------------------------------------------------------------------------------
    async def request(self, text: str, *, dry: bool, approver: Approver) -> None:
        """Plan and run the person's request (the body of the app's run worker)."""
        async with self._ending_run("The request was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=text, source="request", dry=dry)
            self.view.choosing_tools()
            self.view.show_activity("planning")
            result = await pipeline.ask(text, emit=bridge, approver=approver,
                                        dry_run=DryRun.SAFE if dry else DryRun.OFF)
            record = self.current
            if record is not None and record.number == bridge.run:
                record.summary = result.summary or record.summary
                if result.plan.tasks:
                    self.last_plan = result.plan
                    record.plan = result.plan.to_text()
                record.answer = result.answer or record.answer  # shown when its AnswerReady event arrives

    async def plan(self, plan: Plan, *, source: str, request: str, dry: bool, approver: Approver) -> None:
        """Run a written plan: from the editor, the history, or the one on screen for real."""
        async with self._ending_run("The run was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=request, source=source, dry=dry, plan=plan.to_text())
            self.view.show_activity("dry run" if dry else "running")
            summary = await pipeline.run_plan(plan, emit=bridge, approver=approver,
                                              dry_run=DryRun.SAFE if dry else DryRun.OFF)
            if self.current is not None and self.current.number == bridge.run:
                self.current.summary = summary

    def _new_run(self, *, request: str, source: str, dry: bool, plan: str = "") -> EventBridge:
        self._runs += 1
        self.current = RunRecord(self._runs, request=request, source=source, dry=dry, plan=plan)
        self.bridge = EventBridge(self.target, self._runs)
        return self.bridge

    # -- the tools a plan may call ------------------------------------------------------------------
    @property
    def registry(self) -> Mapping[str, ToolSpec]:
        """The tools a written plan is checked against: the pipeline's once loaded (MCP tools
        included), until then the built-in tools of the enabled apps."""
        return self._registry if self._registry is not None else built_in_registry(self.services.config)

    @property
    def registry_pending(self) -> bool:
        """MCP servers are configured and not asked yet: `load_registry` knows more tools."""
        return self._registry is None and any(s.enabled for s in self.services.config.mcp.servers.values())

    async def load_registry(self) -> tuple[Mapping[str, ToolSpec], list[str]]:
        """The pipeline's tools (its MCP servers start now, off the loop, if they have not), and
        what could not be had (a server that did not start, a tool left out), to say now: a plan
        that calls such a tool is refused before any run would say why."""
        pipeline = await self._get_pipeline()
        self._registry = await asyncio.to_thread(pipeline.registry)
        said: list[Notice] = []
        pipeline.say_notices(lambda event: said.append(event) if isinstance(event, Notice) else None)
        return self._registry, [n.message for n in said]

    def close(self) -> None:
        """Stop what the pipeline started (its MCP servers, its model): the app is closing."""
        if self._pipeline is not None:
            self._pipeline.close()

    async def _get_pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = await asyncio.to_thread(self.services.pipeline_factory, self.services.config)
        return self._pipeline

    @contextlib.asynccontextmanager
    async def _ending_run(self, stopped: str) -> AsyncIterator[None]:
        """RunDone always follows the run's events; a stopped run says so (a failed one is said
        by the worker's error handler)."""
        self._began = True
        try:
            yield
        except asyncio.CancelledError:
            self.view.run_stopped(stopped)
            raise
        finally:
            self.target.post_message(RunDone())  # after every event of this run, in queue order

    # -- the run's events -----------------------------------------------------------------------
    def is_current(self, run: int) -> bool:
        """Whether events numbered `run` belong to the run on screen (an older run's are not drawn)."""
        return self.bridge is not None and run == self._runs

    def token_wait(self) -> float:
        """Seconds until buffered plan text may be drawn again (0 or less: now)."""
        return self._last_token_draw + TOKEN_INTERVAL - time.monotonic()

    def take_tokens(self, upto: int | None = None) -> str:
        """The plan text waiting in the bridge (or only the tokens numbered below `upto`), to draw now."""
        if self.bridge is None:
            return ""
        text = self.bridge.take_tokens(upto)
        self._last_token_draw = time.monotonic()
        return text

    def record(self, event: Event, shown: Callable[[], tuple[Task, ...]]) -> None:
        """Keep what the event says about the run on screen; `shown` gives the tasks its plan
        graph holds (the plan as it ran, replans included), read when a plan finishes."""
        record = self.current
        if isinstance(event, StageTiming):
            if record is not None:
                record.timings[event.stage] = event.seconds
        elif isinstance(event, PlanFinished):
            if record is not None:
                record.summary = event.summary
            tasks = shown()
            if tasks:
                self.last_plan = Plan(tasks)
                if record is not None:
                    record.plan = self.last_plan.to_text()
            self.last_run_dry = record.dry if record else False
        elif isinstance(event, AnswerReady) and not event.replan and record is not None:
            record.answer = event.text

    @property
    def dry(self) -> bool:
        """Whether the run on screen is a dry run."""
        return self.current.dry if self.current else False
