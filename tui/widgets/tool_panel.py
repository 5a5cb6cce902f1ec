"""ToolRAG's choice: one bar per tool with its probability, the threshold marked, the
selected tools highlighted. Filled in before planning starts.

MCP servers' tools follow under their own heading: their bars are the similarity of each
tool's name and description to the request (a cosine, not a probability), drawn in another
colour and pattern, the value marked "~", with the similarity threshold marked."""

from __future__ import annotations

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
        accent, muted = theme_color(self.app, "text-accent"), theme_color(self.app, "text-muted")
        warn = theme_color(self.app, "text-warning")
        width = max(self.size.width, 24)
        name_w = min(21, max(10, width // 2 - 2))
        bar_w = max(6, width - name_w - 9)
        mark = min(bar_w - 1, int(round(self.threshold * bar_w)))
        took = f" in {self.seconds * 1000:.0f} ms" if self.seconds is not None else ""
        shown = len(self._order()) + len(self.similarities)
        out = Text(f"ToolRAG: {len(self.selected)} of {shown} tools, threshold {self.threshold:.2f}{took}\n",
                   style="bold")
        for i, name in enumerate(self._order()):
            p = self.probabilities.get(name, 0.0)
            chosen = name in self.selected
            style = f"bold {accent}" if chosen else muted
            label = name if len(name) <= name_w else name[: name_w - 1] + "…"
            out.append(("●" if chosen else " ") + label.ljust(name_w) + " ", style=style)
            filled = int(round(p * bar_w))
            for j in range(bar_w):
                if j == mark:
                    out.append("│", style=f"bold {warn}")
                else:
                    out.append("█" if j < filled else "░", style=style if j < filled else muted)
            out.append(f" {p:4.2f}", style=style)
            if i < len(self._order()) - 1:
                out.append("\n")
        if self.similarities:
            self._similar_rows(out, name_w, bar_w)
        return safe_text(out)  # tool names come from the ToolRAG model's folder and MCP servers

    def _similar_rows(self, out: Text, name_w: int, bar_w: int) -> None:
        """The MCP tools: similarity bars (▒), another colour, values marked "~", their threshold marked."""
        colour, muted = theme_color(self.app, "text-secondary"), theme_color(self.app, "text-muted")
        warn = theme_color(self.app, "text-warning")
        mark = min(bar_w - 1, max(0, int(round(self.similarity_threshold * bar_w))))
        out.append(f"\nMCP tools by similarity (~, not a probability), threshold {self.similarity_threshold:.2f}",
                   style=f"bold {colour}")
        for name in self._similar_order():
            s = self.similarities[name]
            chosen = name in self.selected
            style = f"bold {colour}" if chosen else muted
            label = name if len(name) <= name_w else name[: name_w - 1] + "…"
            out.append("\n")
            out.append(("●" if chosen else " ") + label.ljust(name_w) + " ", style=style)
            filled = int(round(max(s, 0.0) * bar_w))
            for j in range(bar_w):
                if j == mark:
                    out.append("┊", style=f"bold {warn}")
                else:
                    out.append("▒" if j < filled else "░", style=colour if j < filled else muted)
            out.append(f" ~{s:4.2f}", style=style)
