"""The terminal UI: `tinyagent` with no arguments opens it.

The app routes: keys and palette commands to actions (tui.actions), the person's requests and
plans to the run controller (tui.run_controller, which owns the run from claiming it to its
history entry), the core's events to the main screen that draws them (tui.screens.main), other
screens' answers back to a run. Model, tool and audio work happens in workers. Build it with
`build_app(services)` so tests swap any part of the core for their own.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState, WorkType

from tinyagent.core.config import ConfigError, load_config
from tinyagent.core.history import HistoryEntry
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Plan
from tinyagent.core.sanitize import visible
from tinyagent.tools.registry import ToolSpec
from tinyagent.tui import actions, model_check
from tinyagent.tui.errors import explain
from tinyagent.tui.messages import CoreEvent, RunDone, TokensReady
from tinyagent.tui.run_controller import RunController
from tinyagent.tui.screens.confirm import PersonApprover
from tinyagent.tui.screens.editor import EditorScreen
from tinyagent.tui.screens.history import HistoryScreen
from tinyagent.tui.screens.main import MainScreen
from tinyagent.tui.screens.models import ModelsScreen
from tinyagent.tui.services import Services


def freeze_startup_objects() -> None:
    """Keep full garbage collections short while the app runs.

    A full collection scans every live object; with Textual, Rich and the model runtimes loaded
    that took 40-75 ms here, longer than the 50 ms the loop may ever stall. What exists once the
    app is up lives as long as the app, so move it out of the collector's scans for good.
    """
    gc.collect()
    gc.freeze()


BUSY = "A run is still going: wait, or stop it with ctrl+x"


class TinyAgentApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tinyagent"
    BINDINGS = actions.bindings()

    dry_run: reactive[bool] = reactive(False)

    def __init__(self, services: Services | None = None, *, theme: str | None = None) -> None:
        super().__init__()
        self.services = services or Services()
        self.config = self.services.config
        self.theme = theme or "textual-dark"
        self.main_screen = MainScreen(self.services, ask=self.ask)  # the first screen, under all others
        self.runs = RunController(self.services, target=self, view=self.main_screen)
        self.approver = PersonApprover(self, activity=self.main_screen.show_activity)
        self._editor_draft: str | None = None  # a plan from the editor that could not run yet
        self.set_reactive(TinyAgentApp.dry_run, bool(self.config.dry_run))

    async def on_unmount(self) -> None:
        # The MCP servers the pipeline started stop with the app (their processes are ours).
        await asyncio.to_thread(self.runs.close)

    def get_default_screen(self) -> MainScreen:
        return self.main_screen

    async def on_mount(self) -> None:
        # The first screen composes in a task of its own, after this app is mounted: wait for it, so
        # that whatever comes next (the model check, a test's pilot) finds its widgets and greeting.
        await AwaitMount(self.main_screen, [self.main_screen])
        self.approver.loop = asyncio.get_running_loop()
        self.call_after_refresh(freeze_startup_objects)
        self.check_models()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification, the screens' too, as plain text through the one sanitiser: many
        quote data (an error, a plan's problem), and markup would read "[" in them as a tag."""
        super().notify(visible(message, keep_newlines=True), title=visible(title), severity=severity,
                       timeout=timeout, markup=False)

    # -- actions --------------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from actions.palette(self, lambda action: actions.available(action, screen, self.main_screen))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return actions.available(action, self.screen, self.main_screen)

    def action_toggle_dry_run(self) -> None:
        self.dry_run = not self.dry_run
        if self.runs.busy:  # a run keeps the mode it started with
            self.notify(f"Dry run {'ON' if self.dry_run else 'off'} from the next run; the run going now "
                        f"stays {'a dry run' if self.runs.dry else 'real'}", timeout=4)
            return
        self.notify("Dry run ON: nothing will be changed" if self.dry_run else "Dry run off: plans run for real "
                    "(each change still asks you first)", timeout=3)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_stop(self) -> None:
        if not self.workers.cancel_group(self, "run"):
            return
        if self.runs.cancelled():
            self.main_screen.chat.add("warning", "The run was stopped before it began.")
        else:
            self.main_screen.chat.add("warning", "Stopping the run.")

    def action_record(self) -> None:
        self.main_screen.voice.toggle()

    def action_editor(self) -> None:
        if self.screen is self.main_screen:
            last = self.runs.last_plan
            text = self._editor_draft if self._editor_draft is not None else (last.to_text() if last else "")
            editor = EditorScreen(text, self.runs.registry, loading=self.runs.registry_pending)
            self.push_screen(editor, self._editor_closed)
            if editor.loading:  # the MCP servers start now; their tools are checked once they answer
                self.run_worker(self._load_tools(editor.use_registry), group="tools", exit_on_error=False)

    async def _load_tools(self, then: Callable[[Mapping[str, ToolSpec]], None]) -> None:
        """Ask the MCP servers for their tools (off the loop), then hand every tool to `then`."""
        try:
            registry, problems = await self.runs.load_registry()
        except Exception as exc:  # e.g. a bad setting found by the pipeline: said, and the built-ins serve
            self.notify(explain(exc), severity="error")
            registry, problems = self.runs.registry, []
        for line in problems:
            self.notify(line, severity="warning", timeout=8)
        then(registry)

    def _editor_closed(self, text: str | None) -> None:
        if not text:
            return
        if self.runs.busy:  # not lost: the editor opens with it again
            self._editor_draft = text
            self.notify(f"{BUSY}. Your plan waits in the editor (ctrl+e).", severity="warning")
            return
        self._editor_draft = None
        plan = parse_plan(text, self.runs.registry)  # the editor checked it against these tools
        self.start_plan(plan, source="editor", said=("Plan from the editor:", plan.to_text().rstrip()))

    def action_history(self) -> None:
        if self.screen is self.main_screen:
            self.push_screen(HistoryScreen(self.runs.history()), self._history_closed)

    def _history_closed(self, choice: tuple[str, HistoryEntry] | None) -> None:
        if not choice:
            return
        how, entry = choice
        if how == "ask":
            self.ask(entry.request)
            return
        if self.runs.registry_pending:  # the plan may call an MCP server's tool: ask them first
            self.run_worker(self._load_tools(lambda _: self._run_again(entry)), group="tools", exit_on_error=False)
            return
        self._run_again(entry)

    def _run_again(self, entry: HistoryEntry) -> None:
        plan = parse_plan(entry.plan, self.runs.registry)
        if not plan.ok or not plan.tasks:
            self.main_screen.chat.add("error", "That plan cannot run: " + "; ".join(map(str, plan.errors)))
            return
        self.start_plan(plan, source="history", request=entry.request, said=("Again:", entry.title))

    def action_models(self) -> None:
        if self.screen is self.main_screen:
            self.push_screen(ModelsScreen(self.services.model_store_factory(), config=self.config), self._models_closed)

    def _models_closed(self, _: None) -> None:
        self.check_models(quiet=True)  # what was downloaded is no longer missing

    def action_run_for_real(self) -> None:
        if self.screen is not self.main_screen:
            return
        plan = self.runs.last_plan
        if plan is None or not plan.tasks:
            self.notify("No plan on screen yet", severity="warning")
            return
        current = self.runs.current
        self.start_plan(plan, source="rerun", request=current.request if current else "",
                        dry=False, said=("You:", "Run this plan for real."))

    @work(thread=True, group="startup", exit_on_error=False)
    def check_models(self, quiet: bool = False) -> None:
        found = model_check.check_models(self.services.model_store_factory(), self.config)
        self.call_from_thread(self.main_screen.show_models_check, found, quiet)

    # -- runs -----------------------------------------------------------------------------------
    def ask(self, text: str) -> bool:
        """Start planning `text`; False (and a notice) when a run is still going."""
        if not self.runs.claim():
            self.notify(BUSY, severity="warning")
            return False
        self.main_screen.run_claimed(said=("You:", text))
        work: WorkType[None] = partial(self.runs.request, text, dry=self.dry_run, approver=self.approver)
        self.run_worker(work, group="run", exclusive=True, exit_on_error=False)
        return True

    def start_plan(self, plan: Plan, *, source: str, request: str = "", dry: bool | None = None,
                   said: tuple[str, str] | None = None) -> bool:
        """Run `plan`; `said` is the (title, text) the chat shows for it, once it is taken."""
        if not self.runs.claim():
            self.notify(BUSY, severity="warning")
            return False
        self.runs.last_plan = plan
        self.main_screen.run_claimed(said, plan)
        work: WorkType[None] = partial(self.runs.plan, plan, source=source, request=request,
                       dry=self.dry_run if dry is None else dry, approver=self.approver)
        self.run_worker(work, group="run", exclusive=True, exit_on_error=False)
        return True

    async def on_run_done(self, message: RunDone) -> None:
        self.main_screen.run_ended()
        try:
            await self.runs.finish()
        except OSError as exc:
            self.notify(f"Could not save history: {exc}", severity="warning")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group in ("run", "startup"):
            if event.worker.group == "run":
                self.runs.failed()
            error = event.worker.error
            self.main_screen.show_error(explain(error) if isinstance(error, BaseException) else str(error))

    # -- the core's events ----------------------------------------------------------------------
    def on_tokens_ready(self, message: TokensReady) -> None:
        if not self.runs.is_current(message.run):
            return
        wait = self.runs.token_wait()
        if wait > 0:  # tokens keep piling up in the bridge meanwhile, without more messages
            self.set_timer(wait, self._stream_waiting_tokens)
        else:
            self._stream_waiting_tokens()

    def _stream_waiting_tokens(self) -> None:
        if self.main_screen.showing:  # a timer can fire while the app closes
            self.main_screen.stream_plan(self.runs.take_tokens())

    def on_core_event(self, message: CoreEvent) -> None:
        if not self.runs.is_current(message.run) or not self.main_screen.showing:
            return  # an older run's, or the app is closing: no screen is left to draw on
        # text the model wrote before this event comes first
        self.main_screen.stream_plan(self.runs.take_tokens(message.tokens_before))
        self.runs.record(message.event, shown=self.main_screen.graph.tasks)
        self.main_screen.show(message.event, dry=self.runs.dry)


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
