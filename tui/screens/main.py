"""The main screen: it composes the widgets, hands them out as typed properties and draws what
happens on them (the core's events, voice input, the model check). What a request starts is
the app's: the screen only calls the `ask` it was given.

It is the app's first screen and stays under every other one, so the app reaches its widgets
through this screen even while a modal or the editor is on top (App.query_one only sees the
screen on top).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Button, Footer, Input

from tinyagent.core.events import (
    AnswerReady,
    AnswerToken,
    Event,
    Notice,
    PlanFinished,
    PlanStarted,
    Replanning,
    RequestStarted,
    TaskFinished,
    ToolsSelected,
)
from tinyagent.core.plan import Plan
from tinyagent.tui import model_check
from tinyagent.tui.services import Services, model_label
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph, describe_node
from tinyagent.tui.widgets.record import VoiceInput
from tinyagent.tui.widgets.request import RequestInput
from tinyagent.tui.widgets.safe_text import SafeStatic
from tinyagent.tui.widgets.status import StatusLine
from tinyagent.tui.widgets.tool_panel import ToolBars

COMPACT_BELOW = 36  # terminal rows under which the tool bars and the task pane shrink
VOICE_ACTIVITY = {"recording": "recording (ctrl+r stops)", "transcribing": "transcribing…"}
PANE_TITLES = (("#chat", "Chat"), ("#tools", "Tools"), ("#graph", "Plan"), ("#detail", "Task"))
NO_TASK = "Select a task (click, or arrows in the graph) to see its full arguments and output."
INTRO = ("Ask for something below (enter sends), press ctrl+r to speak, or ctrl+e to write a plan. "
         "Every step that changes something asks you first.")


class MainScreen(Screen[None]):
    def __init__(self, services: Services, ask: Callable[[str], bool]) -> None:
        super().__init__()
        self.services = services
        self._ask = ask  # starts a request; False when a run is still going (the text then stays)
        self._drawers: dict[type[Event], Callable[[Any, bool], None]] = {
            RequestStarted: self._request_started, ToolsSelected: self._tools_selected,
            PlanStarted: self._plan_started, Notice: self._notice, Replanning: self._replanning,
            TaskFinished: self._task_finished, PlanFinished: self._plan_finished,
            AnswerToken: self._answer_token, AnswerReady: self._answer_ready,
        }  # every other event only changes the graph

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        services, config = self.services, self.services.config
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
                    yield SafeStatic(Text(NO_TASK, style="italic"), id="detail-text")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        config = self.services.config
        for pane, title in PANE_TITLES:
            self.query_one(pane).border_title = title
        self.status.model = model_label(config)
        self.status.backend = {"applescript": "AppleScript"}.get(config.resolved_backend(), config.resolved_backend())
        self.watch(self.app, "dry_run", self._dry_run_changed)
        self.request_box.focus()
        self._compact(self.app.size.height)
        self.chat.add("info", INTRO, title="tinyagent")

    def on_resize(self, event: Resize) -> None:
        self._compact(event.size.height)  # also when resized under another screen

    def _compact(self, height: int) -> None:
        self.set_class(height < COMPACT_BELOW, "compact")

    @property
    def showing(self) -> bool:
        """Whether the app is still up: once it starts closing, its screens lose their widgets
        (before they leave the stack) and there is no one left to tell."""
        return self.app.is_running and bool(self.app.screen_stack)

    # -- the widgets ----------------------------------------------------------------------------
    @property
    def chat(self) -> Chat:
        return self.query_one("#chat", Chat)

    @property
    def tools(self) -> ToolBars:
        return self.query_one("#toolbars", ToolBars)

    @property
    def request_box(self) -> RequestInput:
        return self.query_one("#ask", RequestInput)

    @property
    def voice(self) -> VoiceInput:
        return self.query_one("#voice", VoiceInput)

    @property
    def graph(self) -> PlanGraph:
        return self.query_one("#graph", PlanGraph)

    @property
    def detail(self) -> SafeStatic:
        return self.query_one("#detail-text", SafeStatic)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    # -- what the app shows here ----------------------------------------------------------------
    def show_activity(self, what: str) -> None:
        if self.showing:
            self.status.activity = what

    def _dry_run_changed(self, value: bool) -> None:
        if self.showing:
            self.status.dry_run = value

    def show_models_check(self, found: model_check.ModelCheck, quiet: bool) -> None:
        if not self.showing:
            return
        if found.planner is not None:
            self.status.model = found.planner
        if found.note and not quiet:
            self.chat.add("warning", found.note)

    def show_error(self, text: str) -> None:
        if self.showing:  # an error while the app closes has no one to tell
            self.chat.add("error", text)

    def run_claimed(self, said: tuple[str, str] | None, plan: Plan | None = None) -> None:
        """A run was taken: the chat's buttons for earlier plans retire, what the person asked
        for (`said`: title, text) is shown, and a given plan is drawn, all waiting."""
        self.chat.retire_actions()
        if said is not None:
            self.chat.add("user", said[1], title=said[0])
        if plan is not None:
            self.graph.show_plan(plan)

    def choosing_tools(self) -> None:
        if self.showing:
            self.tools.clear("Choosing tools…")

    def run_stopped(self, message: str) -> None:
        if self.showing:  # not when the app is closing
            self.chat.add("warning", message)

    def run_ended(self) -> None:
        if self.showing:  # not when the app is closing
            self.chat.end_stream()
            self.status.activity = "ready"

    def stream_plan(self, text: str) -> None:
        self.chat.stream(text)

    # -- the core's events ----------------------------------------------------------------------
    def show(self, event: Event, dry: bool) -> None:
        """Draw one event of the run on screen (`dry`: whether that run is a dry run)."""
        drawer = self._drawers.get(type(event))
        if drawer is not None:
            drawer(event, dry)
        self.graph.apply(event)

    def _request_started(self, event: RequestStarted, dry: bool) -> None:
        self.chat.end_stream()
        self.graph.clear()

    def _tools_selected(self, event: ToolsSelected, dry: bool) -> None:
        self.tools.show(event.probabilities, event.selected, event.threshold, event.seconds, event.similarities,
                        event.similarity_threshold)

    def _plan_started(self, event: PlanStarted, dry: bool) -> None:
        self.graph.clear()
        if event.attempt > 1:
            self.chat.add("info", f"Planning again (attempt {event.attempt}) with what was learned so far.")
        self.show_activity("dry run" if event.dry_run != "off" else "running")

    def _notice(self, event: Notice, dry: bool) -> None:
        self.chat.add(event.level if event.level in ("info", "warning", "error") else "info", event.message)

    def _replanning(self, event: Replanning, dry: bool) -> None:
        self.chat.end_stream()  # the next plan's text gets its own entry
        self.chat.add("info", event.message)

    def _task_finished(self, event: TaskFinished, dry: bool) -> None:
        self.chat.task_finished(event)

    def _plan_finished(self, event: PlanFinished, dry: bool) -> None:
        self.chat.plan_finished(event.summary, dry)

    def _answer_token(self, event: AnswerToken, dry: bool) -> None:
        self.show_activity("writing the answer")
        self.chat.stream_answer(event.text)

    def _answer_ready(self, event: AnswerReady, dry: bool) -> None:
        if not event.replan:
            self.chat.end_answer(event.text)

    # -- the person's input ---------------------------------------------------------------------
    @on(Input.Submitted, "#ask")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and self._ask(text):
            event.input.value = ""  # only once it is taken: a refused request stays to send again

    @on(VoiceInput.Transcribed)
    def _transcribed(self, message: VoiceInput.Transcribed) -> None:
        box = self.request_box
        box.value = message.text
        box.cursor_position = len(message.text)
        box.focus()
        if self.services.config.voice.send_after_transcribe and self._ask(message.text):
            box.value = ""  # refused, it stays in the box to send again

    @on(VoiceInput.StateChanged)
    def _voice_state(self, message: VoiceInput.StateChanged) -> None:
        self.show_activity(VOICE_ACTIVITY.get(message.state, "ready"))

    @on(VoiceInput.Failed)
    def _voice_failed(self, message: VoiceInput.Failed) -> None:
        self.chat.add("error", message.error)

    @on(VoiceInput.ModelNotice)
    def _voice_model_notice(self, message: VoiceInput.ModelNotice) -> None:
        self.chat.add("info", message.text)

    @on(PlanGraph.NodeSelected, "#graph")
    def _node_selected(self, event: PlanGraph.NodeSelected) -> None:
        node = event.graph.node(event.task_id)
        self.detail.update(describe_node(node) if node is not None
                           else Text("Select a task to see its full arguments and output.", style="italic"))

    @on(Button.Pressed, ".run-for-real")
    async def _run_for_real_pressed(self, event: Button.Pressed) -> None:
        event.button.disabled = True
        await self.app.run_action("app.run_for_real")
