"""The app's actions, listed once: the key bindings, the footer and the command palette are
all built from this table (ids in posting's style, so a keymap can remap them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.screens.main import MainScreen


@dataclass(frozen=True)
class AppAction:
    action: str  # the App's action_<name>
    keys: str
    label: str  # in the footer
    title: str  # in the command palette ("" = not there)
    help: str  # the palette's help line and the binding's tooltip
    footer: bool = True
    main_only: bool = True  # on another screen the key goes to that screen instead
    over_confirm: bool = False  # a main-only action that also works while a confirmation asks
    ends_elsewhere: bool = False  # a main-only action that can still end what it began (a recording)

    @property
    def binding_id(self) -> str:
        return f"app.{self.action}"


ACTIONS: tuple[AppAction, ...] = (
    AppAction("record", "ctrl+r", "Record", "Record voice", "Start or stop voice input", ends_elsewhere=True),
    AppAction("toggle_dry_run", "ctrl+d", "Dry run", "Toggle dry run", "Plan and preview without changing anything",
              main_only=False),
    AppAction("editor", "ctrl+e", "Plan editor", "Plan editor", "Write or paste a plan, see it checked and drawn, run it"),
    AppAction("run_for_real", "ctrl+g,f5", "Run for real", "Run the plan for real",
              "Run the plan on screen for real (with confirmations)"),
    AppAction("history", "ctrl+o,f2", "History", "History", "Past requests and plans; run one again"),
    AppAction("models", "ctrl+n,f3", "Models", "Models", "Which models are here; download missing ones"),
    AppAction("toggle_theme", "ctrl+t", "Theme", "Toggle light/dark theme", "Switch between the dark and light theme",
              footer=False, main_only=False),
    AppAction("stop", "ctrl+x", "Stop run", "Stop the run", "Cancel the plan that is running",
              over_confirm=True),  # above all while a confirmation waits; in the editor ctrl+x cuts
)

MAIN_ONLY = frozenset(a.action for a in ACTIONS if a.main_only)
OVER_CONFIRM = frozenset(a.action for a in ACTIONS if a.over_confirm)
ENDS_ELSEWHERE = frozenset(a.action for a in ACTIONS if a.ends_elsewhere)


def available(action: str, on_top: Screen, main: MainScreen) -> bool:
    """Whether an action of the table works with `on_top` over the main screen, for its key and
    in the palette."""
    if action not in MAIN_ONLY or on_top is main:
        return True
    if action in OVER_CONFIRM and isinstance(on_top, ConfirmModal):
        return True
    if action in ENDS_ELSEWHERE:  # ctrl+r still ends a recording begun on the main screen
        return main.voice.active
    return False  # the key goes to the screen on top (e.g. ctrl+e in the editor's text)


BindingType = Binding | tuple[str, str] | tuple[str, str, str]  # what App.BINDINGS holds


def bindings() -> list[BindingType]:
    made: list[BindingType] = [
        Binding(a.keys, a.action, a.label, show=a.footer, priority=a.footer, id=a.binding_id, tooltip=a.help)
        for a in ACTIONS]
    return [*made, Binding("tab", "focus_next", "Focus", show=False, id="app.focus_next")]


def palette(app: App, available: Callable[[str], bool]) -> Iterator[SystemCommand]:
    """The palette's commands: those `available` on the screen it was opened over."""
    for a in ACTIONS:
        if a.title and available(a.action):
            yield SystemCommand(a.title, a.help, getattr(app, f"action_{a.action}"))
