"""Textual messages carrying the core's events into the app.

`EventBridge` is the `emit` callback handed to the core. It may be called on the app's
loop or on any thread (model tokens, audio callbacks); it only posts messages, which is
thread-safe. High-rate events do not flood the queue: plan tokens are buffered and a single
replaceable `TokensReady` is posted; audio levels and download progress replace each other.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from textual.message import Message

from core.events import AudioLevel, DownloadProgress, Event, PlanToken

LEVEL_INTERVAL = 1 / 30


class CoreEvent(Message):
    """One event from the core, delivered in order."""

    def __init__(self, event: Event, run: int = 0) -> None:
        super().__init__()
        self.event = event
        self.run = run


class TokensReady(Message):
    """Plan text is waiting in the bridge's buffer; replaces a pending one."""

    def __init__(self, run: int = 0) -> None:
        super().__init__()
        self.run = run

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TokensReady)


class LevelChanged(Message):
    def __init__(self, level: AudioLevel) -> None:
        super().__init__()
        self.level = level

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LevelChanged)


class DownloadUpdate(Message):
    def __init__(self, progress: DownloadProgress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DownloadUpdate) and message.progress.name == self.progress.name


class RecordingState(Message):
    """The voice worker's state: idle, recording, transcribing; text once transcribed."""

    def __init__(self, state: str, text: str = "", error: str = "") -> None:
        super().__init__()
        self.state = state
        self.text = text
        self.error = error


class RunDone(Message):
    """A run's worker has ended; posted after all of its events."""


class EventBridge:
    """The core's `emit`: posts messages to `target` (usually the App)."""

    def __init__(self, target: Any, run: int = 0) -> None:
        self.target = target
        self.run = run
        self._lock = threading.Lock()
        self._tokens: list[str] = []
        self.posted = 0  # messages actually posted (tests check coalescing)
        self.tokens_seen = 0
        self._last_level = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanToken):
            with self._lock:
                self._tokens.append(event.text)
                self.tokens_seen += 1
                first = len(self._tokens) == 1
            if first:  # a TokensReady is already on its way for the rest
                self._post(TokensReady(self.run))
            return
        if isinstance(event, AudioLevel):
            now = time.monotonic()
            if now - self._last_level >= LEVEL_INTERVAL:  # a meter needs no more than ~30 a second
                self._last_level = now
                self._post(LevelChanged(event))
            return
        if isinstance(event, DownloadProgress):
            self._post(DownloadUpdate(event))
            return
        self.flush_tokens_first()
        self._post(CoreEvent(event, self.run))

    def take_tokens(self) -> str:
        with self._lock:
            text, self._tokens = "".join(self._tokens), []
        return text

    def flush_tokens_first(self) -> None:
        """Keep order: text written before an event is shown before it."""
        with self._lock:
            pending = bool(self._tokens)
        if pending:
            self._post(TokensReady(self.run))

    def _post(self, message: Message) -> None:
        self.posted += 1
        self.target.post_message(message)
