"""Textual messages carrying the core's events into the app.

`EventBridge` is the `emit` callback handed to the core. It may be called on the app's
loop or on any thread (model tokens, audio callbacks); it only posts messages, which is
thread-safe. High-rate events do not flood the queue: plan tokens are buffered and one
`TokensReady` stands for all of them until the app drains the buffer (at most ~30 times a
second); audio levels and download progress replace each other.
"""

from __future__ import annotations

import threading
import time

from textual.message import Message
from textual.message_pump import MessagePump

from tinyagent.core.events import AudioLevel, DownloadProgress, Event, PlanToken

LEVEL_INTERVAL = 1 / 30


class CoreEvent(Message):
    """One event from the core, delivered in order; `tokens_before` plan tokens preceded it."""

    def __init__(self, event: Event, run: int = 0, tokens_before: int = 0) -> None:
        super().__init__()
        self.event = event
        self.run = run
        self.tokens_before = tokens_before


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


class RunDone(Message):
    """A run's worker has ended; posted after all of its events."""


class EventBridge:
    """The core's `emit`: posts messages to `target` (usually the App)."""

    def __init__(self, target: MessagePump, run: int = 0) -> None:
        self.target = target
        self.run = run
        self._lock = threading.Lock()
        self._tokens: list[str] = []
        self.posted = 0  # messages actually posted (tests check coalescing)
        self.tokens_seen = 0
        self._last_level = 0.0
        self._outstanding = False  # a TokensReady is posted and not yet drained
        self._taken = 0  # tokens handed to the app so far

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanToken):
            with self._lock:
                self._tokens.append(event.text)
                self.tokens_seen += 1
                notify = not self._outstanding  # one TokensReady at a time covers every token
                self._outstanding = True
            if notify:
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
        # The app draws the plan text written before this event, and only that, before handling it.
        with self._lock:
            seen = self.tokens_seen
        self._post(CoreEvent(event, self.run, seen))

    def take_tokens(self, upto: int | None = None) -> str:
        """Buffered text: all of it, or only the tokens numbered below `upto` (counted from the start)."""
        with self._lock:
            count = len(self._tokens) if upto is None else max(0, min(len(self._tokens), upto - self._taken))
            text, self._tokens = "".join(self._tokens[:count]), self._tokens[count:]
            self._taken += count
            if not self._tokens:
                self._outstanding = False  # the next token notifies again
        return text

    def _post(self, message: Message) -> None:
        self.posted += 1
        self.target.post_message(message)
