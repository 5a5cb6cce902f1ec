"""Voice input: the record button, its level meter, and the worker that records and
transcribes. The widget owns that worker; the app only hears its typed messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button
from textual.worker import Worker, WorkerState, get_current_worker

from tinyagent.core.events import AudioLevel
from tinyagent.core.voice.capture import VoiceUnavailable
from tinyagent.core.voice.transcribe import TranscriptionError
from tinyagent.tui.errors import explain
from tinyagent.tui.messages import EventBridge, LevelChanged

BLOCKS = " ▁▂▃▄▅▆▇█"
MakeRecorder = Callable[[Callable[[AudioLevel], None]], Any]  # on_level -> a started-on-demand Recorder
MakeTranscriber = Callable[[], Any]


class LevelMeter(Widget):
    """`idle`, `recording` (a moving level and the seconds so far) or `transcribing`."""

    DEFAULT_CSS = """
    LevelMeter { width: 16; height: 1; }
    """
    state: reactive[str] = reactive("idle")

    def __init__(self, **kwargs: Any) -> None:
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


class VoiceInput(Horizontal):
    """`toggle()` starts a recording or ends the one under way; the words come back as `Transcribed`."""

    DEFAULT_CSS = """
    VoiceInput { width: auto; height: 3; }
    """

    class StateChanged(Message):
        def __init__(self, state: str) -> None:
            super().__init__()
            self.state = state  # idle, starting, recording, transcribing

    class Transcribed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Failed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class ModelNotice(Message):
        """Which whisper model stands in for the missing default (said once, as the planner's is)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, recorder: MakeRecorder, transcriber: MakeTranscriber, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.make_recorder = recorder
        self.make_transcriber = transcriber
        self.state = "idle"
        self._stop: threading.Event | None = None
        self._transcriber: Any = None  # loaded on first use, then kept
        self._model_notice: str | None = None  # the stand-in notice said last

    def compose(self) -> ComposeResult:
        yield Button("● Rec", id="record", variant="default")
        meter = LevelMeter(id="meter")
        meter.display = False
        yield meter

    @property
    def active(self) -> bool:
        """The microphone is open or opening: the next toggle ends it."""
        return self.state in ("starting", "recording")

    def toggle(self) -> None:
        if self.active and self._stop is not None:  # also while the microphone opens: no second one
            self._stop.set()
            return
        if self.state == "transcribing":
            self.notify("Still transcribing the last recording")
            return
        self._stop = threading.Event()
        self.state = "starting"
        self.record(self._stop)

    @on(Button.Pressed, "#record")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.toggle()

    @work(thread=True, exclusive=True, group="voice", exit_on_error=False)
    def record(self, stop: threading.Event) -> None:
        try:
            recorder = self.make_recorder(EventBridge(self))  # levels come back as LevelChanged, ~30 a second
            recorder.start()
        except (VoiceUnavailable, OSError) as exc:
            self._finish(error=f"Cannot record: {exc}")
            return
        if stop.is_set():  # stopped while the microphone opened: nothing was said, nothing to say
            recorder.stop()
            self.post_message(self.StateChanged("idle"))
            return
        self.post_message(self.StateChanged("recording"))
        worker = get_current_worker()
        try:
            while not stop.is_set() and not worker.is_cancelled:
                if recorder.wait(0.1):
                    break
            audio = recorder.stop()
        except (VoiceUnavailable, OSError) as exc:
            self._finish(error=f"Recording failed: {exc}")
            return
        if audio.size == 0:
            self._finish(error=recorder.problem or "Nothing was recorded.")
            return
        self.post_message(self.StateChanged("transcribing"))
        try:
            if self._transcriber is None:
                self._transcriber = self.make_transcriber()
            text = self._transcriber.transcribe(audio).text.strip()
        except (TranscriptionError, OSError) as exc:
            self._finish(error=f"Cannot transcribe: {exc}")
            return
        notice = getattr(self._transcriber, "model_notice", None)  # set when its model was found
        if notice and notice != self._model_notice:
            self._model_notice = notice
            self.post_message(self.ModelNotice(notice))
        if not text:
            self._finish(error=recorder.problem or "No speech was heard. Try again, closer to the microphone.")
            return
        self._finish(text=text)

    def _finish(self, *, text: str = "", error: str = "") -> None:
        self.post_message(self.StateChanged("idle"))
        self.post_message(self.Failed(error) if error else self.Transcribed(text))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "voice" and event.state is WorkerState.ERROR:  # a failure nobody foresaw: say it
            event.stop()
            error = event.worker.error
            self.post_message(self.StateChanged("idle"))
            self.post_message(self.Failed(explain(error) if isinstance(error, BaseException) else str(error)))

    @on(StateChanged)
    def _state_changed(self, message: StateChanged) -> None:
        self.state = message.state
        meter = self.query_one(LevelMeter)
        button = self.query_one("#record", Button)
        meter.state = message.state
        meter.display = message.state in ("recording", "transcribing")
        button.label = "■ Stop" if message.state == "recording" else "● Rec"
        button.variant = "error" if message.state == "recording" else "default"

    def on_level_changed(self, message: LevelChanged) -> None:
        message.stop()
        if self.state == "recording":
            level = message.level
            self.query_one(LevelMeter).level(level.rms, level.peak, level.seconds)
