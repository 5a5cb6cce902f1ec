"""The record button and its level meter: recording (level + seconds), transcribing, idle."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


class LevelMeter(Widget):
    """`idle`, `recording` (a moving level and the seconds so far) or `transcribing`."""

    DEFAULT_CSS = """
    LevelMeter { width: 16; height: 1; }
    """
    state: reactive[str] = reactive("idle")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[float] = []
        self.seconds = 0.0
        self.updates = 0

    def level(self, rms: float, peak: float, seconds: float) -> None:
        self.updates += 1
        self.seconds = seconds
        self.history = (self.history + [min(1.0, max(rms * 4, peak))])[-8:]
        self.refresh()

    def watch_state(self, state: str) -> None:
        if state != "recording":
            self.history, self.seconds = [], 0.0

    def render(self) -> Text:
        if self.state == "recording":
            bars = "".join(BLOCKS[min(8, int(v * 8))] for v in self.history).ljust(8)
            return Text.assemble(("● ", "bold red"), (bars, "bold"), f" {self.seconds:4.1f}s")
        if self.state == "transcribing":
            return Text("transcribing…", style="italic")
        return Text("")
