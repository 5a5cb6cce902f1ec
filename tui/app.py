"""The terminal UI: `tinyagent` with no arguments opens it.

The app composes the widgets and routes: keys to actions (tui.actions), the core's events to
the widgets that draw them (one handler per event type), voice input to the request box.
Model, tool and audio work happens in workers. Build it with `build_app(services)` so tests
swap any part of the core for their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Input
from textual.worker import Worker, WorkerState

from core.approval import ApprovalRequest, Decision
from core.config import ConfigError, load_config
from core.events import (
    AnswerReady,
    AnswerToken,
    Event,
    Notice,
    PlanFinished,
    PlanStarted,
    Replanning,
    RequestStarted,
    StageTiming,
    TaskFinished,
    ToolsSelected,
)
from core.executor import DryRun
from core.history import HistoryEntry
from core.parser import parse_plan
from core.pipeline import Pipeline
from core.plan import Plan
from core.sanitize import visible
from tui import actions, model_check
from tui.errors import explain
from tui.messages import CoreEvent, EventBridge, RunDone, TokensReady
from tui.run_record import RunRecord
from tui.screens.confirm import ConfirmModal, ask_person
from tui.screens.editor import EditorScreen
from tui.screens.history import HistoryScreen
from tui.screens.models import ModelsScreen
from tui.services import Services, model_label
from tui.widgets.chat import Chat
from tui.widgets.plan_graph import PlanGraph, describe_node
from tui.widgets.record import VoiceInput
from tui.widgets.request import RequestInput
from tui.widgets.safe_text import SafeStatic
from tui.widgets.status import StatusLine
from tui.widgets.tool_panel import ToolBars


def freeze_startup_objects() -> None:
    """Keep full garbage collections short while the app runs.

    A full collection scans every live object; with Textual, Rich and the model runtimes loaded
    that took 40-75 ms here, longer than the 50 ms the loop may ever stall. What exists once the
    app is up lives as long as the app, so move it out of the collector's scans for good.
    """
    gc.collect()
    gc.freeze()


TOKEN_INTERVAL = 1 / 30  # plan text is drawn at most this often; tokens in between are batched
BUSY = "A run is still going: wait, or stop it with ctrl+x"
VOICE_ACTIVITY = {"recording": "recording (ctrl+r stops)", "transcribing": "transcribing…"}


class TinyAgentApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tinyagent"
    BINDINGS = actions.bindings()

    dry_run: reactive[bool] = reactive(False)
    busy: reactive[bool] = reactive(False)

    def __init__(self, services: Services | None = None, *, theme: str | None = None) -> None:
        super().__init__()
        self.services = services or Services()
        self.config = self.services.config
        self.theme = theme or "textual-dark"
        self.last_plan: Plan | None = None
        self.last_run_dry = False
        self.current: RunRecord | None = None  # the run on screen
        self.bridge: EventBridge | None = None  # its events' way in
        self._runs = 0
        self._run_began = False  # the claimed run's worker has entered its body (and will post RunDone)
        self._editor_draft: str | None = None  # a plan from the editor that could not run yet
        self._pipeline: Pipeline | None = None
        self._last_token_draw = 0.0
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            RequestStarted: self._request_started, ToolsSelected: self._tools_selected,
            PlanStarted: self._plan_started, Notice: self._notice, Replanning: self._replanning,
            StageTiming: self._stage_timing, TaskFinished: self._task_finished, PlanFinished: self._plan_finished,
            AnswerToken: self._answer_token, AnswerReady: self._answer_ready,
        }  # every other event only changes the graph
        self.set_reactive(TinyAgentApp.dry_run, bool(self.config.dry_run))

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        services, config = self.services, self.config
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Chat(id="chat")
                with VerticalScroll(id="tools"):
                    yield ToolBars(id="toolbars")
                with Horizontal(id="input-row"):
                    yield RequestInput(placeholder="Ask something, e.g. text Sid that I'm running late", id="ask")
                    yield VoiceInput(lambda on_level: services.recorder_factory(config, on_level),
                                     lambda: services.transcriber_factory(config), id="voice")
            with Vertical(id="right"):
                yield PlanGraph(id="graph")
                with VerticalScroll(id="detail"):
                    yield SafeStatic(Text("Select a task (click, or arrows in the graph) to see its full arguments "
                                      "and output.", style="italic"), id="detail-text")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._own_loop = asyncio.get_running_loop()
        for pane, title in (("#chat", "Chat"), ("#tools", "Tools"), ("#graph", "Plan"), ("#detail", "Task")):
            self.main_screen.query_one(pane).border_title = title
        status = self.main_screen.query_one(StatusLine)
        status.model = model_label(self.config)
        status.backend = {"applescript": "AppleScript"}.get(self.config.resolved_backend(),
                                                            self.config.resolved_backend())
        status.dry_run = self.dry_run
        self.main_screen.query_one("#ask", Input).focus()
        self._compact(self.size.height)
        self.call_after_refresh(freeze_startup_objects)
        self.main_screen.query_one(Chat).add(
            "info", "Ask for something below (enter sends), press ctrl+r to speak, or ctrl+e to write a plan. "
                    "Every step that changes something asks you first.", title="tinyagent")
        self.check_models()

    def on_resize(self, event: Resize) -> None:
        self._compact(event.size.height)

    def _compact(self, height: int) -> None:
        self.main_screen.set_class(height < 36, "compact")  # also when resized under another screen

    @property
    def main_screen(self) -> Screen:
        """The main screen, also while a modal or the editor is on top (App.query_one only
        sees the active screen)."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def _on_main(self) -> bool:
        return len(self.screen_stack) == 1

    def _activity(self, what: str) -> None:
        if self.screen_stack:
            self.main_screen.query_one(StatusLine).activity = what

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification, the screens' too, as plain text through the one sanitiser: many
        quote data (an error, a plan's problem), and markup would read "[" in them as a tag."""
        super().notify(visible(message, keep_newlines=True), title=visible(title), severity=severity,
                       timeout=timeout, markup=False)

    # -- actions --------------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from actions.palette(self, lambda action: self._available(action, screen))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._available(action, self.screen)

    def _available(self, action: str, screen: Screen) -> bool:
        """Whether an action of the table works with `screen` on top, for its key and in the palette."""
        if action not in actions.MAIN_ONLY or screen is self.main_screen:
            return True
        if action in actions.OVER_CONFIRM and isinstance(screen, ConfirmModal):
            return True
        if action in actions.ENDS_ELSEWHERE:  # ctrl+r still ends a recording begun on the main screen
            return self.main_screen.query_one(VoiceInput).active
        return False  # the key goes to the screen on top (e.g. ctrl+e in the editor's text)

    def watch_dry_run(self, value: bool) -> None:
        if self.screen_stack:
            self.main_screen.query_one(StatusLine).dry_run = value

    def action_toggle_dry_run(self) -> None:
        self.dry_run = not self.dry_run
        if self.busy:  # a run keeps the mode it started with
            self.notify(f"Dry run {'ON' if self.dry_run else 'off'} from the next run; the run going now "
                        f"stays {'a dry run' if self.current and self.current.dry else 'real'}", timeout=4)
            return
        self.notify("Dry run ON: nothing will be changed" if self.dry_run else "Dry run off: plans run for real "
                    "(each change still asks you first)", timeout=3)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_stop(self) -> None:
        if not self.workers.cancel_group(self, "run"):
            return
        chat = self.main_screen.query_one(Chat)
        if self.busy and not self._run_began:
            # cancelled before its first step: its body, which posts RunDone, never runs
            chat.add("warning", "The run was stopped before it began.")
            self.post_message(RunDone())
        else:
            chat.add("warning", "Stopping the run.")

    def action_record(self) -> None:
        self.main_screen.query_one(VoiceInput).toggle()

    def action_editor(self) -> None:
        if self._on_main():
            text = self._editor_draft if self._editor_draft is not None else (
                self.last_plan.to_text() if self.last_plan else "")
            self.push_screen(EditorScreen(text), self._editor_closed)

    def _editor_closed(self, text: str | None) -> None:
        if not text:
            return
        if self.busy:  # not lost: the editor opens with it again
            self._editor_draft = text
            self.notify(f"{BUSY}. Your plan waits in the editor (ctrl+e).", severity="warning")
            return
        self._editor_draft = None
        plan = parse_plan(text)
        self.start_plan(plan, source="editor", said=("Plan from the editor:", plan.to_text().rstrip()))

    def action_history(self) -> None:
        if self._on_main():
            entries = self.services.history.load(200) if self.services.history else []
            self.push_screen(HistoryScreen(entries), self._history_closed)

    def _history_closed(self, choice: tuple[str, HistoryEntry] | None) -> None:
        if not choice:
            return
        how, entry = choice
        if how == "ask":
            self.ask(entry.request)
            return
        plan = parse_plan(entry.plan)
        if not plan.ok or not plan.tasks:
            self.main_screen.query_one(Chat).add("error", "That plan cannot run: " + "; ".join(map(str, plan.errors)))
            return
        self.start_plan(plan, source="history", request=entry.request, said=("Again:", entry.title))

    def action_models(self) -> None:
        if self._on_main():
            self.push_screen(ModelsScreen(self.services.model_store_factory(), config=self.config), self._models_closed)

    def _models_closed(self, _: None) -> None:
        self.check_models(quiet=True)  # what was downloaded is no longer missing

    def action_run_for_real(self) -> None:
        if not self._on_main():
            return
        if self.last_plan is None or not self.last_plan.tasks:
            self.notify("No plan on screen yet", severity="warning")
            return
        self.start_plan(self.last_plan, source="rerun", request=self.current.request if self.current else "",
                        dry=False, said=("You:", "Run this plan for real."))

    @on(Button.Pressed, ".run-for-real")
    def _run_for_real_pressed(self, event: Button.Pressed) -> None:
        event.button.disabled = True
        self.action_run_for_real()

    @on(PlanGraph.NodeSelected, "#graph")
    def _node_selected(self, event: PlanGraph.NodeSelected) -> None:
        node = event.graph.node(event.task_id)
        self.main_screen.query_one("#detail-text", SafeStatic).update(
            describe_node(node) if node is not None
            else Text("Select a task to see its full arguments and output.", style="italic"))

    # -- start-up -------------------------------------------------------------------------------
    @work(thread=True, group="startup", exit_on_error=False)
    def check_models(self, quiet: bool = False) -> None:
        found = model_check.check_models(self.services.model_store_factory(), self.config)
        self.call_from_thread(self._models_checked, found, quiet)

    def _models_checked(self, found: model_check.ModelCheck, quiet: bool) -> None:
        if not self.screen_stack:
            return
        if found.planner is not None:
            self.main_screen.query_one(StatusLine).model = found.planner
        if found.note and not quiet:
            self.main_screen.query_one(Chat).add("warning", found.note)

    # -- requests and runs ------------------------------------------------------------------------
    @on(Input.Submitted, "#ask")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and self.ask(text):
            event.input.value = ""  # only once it is taken: a refused request stays to send again

    def ask(self, text: str) -> bool:
        """Start planning `text`; False (and a notice) when a run is still going."""
        if not self._claim_run():
            return False
        self.main_screen.query_one(Chat).add("user", text, title="You:")
        self.run_request(text)
        return True

    def start_plan(self, plan: Plan, *, source: str, request: str = "", dry: bool | None = None,
                   said: tuple[str, str] | None = None) -> bool:
        """Run `plan`; `said` is the (title, text) the chat shows for it, once it is taken."""
        if not self._claim_run():
            return False
        if said is not None:
            self.main_screen.query_one(Chat).add("user", said[1], title=said[0])
        self.last_plan = plan
        self.main_screen.query_one(PlanGraph).show_plan(plan)
        self.run_plan(plan, source=source, request=request, dry=self.dry_run if dry is None else dry)
        return True

    def _claim_run(self) -> bool:
        """One run at a time; starting one retires the chat's buttons for earlier plans."""
        if self.busy:
            self.notify(BUSY, severity="warning")
            return False
        self.busy = True
        self._run_began = False
        self.main_screen.query_one(Chat).retire_actions()
        return True

    def _new_run(self, **fields: Any) -> EventBridge:
        self._runs += 1
        self.current = RunRecord(self._runs, **fields)
        self.bridge = EventBridge(self, self._runs)
        return self.bridge

    async def _get_pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = await asyncio.to_thread(self.services.pipeline_factory, self.config)
        return self._pipeline

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_request(self, text: str) -> None:
        dry = self.dry_run
        async with self._ending_run("The request was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=text, source="request", dry=dry)
            self.main_screen.query_one(ToolBars).clear("Choosing tools…")
            self._activity("planning")
            result = await pipeline.ask(text, emit=bridge, approver=self.approve,
                                        dry_run=DryRun.SAFE if dry else DryRun.OFF)
            record = self.current
            if record is not None and record.number == bridge.run:
                record.summary = result.summary or record.summary
                if result.plan.tasks:
                    self.last_plan = result.plan
                    record.plan = result.plan.to_text()
                record.answer = result.answer or record.answer  # shown when its AnswerReady event arrives

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_plan(self, plan: Plan, *, source: str, request: str, dry: bool) -> None:
        async with self._ending_run("The run was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=request, source=source, dry=dry, plan=plan.to_text())
            self._activity("dry run" if dry else "running")
            summary = await pipeline.run_plan(plan, emit=bridge, approver=self.approve,
                                              dry_run=DryRun.SAFE if dry else DryRun.OFF)
            if self.current is not None and self.current.number == bridge.run:
                self.current.summary = summary

    @contextlib.asynccontextmanager
    async def _ending_run(self, stopped: str) -> AsyncIterator[None]:
        """RunDone always follows the run's events; a stopped run says so (a failed one is said
        by the worker's error handler)."""
        self._run_began = True
        try:
            yield
        except asyncio.CancelledError:
            if self.screen_stack:  # not when the app is closing
                self.main_screen.query_one(Chat).add("warning", stopped)
            raise
        finally:
            self.post_message(RunDone())  # after every event of this run, in queue order

    async def on_run_done(self, message: RunDone) -> None:
        self.busy = False
        if self.screen_stack:  # not when the app is closing
            self.main_screen.query_one(Chat).end_stream()
        self._activity("ready")
        entry = self.current.history_entry() if self.current else None
        if entry is not None and self.services.history is not None:
            try:
                await asyncio.to_thread(self.services.history.append, entry)
            except OSError as exc:
                self.notify(f"Could not save history: {exc}", severity="warning")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group in ("run", "startup"):
            if event.worker.group == "run":
                self.busy = False
            if self.screen_stack:  # an error while the app closes has no one to tell
                error = event.worker.error
                self.main_screen.query_one(Chat).add(
                    "error", explain(error) if isinstance(error, BaseException) else str(error))

    # -- approvals ------------------------------------------------------------------------------
    async def approve(self, request: ApprovalRequest) -> Decision:
        """The core's approver: show the confirmation modal and wait for the person."""
        if asyncio.get_running_loop() is not self._own_loop:  # a pipeline on a loop of its own, in a thread
            return await asyncio.to_thread(self.call_from_thread, self._confirm, request)
        return await self._confirm(request)

    async def _confirm(self, request: ApprovalRequest) -> Decision:
        self._activity("waiting for your approval")
        try:
            return await ask_person(self, request)
        finally:
            self._activity("running")

    # -- the core's events ----------------------------------------------------------------------
    def on_tokens_ready(self, message: TokensReady) -> None:
        if self.bridge is None or message.run != self._runs:
            return
        wait = self._last_token_draw + TOKEN_INTERVAL - time.monotonic()
        if wait > 0:  # tokens keep piling up in the bridge meanwhile, without more messages
            self.set_timer(wait, self._drain_tokens)
        else:
            self._drain_tokens()

    def _drain_tokens(self, upto: int | None = None) -> None:
        if self.bridge is None:
            return
        text = self.bridge.take_tokens(upto)
        self._last_token_draw = time.monotonic()
        if text:
            self.main_screen.query_one(Chat).stream(text)

    def on_core_event(self, message: CoreEvent) -> None:
        if message.run != self._runs or not self.screen_stack:
            return  # an older run's, or the app is closing: no screen is left to draw on
        self._drain_tokens(message.tokens_before)  # text the model wrote before this event comes first
        event = message.event
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        self.main_screen.query_one(PlanGraph).apply(event)

    def _request_started(self, event: RequestStarted) -> None:
        self.main_screen.query_one(Chat).end_stream()
        self.main_screen.query_one(PlanGraph).clear()

    def _tools_selected(self, event: ToolsSelected) -> None:
        self.main_screen.query_one(ToolBars).show(event.probabilities, event.selected, event.threshold, event.seconds)

    def _plan_started(self, event: PlanStarted) -> None:
        self.main_screen.query_one(PlanGraph).clear()
        if event.attempt > 1:
            self.main_screen.query_one(Chat).add("info", f"Planning again (attempt {event.attempt}) with what was "
                                                   "learned so far.")
        self._activity("dry run" if event.dry_run != "off" else "running")

    def _notice(self, event: Notice) -> None:
        self.main_screen.query_one(Chat).add(event.level if event.level in ("info", "warning", "error") else "info",
                                       event.message)

    def _replanning(self, event: Replanning) -> None:
        chat = self.main_screen.query_one(Chat)
        chat.end_stream()  # the next plan's text gets its own entry
        chat.add("info", event.message)

    def _stage_timing(self, event: StageTiming) -> None:
        if self.current is not None:
            self.current.timings[event.stage] = event.seconds

    def _task_finished(self, event: TaskFinished) -> None:
        self.main_screen.query_one(Chat).task_finished(event)

    def _plan_finished(self, event: PlanFinished) -> None:
        graph = self.main_screen.query_one(PlanGraph)
        tasks = tuple(n.task for _, n in sorted(graph.nodes.items()))
        dry = self.current.dry if self.current else False
        if self.current is not None:
            self.current.summary = event.summary
        if tasks:
            self.last_plan = Plan(tasks)
            if self.current is not None:
                self.current.plan = self.last_plan.to_text()
        self.last_run_dry = dry
        self.main_screen.query_one(Chat).plan_finished(event.summary, dry)

    def _answer_token(self, event: AnswerToken) -> None:
        self._activity("writing the answer")
        self.main_screen.query_one(Chat).stream_answer(event.text)

    def _answer_ready(self, event: AnswerReady) -> None:
        if not event.replan:
            if self.current is not None:
                self.current.answer = event.text
            self.main_screen.query_one(Chat).end_answer(event.text)

    # -- voice ----------------------------------------------------------------------------------
    @on(VoiceInput.StateChanged)
    def _voice_state(self, message: VoiceInput.StateChanged) -> None:
        self._activity(VOICE_ACTIVITY.get(message.state, "ready"))

    @on(VoiceInput.Failed)
    def _voice_failed(self, message: VoiceInput.Failed) -> None:
        self.main_screen.query_one(Chat).add("error", message.error)

    @on(VoiceInput.ModelNotice)
    def _voice_model_notice(self, message: VoiceInput.ModelNotice) -> None:
        self.main_screen.query_one(Chat).add("info", message.text)

    @on(VoiceInput.Transcribed)
    def _transcribed(self, message: VoiceInput.Transcribed) -> None:
        box = self.main_screen.query_one("#ask", Input)
        box.value = message.text
        box.cursor_position = len(message.text)
        box.focus()
        if self.config.voice.send_after_transcribe and self.ask(message.text):
            box.value = ""  # refused, it stays in the box to send again


def build_app(services: Services | None = None, **kwargs: Any) -> TinyAgentApp:
    return TinyAgentApp(services, **kwargs)


def run_app(config_path: str | Path | None = None) -> int:
    """Open the terminal UI; returns the exit status."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"tinyagent: bad config: {exc}")
        return 2
    app = build_app(Services(config=config))
    result = app.run()
    return int(result or 0) if app.return_code is None else int(app.return_code or 0)
