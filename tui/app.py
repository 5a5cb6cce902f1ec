"""The terminal UI: `tinyagent` with no arguments opens it.

The app only reacts to the core's event stream (tui.messages); model, tool and audio work
happens in workers. Build it with `build_app(services)` so tests inject any part.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.approval import ApprovalRequest, Decision
from core.config import Config
from core.events import (
    AnswerReady,
    AnswerToken,
    ApprovalRequested,
    ApprovalResolved,
    Notice,
    PlanFinished,
    PlanStarted,
    RequestStarted,
    StageTiming,
    TaskFinished,
    TaskStatus,
    ToolsSelected,
)
from core.history import HistoryEntry, short_text
from core.plan import Plan
from tui.messages import CoreEvent, EventBridge, LevelChanged, RecordingState, RunDone, TokensReady
from tui.services import Services, model_label, model_rows
from tui.widgets.chat import Chat
from tui.widgets.plan_graph import PlanGraph, describe_node
from tui.widgets.record import LevelMeter
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
_KIND_WORDS = {"planner": "planner", "whisper": "voice", "toolrag": "tool choice"}
_FAILED_WORDS = {
    TaskStatus.FAILED: "failed", TaskStatus.SKIPPED: "was skipped", TaskStatus.DENIED: "was not run: you declined it",
    TaskStatus.CANCELLED: "was cancelled", TaskStatus.UNKNOWN: "may or may not have happened (check the app)",
}


def _planner_choice(store: Any, configured: str) -> Any:
    """The store's pick of planner (a stand-in where the default is missing), or None."""
    choose = getattr(store, "planner_choice", None)
    if choose is None:
        return None
    try:
        return choose(configured)
    except Exception:  # noqa: BLE001 - an unreadable store is reported by the caller
        return None


class TinyAgentApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tinyagent"
    BINDINGS = [
        Binding("ctrl+r", "record", "Record", id="app.record", priority=True,
                tooltip="Start or stop voice input"),
        Binding("ctrl+d", "toggle_dry_run", "Dry run", id="app.dry_run", priority=True,
                tooltip="Plan and preview without changing anything"),
        Binding("ctrl+e", "editor", "Plan editor", id="app.editor", priority=True,
                tooltip="Write or paste a plan and run it"),
        Binding("ctrl+g,f5", "run_for_real", "Run for real", id="app.run_for_real", priority=True,
                tooltip="Run the plan on screen for real (with confirmations)"),
        Binding("ctrl+o,f2", "history", "History", id="app.history", priority=True),
        Binding("ctrl+n,f3", "models", "Models", id="app.models", priority=True),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False),
        Binding("ctrl+x", "stop", "Stop run", id="app.stop", priority=True),
        Binding("tab", "focus_next", "Focus", show=False, id="app.focus_next"),
    ]

    dry_run: reactive[bool] = reactive(False)
    busy: reactive[bool] = reactive(False)

    def __init__(self, services: Services | None = None, *, theme: str | None = None) -> None:
        super().__init__()
        self.services = services or Services()
        self.config: Config = self.services.config
        self.theme = theme or "textual-dark"
        self.last_plan: Plan | None = None
        self.last_run_dry = False
        self._pipeline: Any = None
        self._bridge: EventBridge | None = None
        self._run_no = 0
        self._last_token_draw = 0.0
        self._run_info: dict[str, Any] = {}
        self._stop_recording: threading.Event | None = None
        self._voice_state = "idle"
        self._transcriber: Any = None
        self._startup_note = ""
        self.set_reactive(TinyAgentApp.dry_run, bool(self.config.dry_run))

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Chat(id="chat")
                with VerticalScroll(id="tools"):
                    yield ToolBars(id="toolbars")
                with Horizontal(id="input-row"):
                    yield Input(placeholder="Ask something, e.g. text Sid that I'm running late", id="ask")
                    yield Button("● Rec", id="record", variant="default")
                    yield LevelMeter(id="meter")
            with Vertical(id="right"):
                yield PlanGraph(id="graph")
                with VerticalScroll(id="detail"):
                    yield Static(Text("Select a task (click, or arrows in the graph) to see its full arguments "
                                      "and output.", style="italic"), id="detail-text")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._main.query_one("#chat").border_title = "Chat"
        self._main.query_one("#tools").border_title = "Tools"
        self._main.query_one("#graph").border_title = "Plan"
        self._main.query_one("#detail").border_title = "Task"
        status = self._main.query_one(StatusLine)
        status.model = model_label(self.config)
        status.backend = self._backend_label()
        status.dry_run = self.dry_run
        self._main.query_one("#meter", LevelMeter).display = False
        self._main.query_one("#ask", Input).focus()
        self._compact(self.size.height)
        self.call_after_refresh(freeze_startup_objects)
        chat = self._main.query_one(Chat)
        chat.add("info", "Ask for something below (enter sends), press ctrl+r to speak, or ctrl+e to write a plan. "
                         "Every step that changes something asks you first.", title="tinyagent")
        self.check_models()

    def on_resize(self, event: Any) -> None:
        self._compact(event.size.height)

    def _compact(self, height: int) -> None:
        self.screen.set_class(height < 36, "compact")

    def _backend_label(self) -> str:
        try:
            kind = self.config.resolved_backend()
        except Exception:
            kind = self.config.backend
        return {"applescript": "AppleScript", "sandbox": "sandbox"}.get(kind, kind)

    # -- command palette ------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Plan editor", "Write or paste a plan, see it checked and drawn, run it", self.action_editor)
        yield SystemCommand("Toggle dry run", "Preview plans without changing anything", self.action_toggle_dry_run)
        yield SystemCommand("Run the plan for real", "Run the plan on screen again, for real", self.action_run_for_real)
        yield SystemCommand("Record voice", "Start or stop voice input", self.action_record)
        yield SystemCommand("History", "Past requests and plans; run one again", self.action_history)
        yield SystemCommand("Models", "Which models are here; download missing ones", self.action_models)
        yield SystemCommand("Stop the run", "Cancel the plan that is running", self.action_stop)
        yield SystemCommand("Toggle light/dark theme", "Switch between the dark and light theme", self.action_toggle_theme)

    # -- simple actions -------------------------------------------------------------------------
    def watch_dry_run(self, value: bool) -> None:
        if self.is_mounted:
            self._main.query_one(StatusLine).dry_run = value

    def action_toggle_dry_run(self) -> None:
        self.dry_run = not self.dry_run
        self.notify("Dry run ON: nothing will be changed" if self.dry_run else "Dry run off: plans run for real "
                    "(each change still asks you first)", timeout=3)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_stop(self) -> None:
        cancelled = self.workers.cancel_group(self, "run")
        if cancelled:
            self._main.query_one(Chat).add("warning", "Stopping the run.")

    @property
    def _main(self) -> Screen:
        """The main screen, also while a modal or the editor is on top (App.query_one only
        sees the active screen)."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def _on_main(self) -> bool:
        return len(self.screen_stack) == 1

    _MAIN_ONLY = {"editor", "history", "models", "run_for_real", "record", "stop"}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self._MAIN_ONLY and not self._on_main():
            return False  # the key goes to the screen on top (e.g. ctrl+e in the editor's text)
        return True

    def action_editor(self) -> None:
        if not self._on_main():
            return
        text = self.last_plan.to_text() if self.last_plan else ""
        self.push_screen(self._editor_screen(text), self._editor_closed)

    def _editor_screen(self, text: str) -> Screen:
        from tui.screens.editor import EditorScreen

        return EditorScreen(text)

    def _editor_closed(self, text: str | None) -> None:
        if not text:
            return
        from core.parser import parse_plan

        plan = parse_plan(text)
        self._main.query_one(Chat).add("user", plan.to_text().rstrip(), title="Plan from the editor:")
        self.start_plan(plan, source="editor")

    def action_history(self) -> None:
        if not self._on_main():
            return
        from tui.screens.history import HistoryScreen

        entries = self.services.history.load(200) if self.services.history else []
        self.push_screen(HistoryScreen(entries), self._history_closed)

    def _history_closed(self, choice: tuple[str, HistoryEntry] | None) -> None:
        if not choice:
            return
        how, entry = choice
        if how == "ask":
            self.ask(entry.request)
            return
        from core.parser import parse_plan

        plan = parse_plan(entry.plan)
        if not plan.ok or not plan.tasks:
            self._main.query_one(Chat).add("error", "That plan cannot run: " + "; ".join(map(str, plan.errors)))
            return
        self._main.query_one(Chat).add("user", entry.title, title="Again:")
        self.start_plan(plan, source="history", request=entry.request)

    def action_models(self) -> None:
        if not self._on_main():
            return
        from tui.screens.models import ModelsScreen

        try:
            store = self.services.model_store_factory()
        except Exception as exc:
            store, problem = None, str(exc)
        else:
            problem = ""
        self.push_screen(ModelsScreen(store, problem), lambda _: self.check_models(quiet=True))

    # -- startup --------------------------------------------------------------------------------
    @work(thread=True, group="startup", exit_on_error=False)
    def check_models(self, quiet: bool = False) -> None:
        try:
            store = self.services.model_store_factory()
            rows = model_rows(store)
        except Exception as exc:
            store, rows = None, []
            note = f"Cannot read the model store ({exc})."
        else:
            choice = _planner_choice(store, self.config.models.planner)
            # a kind the config points elsewhere, or a planner standing in, is not missing
            elsewhere = {"planner": bool(self.config.models.planner or (choice and choice.path)),
                         "whisper": bool(self.config.models.whisper)}
            wanted = [r for r in rows if r.get("default")] or rows
            missing = [f"{r['name']} ({_KIND_WORDS.get(r.get('kind', ''), r.get('kind', ''))})"
                       for r in wanted if not r["present"] and not elsewhere.get(r.get("kind", ""))]
            if store is None:
                note = "" if self.config.models.planner else (
                    "No planner model is set up, so requests cannot be planned yet; "
                    "the plan editor (ctrl+e) works without one.")
            elif missing:
                note = (f"Missing models: {', '.join(missing)}. Press ctrl+n (Models) to download them in the "
                        "background; meanwhile the plan editor (ctrl+e) works without a model.")
            else:
                note = ""
            if choice is not None and choice.notice:
                note = f"{choice.notice}. {note}".strip()
        self.call_from_thread(self._models_checked, note, quiet, rows, choice if store is not None else None)

    def _models_checked(self, note: str, quiet: bool, rows: list[dict[str, Any]], choice: Any = None) -> None:
        self._startup_note = note
        planner = next((r for r in rows if r.get("kind") == "planner" and r.get("default")), None)
        if choice is not None and choice.path is not None and choice.notice:  # a stand-in for the default
            self._main.query_one(StatusLine).model = choice.name
            planner = None
        if self.config.models.planner:
            planner = None  # a configured file: the pipeline reports it if it cannot load
        if planner is not None and not planner["present"]:
            self._main.query_one(StatusLine).model = f"{model_label(self.config)} (missing)"
        elif planner is not None:
            self._main.query_one(StatusLine).model = model_label(self.config)
        if note and not quiet:
            self._main.query_one(Chat).add("warning", note)

    # -- requests -------------------------------------------------------------------------------
    @on(Input.Submitted, "#ask")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.ask(text)

    def ask(self, text: str) -> None:
        if self.busy:
            self.notify("A run is still going: wait, or stop it with ctrl+x", severity="warning")
            return
        self._main.query_one(Chat).add("user", text, title="You:")
        self.busy = True
        self.run_request(text)

    def _dry_mode(self, dry: bool) -> Any:
        from core.executor import DryRun

        return DryRun.SAFE if dry else DryRun.OFF

    def _new_run(self, **info: Any) -> EventBridge:
        self._run_no += 1
        self._bridge = EventBridge(self, self._run_no)
        self._run_info = {"summary": None, "answer": "", **info}
        return self._bridge

    async def _get_pipeline(self) -> Any:
        if self._pipeline is None:
            self._pipeline = await asyncio.to_thread(self.services.pipeline_factory, self.config)
        return self._pipeline

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_request(self, text: str) -> None:
        dry = self.dry_run
        async with self._reporting_run("The request was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=text, source="request", dry=dry)
            self._main.query_one(ToolBars).clear("Choosing tools…")
            self._activity("planning")
            result = await pipeline.ask(text, emit=bridge, approver=self.approve, dry_run=self._dry_mode(dry))
            if getattr(result, "summary", None) is not None:
                self._run_info["summary"] = result.summary
            plan = getattr(result, "plan", None)
            if plan is not None and getattr(plan, "tasks", None):
                self.last_plan = plan
                self._run_info["plan"] = plan.to_text()
            if getattr(result, "answer", ""):
                self._run_info["answer"] = result.answer  # shown when its AnswerReady event arrives

    def start_plan(self, plan: Plan, *, source: str, request: str = "", dry: bool | None = None) -> None:
        if self.busy:
            self.notify("A run is still going: wait, or stop it with ctrl+x", severity="warning")
            return
        self.busy = True
        self.last_plan = plan
        self._main.query_one(PlanGraph).show_plan(plan)
        self.run_plan(plan, source=source, request=request, dry=self.dry_run if dry is None else dry)

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_plan(self, plan: Plan, *, source: str, request: str, dry: bool) -> None:
        async with self._reporting_run("The run was stopped."):
            pipeline = await self._get_pipeline()
            bridge = self._new_run(request=request, source=source, dry=dry, plan=plan.to_text())
            self._activity("dry run" if dry else "running")
            summary = await pipeline.run_plan(plan, emit=bridge, approver=self.approve, dry_run=self._dry_mode(dry))
            self._run_info["summary"] = summary

    @contextlib.asynccontextmanager
    async def _reporting_run(self, stopped: str) -> AsyncIterator[None]:
        """Say in the chat how a run ended badly; RunDone always follows the run's events."""
        chat = self._main.query_one(Chat)
        try:
            yield
        except asyncio.CancelledError:
            chat.add("warning", stopped)
            raise
        except Exception as exc:
            chat.add("error", _explain(exc))
        finally:
            self.post_message(RunDone())  # after every event of this run, in queue order

    async def on_run_done(self, message: RunDone) -> None:
        self._main.query_one(Chat).end_stream()
        self.busy = False
        self._activity("ready")
        await self._save_history()

    def action_run_for_real(self) -> None:
        if not self._on_main():
            return
        if self.last_plan is None or not self.last_plan.tasks:
            self.notify("No plan on screen yet", severity="warning")
            return
        self._main.query_one(Chat).add("user", "Run this plan for real.", title="You:")
        self.start_plan(self.last_plan, source="rerun", request=self._run_info.get("request", ""), dry=False)

    def _activity(self, what: str) -> None:
        if self.is_mounted:
            self._main.query_one(StatusLine).activity = what

    async def _save_history(self) -> None:
        info, store = self._run_info, self.services.history
        summary = info.get("summary")
        if store is None or summary is None or info.get("saved"):
            return
        info["saved"] = True
        entry = HistoryEntry(
            request=info.get("request", ""), plan=info.get("plan", ""), answer=info.get("answer", ""),
            dry_run=bool(info.get("dry")), statuses={str(k): v.value for k, v in summary.statuses.items()},
            outputs={str(k): short_text(v) for k, v in summary.outputs.items()},
            errors={str(k): v for k, v in summary.errors.items()}, summary=summary.describe(),
            source=info.get("source", "request"))
        try:
            await asyncio.to_thread(store.append, entry)
        except OSError as exc:
            self.notify(f"Could not save history: {exc}", severity="warning")

    # -- approvals ------------------------------------------------------------------------------
    async def approve(self, request: ApprovalRequest) -> Decision:
        """The core's approver: show the confirmation modal and wait for the person."""
        if threading.get_ident() != self._thread_id:
            future = asyncio.run_coroutine_threadsafe(self._ask_person(request), self._loop)  # type: ignore[arg-type]
            return await asyncio.wrap_future(future)
        return await self._ask_person(request)

    async def _ask_person(self, request: ApprovalRequest) -> Decision:
        from tui.screens.confirm import ConfirmModal

        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def done(decision: Decision | None) -> None:
            if not answer.done():
                answer.set_result(decision or Decision.DENY)

        modal = ConfirmModal(request)
        self._activity("waiting for your approval")
        await self.push_screen(modal, done)
        try:
            return await answer
        except asyncio.CancelledError:
            if modal.is_attached and self.screen is modal:
                modal.dismiss(Decision.DENY)
            raise
        finally:
            self._activity("running")

    # -- the core's events ----------------------------------------------------------------------
    def on_tokens_ready(self, message: TokensReady) -> None:
        if self._bridge is None or message.run != self._run_no:
            return
        wait = self._last_token_draw + TOKEN_INTERVAL - time.monotonic()
        if wait > 0:  # tokens keep piling up in the bridge meanwhile, without more messages
            self.set_timer(wait, self._drain_tokens)
        else:
            self._drain_tokens()

    def _drain_tokens(self, upto: int | None = None) -> None:
        if self._bridge is None:
            return
        text = self._bridge.take_tokens(upto)
        self._last_token_draw = time.monotonic()
        if text:
            self._main.query_one(Chat).stream(text)

    def on_core_event(self, message: CoreEvent) -> None:
        if message.run != self._run_no or not self.screen_stack:
            return  # an older run's, or the app is closing: no screen is left to draw on
        self._drain_tokens(message.tokens_before)  # text the model wrote before this event comes first
        event = message.event
        chat = self._main.query_one(Chat)
        graph = self._main.query_one(PlanGraph)
        if isinstance(event, RequestStarted):
            chat.end_stream()
            graph.clear()
        elif isinstance(event, ToolsSelected):
            self._main.query_one(ToolBars).show(event.probabilities, event.selected, event.threshold, event.seconds)
        elif isinstance(event, PlanStarted):
            graph.clear()
            if event.attempt > 1:
                chat.add("info", f"Planning again (attempt {event.attempt}) with what was learned so far.")
            self._activity("dry run" if event.dry_run != "off" else "running")
        elif isinstance(event, Notice):
            if event.message.startswith("replanning"):
                chat.end_stream()  # the next plan's text gets its own entry
            chat.add(event.level if event.level in ("info", "warning", "error") else "info", event.message)
        elif isinstance(event, StageTiming):
            self._run_info.setdefault("timings", {})[event.stage] = event.seconds
        elif isinstance(event, TaskFinished):
            graph.apply(event)
            words = _FAILED_WORDS.get(event.status)
            if words:
                why = f": {event.error}" if event.error and event.status is not TaskStatus.DENIED else ""
                chat.add("error" if event.status is TaskStatus.FAILED else "warning",
                         f"Task {event.task_id} ({event.tool}) {words}{why}.")
            return
        elif isinstance(event, PlanFinished):
            self._plan_finished(event)
        elif isinstance(event, AnswerToken):
            self._activity("writing the answer")
            chat.stream_answer(event.text)
        elif isinstance(event, AnswerReady):
            if not event.replan:
                self._run_info["answer"] = event.text
                chat.end_answer(event.text)
        elif isinstance(event, (ApprovalRequested, ApprovalResolved)):
            pass
        graph.apply(event)

    def _plan_finished(self, event: PlanFinished) -> None:
        summary = event.summary
        self._run_info["summary"] = summary
        graph = self._main.query_one(PlanGraph)
        tasks = tuple(n.task for _, n in sorted(graph.nodes.items()))
        if tasks:
            self.last_plan = Plan(tasks)
            self._run_info["plan"] = self.last_plan.to_text()
        chat = self._main.query_one(Chat)
        dry = self._run_info.get("dry", False)
        self.last_run_dry = dry
        if dry:
            chat.add("info", f"Dry run finished ({summary.describe()}); nothing was changed. The plan stays on "
                             "screen: run it for real with ctrl+g.", title="Dry run:")
            chat.add_action("Run this plan for real (ctrl+g)", "run-for-real")
        else:
            kind = "answer" if summary.all_done else "warning"
            chat.add(kind, summary.describe(), title="Finished:")

    @on(Button.Pressed, "#run-for-real")
    def _run_for_real_pressed(self, event: Button.Pressed) -> None:
        event.button.disabled = True
        self.action_run_for_real()

    @on(PlanGraph.NodeSelected, "#graph")
    def _node_selected(self, event: PlanGraph.NodeSelected) -> None:
        node = event.graph.node(event.task_id)
        detail = self._main.query_one("#detail-text", Static)
        if node is None:
            detail.update(Text("Select a task to see its full arguments and output.", style="italic"))
        else:
            detail.update(describe_node(node))

    # -- voice ----------------------------------------------------------------------------------
    @on(Button.Pressed, "#record")
    def _record_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_record()

    def action_record(self) -> None:
        if self._voice_state == "recording" and self._stop_recording is not None:
            self._stop_recording.set()
            return
        if self._voice_state == "transcribing":
            self.notify("Still transcribing the last recording")
            return
        self._stop_recording = threading.Event()
        self._voice_state = "starting"
        self.record_voice(self._stop_recording)

    @work(thread=True, exclusive=True, group="voice", exit_on_error=False)
    def record_voice(self, stop: threading.Event) -> None:
        bridge = EventBridge(self)
        try:
            recorder = self.services.recorder_factory(self.config, bridge)
            recorder.start()
        except Exception as exc:
            self.post_message(RecordingState("idle", error=f"Cannot record: {exc}"))
            return
        self.post_message(RecordingState("recording"))
        worker = get_current_worker()
        try:
            while not stop.is_set() and not worker.is_cancelled:
                if recorder.wait(0.1):
                    break
            audio = recorder.stop()
        except Exception as exc:
            self.post_message(RecordingState("idle", error=f"Recording failed: {exc}"))
            return
        problem = getattr(recorder, "problem", None)
        if getattr(audio, "size", 1) == 0:
            self.post_message(RecordingState("idle", error=problem or "Nothing was recorded."))
            return
        self.post_message(RecordingState("transcribing"))
        try:
            if self._transcriber is None:
                self._transcriber = self.services.transcriber_factory(self.config)
            transcript = self._transcriber.transcribe(audio)
        except Exception as exc:
            self.post_message(RecordingState("idle", error=f"Cannot transcribe: {exc}"))
            return
        text = getattr(transcript, "text", str(transcript)).strip()
        if not text:
            self.post_message(RecordingState("idle", error=problem or "No speech was heard. Try again, closer to "
                                                                      "the microphone."))
            return
        self.post_message(RecordingState("idle", text=text))

    def on_recording_state(self, message: RecordingState) -> None:
        self._voice_state = message.state
        meter = self._main.query_one("#meter", LevelMeter)
        button = self._main.query_one("#record", Button)
        meter.state = message.state
        meter.display = message.state in ("recording", "transcribing")
        button.label = "■ Stop" if message.state == "recording" else "● Rec"
        button.variant = "error" if message.state == "recording" else "default"
        self._activity({"recording": "recording (ctrl+r stops)", "transcribing": "transcribing…"}.get(
            message.state, "ready"))
        if message.error:
            self._main.query_one(Chat).add("error", message.error)
        if message.text:
            box = self._main.query_one("#ask", Input)
            box.value = message.text
            box.cursor_position = len(message.text)
            box.focus()
            if self.config.voice.send_after_transcribe:
                box.value = ""
                self.ask(message.text)

    def on_level_changed(self, message: LevelChanged) -> None:
        level = message.level
        if self._voice_state == "recording":
            self._main.query_one("#meter", LevelMeter).level(level.rms, level.peak, level.seconds)

    # -- workers ----------------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group in ("run", "voice", "startup"):
            error = event.worker.error
            self._main.query_one(Chat).add("error", _explain(error) if isinstance(error, Exception) else str(error))
            if event.worker.group == "run":
                self.busy = False


def _explain(exc: BaseException) -> str:
    """An exception in plain words, with what to do for the common ones."""
    name = type(exc).__name__
    text = str(exc) or name
    if name == "ModelLoadError":
        return (f"The planner model is not available: {text}. Download it in Models (ctrl+n), or write a "
                "plan yourself with the plan editor (ctrl+e).")
    if name == "ModelFileError":
        return f"The speech model is not available: {text}. Download it in Models (ctrl+n)."
    if name == "PlanError":
        return f"The plan has problems: {text}"
    if name in ("ConfigError",):
        return f"Your settings have a problem: {text}"
    return f"Something went wrong ({name}): {text}"


def build_app(services: Services | None = None, **kwargs: Any) -> TinyAgentApp:
    return TinyAgentApp(services, **kwargs)


def run_app(config_path: str | Path | None = None) -> int:
    """Open the terminal UI; returns the exit status."""
    from core.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"tinyagent: bad config: {exc}")
        return 2
    app = build_app(Services(config=config))
    result = app.run()
    return int(result or 0) if app.return_code is None else int(app.return_code or 0)
