"""Shared pieces for the TUI tests: an app wired to the real sandbox, fakes at the core's edges."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyagent.core.config import Config
from tinyagent.core.events import AudioLevel, DownloadProgress
from tinyagent.core.history import HistoryStore
from tinyagent.core.modelstore import ModelChoice, ModelEntry, PlannerChoice
from tinyagent.core.voice.capture import Recorder
from tinyagent.core.voice.transcribe import Transcriber, Transcript
from tinyagent.tui.app import build_app
from tinyagent.tui.services import Services

PLAN = """1. get_email_address("Sarah")
2. get_phone_number("Mike")
3. compose_new_email(["$1"], [], "Running late", "Hi Sarah, I'm running 10 minutes late. Sorry!", [])
4. send_sms(["$2"], "Running late, see you at 3:10")
5. join()<END_OF_PLAN>
"""


class FakeStore:
    """A model store with one planner missing; `pull` reports progress then marks it present."""

    PLANNER = ModelEntry("tinyagent-1.1b", "planner", "org/repo", "planner.gguf", 100, None, "planner", default=True)
    VOICE = ModelEntry("whisper-base.en", "whisper", "org/repo", "voice.bin", 50, None, "voice", default=True)

    def __init__(self, present: bool = False):
        self.present = present
        self.pulled: list[str] = []

    def status(self) -> list[tuple[ModelEntry, Path | None]]:
        return [(self.PLANNER, Path("/x") if self.present else None), (self.VOICE, Path("/y"))]

    def planner_choice(self, configured: str = "") -> PlannerChoice:
        return PlannerChoice(self.PLANNER.name, Path("/x") if self.present else None)

    def model_choice(self, kind: str, configured: str = "") -> ModelChoice:
        return self.planner_choice(configured) if kind == "planner" else ModelChoice(self.VOICE.name, Path("/y"))

    def pull(self, name, progress=None, **options):
        for done in (0, 25, 50, 75, 100):
            if progress:
                progress(DownloadProgress(name, done, 100))
            time.sleep(0.01)
        self.pulled.append(name)
        self.present = True
        return Path("/x")


class FakeRecorder(Recorder):
    """A Recorder without a microphone: levels while 'recording', a second of audio on stop."""

    def __init__(self, on_level):
        super().__init__(on_level=on_level)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._levels, daemon=True)
        self._thread.start()

    def _levels(self):
        t = 0.0
        while not self._stopped.is_set():
            t += 0.005
            self.on_level(AudioLevel(0.2, 0.5, t))  # 200/s: far more than the UI needs
            time.sleep(0.005)

    def wait(self, timeout=None):
        return self._stopped.wait(timeout)

    def stop(self):
        self._stopped.set()
        return np.ones(16000, dtype=np.float32) * 0.1


class FakeTranscriber(Transcriber):
    """A Transcriber that hears `text` in any audio (no whisper model is loaded)."""

    def __init__(self, text="text Mike that I'm running late"):
        super().__init__()
        self.text = text
        self.calls = 0

    def transcribe(self, audio):
        self.calls += 1
        return Transcript(self.text, 0.1, audio_seconds=len(audio) / 16000)


def sandbox_config(**approval: str) -> Config:
    config = Config(backend="sandbox")
    for key, value in approval.items():
        setattr(config.approval, key, value)
    return config


def make_app(tmp_path: Path, config: Config | None = None, *, pipeline=None, store=None, recorder=None,
             transcriber=None, **kwargs: Any):
    config = config or sandbox_config()
    services = Services(
        config=config,
        model_store_factory=lambda: store,
        history=HistoryStore(tmp_path / "history.jsonl"),
    )
    if pipeline is not None:  # otherwise the real Pipeline: plans run through it without a model
        services.pipeline_factory = lambda c: pipeline
    if recorder is not None:
        services.recorder_factory = lambda c, on_level: recorder(on_level)
    if transcriber is not None:
        services.transcriber_factory = lambda c: transcriber
    return build_app(services, **kwargs)


def sandbox_rows(table: str) -> list[tuple]:
    from tinyagent.core.backends import sandbox_db_path

    with sqlite3.connect(sandbox_db_path()) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


async def wait_for(pilot, predicate, timeout: float = 30.0, step: float = 0.05) -> None:
    """Until `predicate()` holds. The timeout only guards against a hang: a loaded machine
    may take many times longer than a quiet one, and no test here measures speed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)


async def click_when_shown(pilot, widget, timeout: float = 30.0) -> None:
    """Click `widget` once it is laid out and on screen. A widget mounted a moment ago has
    no region yet, and a chat scrolls to its end only after the next refresh: a click at
    once can land on whatever was there before."""
    def under_its_centre() -> bool:
        region = widget.region
        if not region.area:
            return False
        try:
            found, _ = pilot.app.screen.get_widget_at(*region.center)
        except Exception:  # NoWidget: off screen for now
            return False
        return found is widget

    await wait_for(pilot, under_its_centre, timeout)
    assert await pilot.click(widget), f"the click missed {widget!r}"


async def type_text(pilot, text: str) -> None:
    keys = {" ": "space", "\n": "enter", "(": "left_parenthesis", ")": "right_parenthesis"}
    for ch in text:
        await pilot.press(keys.get(ch, ch))


def screen_characters(app) -> str:
    """The characters the screen on top would write to the terminal, without Textual's own
    styling sequences: every widget's rendered text, line by line."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)
