"""The status line: model, backend, dry-run state, and what the app is doing."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tinyagent.tui.widgets import theme_color
from tinyagent.tui.widgets.safe_text import safe_text


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """
    model: reactive[str] = reactive("no model")
    backend: reactive[str] = reactive("sandbox")
    dry_run: reactive[bool] = reactive(False)
    activity: reactive[str] = reactive("ready")

    def render(self) -> Text:
        warn = theme_color(self.app, "text-warning")
        ok = theme_color(self.app, "text-success")
        dry = ("DRY RUN on", f"bold reverse {warn}") if self.dry_run else ("dry run off", ok)
        return safe_text(Text.assemble(  # the model's name is a file name
            ("model ", "dim"), (self.model, "bold"), ("  │  backend ", "dim"), (self.backend, "bold"),
            ("  │  ", "dim"), dry, ("  │  ", "dim"), (self.activity, "italic"),
        ))
