"""Widgets of the main screen."""

from __future__ import annotations

from textual.app import App
from textual.color import Color, ColorParseError


def theme_color(app: App, name: str, fallback: str = "") -> str:
    """A theme variable ($text-muted, $text-success, ...) as a hex colour Rich understands.

    Textual's variables may read 'auto 60%' (contrast text at 60%): that becomes the
    foreground blended into the background."""
    variables = app.get_css_variables()
    value = variables.get(name, "") or fallback or variables.get("foreground", "#ffffff")
    try:
        return Color.parse(value).hex
    except ColorParseError:
        pass
    try:
        fg = Color.parse(variables.get("foreground", "#e0e0e0"))
        bg = Color.parse(variables.get("background", "#000000"))
        parts = str(value).split()
        pct = float(parts[1].rstrip("%")) / 100 if len(parts) > 1 else 0.6
        return bg.blend(fg, pct).hex
    except (ColorParseError, ValueError):  # a variable that is no colour at all: a neutral grey
        return "#808080"
