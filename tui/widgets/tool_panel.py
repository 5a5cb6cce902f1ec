"""ToolRAG's choice: one bar per tool with its probability, the threshold marked, the
selected tools highlighted. Filled in before planning starts.

MCP servers' tools follow under their own heading: their bars are the similarity of each
tool's name and description to the request (a cosine, not a probability), drawn in another
colour and pattern, the value marked "~", with the similarity threshold marked."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from tinyagent.tools.registry import TOOL_NAMES
from tinyagent.tui.widgets import theme_color
from tinyagent.tui.widgets.safe_text import safe_text


class ToolBars(Widget):
    DEFAULT_CSS = """
    ToolBars { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.probabilities: dict[str, float] = {}
        self.selected: tuple[str, ...] = ()
        self.threshold = 0.5
        self.seconds: float | None = None
        self.similarities: dict[str, float] = {}  # MCP tool -> cosine similarity to the request
        self.similarity_threshold = 0.0
        self.note = "Tool probabilities appear here before planning starts."

    def show(self, probabilities: dict[str, float], selected: tuple[str, ...] | list[str], threshold: float,
             seconds: float | None = None, similarities: dict[str, float] | None = None,
             similarity_threshold: float = 0.0) -> None:
        self.probabilities = dict(probabilities)
        self.selected = tuple(selected)
        self.threshold = threshold
        self.seconds = seconds
        self.similarities = dict(similarities or {})
        self.similarity_threshold = similarity_threshold
        self.note = ""
        self.refresh(layout=True)

    def clear(self, note: str = "Tool probabilities appear here before planning starts.") -> None:
        self.probabilities, self.selected, self.similarities, self.note = {}, (), {}, note
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        if not self.probabilities:
            return 1
        return len(self._order()) + 1 + (len(self.similarities) + 1 if self.similarities else 0)

    def _order(self) -> list[str]:
        names = list(dict.fromkeys([*self.probabilities, *TOOL_NAMES]))
        return sorted(names, key=lambda n: (n not in self.selected, -self.probabilities.get(n, 0.0), n))

    def _similar_order(self) -> list[str]:
        return sorted(self.similarities, key=lambda n: (n not in self.selected, -self.similarities[n], n))

    def render(self) -> Text:
        if not self.probabilities:
            return safe_text(Text(self.note, style="italic"))
        width = max(self.size.width, 24)
        name_w = min(21, max(10, width // 2 - 2))
        bar_w = max(6, width - name_w - 9)
        took = f" in {self.seconds * 1000:.0f} ms" if self.seconds is not None else ""
        shown = len(self._order()) + len(self.similarities)
        out = Text(f"ToolRAG: {len(self.selected)} of {shown} tools, threshold {self.threshold:.2f}{took}",
                   style="bold")
        bars = _Bars(theme_color(self.app, "text-accent"), "█", "│", "")
        for name in self._order():
            self._row(out, name, self.probabilities.get(name, 0.0), self.threshold, bars, name_w, bar_w)
        if self.similarities:
            # The MCP tools: similarity bars in another colour and pattern, values marked "~".
            colour = theme_color(self.app, "text-secondary")
            out.append(f"\nMCP tools by similarity (~, not a probability), threshold {self.similarity_threshold:.2f}",
                       style=f"bold {colour}")
            bars = _Bars(colour, "▒", "┊", "~", fill_in_colour=True)
            for name in self._similar_order():
                self._row(out, name, self.similarities[name], self.similarity_threshold, bars, name_w, bar_w)
        return safe_text(out)  # tool names come from the ToolRAG model's folder and MCP servers

    def _row(self, out: Text, name: str, value: float, threshold: float, bars: _Bars, name_w: int,
             bar_w: int) -> None:
        """One tool's line: its name (highlighted when selected), its bar with the threshold marked, its value."""
        muted, warn = theme_color(self.app, "text-muted"), theme_color(self.app, "text-warning")
        chosen = name in self.selected
        style = f"bold {bars.colour}" if chosen else muted
        label = name if len(name) <= name_w else name[: name_w - 1] + "…"
        out.append("\n")
        out.append(("●" if chosen else " ") + label.ljust(name_w) + " ", style=style)
        mark = min(bar_w - 1, max(0, int(round(threshold * bar_w))))
        filled = int(round(max(value, 0.0) * bar_w))
        for j in range(bar_w):
            if j == mark:
                out.append(bars.tick, style=f"bold {warn}")
            elif j < filled:
                out.append(bars.fill, style=bars.colour if bars.fill_in_colour else style)
            else:
                out.append("░", style=muted)
        out.append(f" {bars.prefix}{value:4.2f}", style=style)


@dataclass(frozen=True)
class _Bars:
    """How one kind of row is drawn: the classifier's probabilities, or MCP tools' similarities."""

    colour: str
    fill: str  # the filled part of a bar
    tick: str  # the threshold's mark
    prefix: str  # before the value ("~": a similarity, not a probability)
    fill_in_colour: bool = False  # the filled part in the colour even where the tool is not selected
