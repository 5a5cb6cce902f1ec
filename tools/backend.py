"""The one interface every tool backend (sandbox, AppleScript) implements.

A call goes through two steps so that the approval prompt can show exactly what will happen:
`prepare` (read-only: writes email bodies and note text, finds recipients, describes the change)
and `invoke` (does it). The executor runs both in worker threads; they may block.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tinyagent.tools.spec import ToolSpec


class ToolError(Exception):
    """A tool could not do its job; the message is shown to the user and to the replanner."""


class CallStopped(ToolError):
    """The call was stopped (timeout or cancellation) before it changed anything."""


class OutcomeUnknown(ToolError):
    """The call was stopped after its change may have begun: it may or may not have happened."""


class CallGuard:
    """Whether a call is still wanted, decided once and for all between two threads.

    The executor `abandon()`s a call that outlives its timeout or is cancelled; a backend calls
    `begin_effect()` right before its irreversible step (under the same lock or transaction
    that makes the change). Whichever comes first wins, so a call is either stopped before it
    changes anything or known to have started its change: never reported failed and then done.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "wanted"  # -> "abandoned" or "started"
        self._stoppers: list[Callable[[], None]] = []

    @property
    def abandoned(self) -> bool:
        return self._state == "abandoned"

    @property
    def effect_started(self) -> bool:
        return self._state == "started"

    def begin_effect(self) -> None:
        """Claim the call for its change; raises CallStopped if it was abandoned first."""
        with self._lock:
            if self._state == "abandoned":
                raise CallStopped("the call was stopped before it changed anything")
            self._state = "started"

    def abandon(self) -> bool:
        """Stop the call; True when it is certain that nothing was (or will be) changed."""
        with self._lock:
            if self._state != "started":
                self._state = "abandoned"
            stoppers, self._stoppers = self._stoppers, []
            stopped_in_time = self._state == "abandoned"
        for stop in stoppers:  # e.g. kill a child process: the work stops even if its change began
            stop()
        return stopped_in_time

    def on_abandon(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Run `stop` when the call is abandoned (now, if it already is); returns an unregister."""
        with self._lock:
            now = self._state == "abandoned"
            if not now:
                self._stoppers.append(stop)
        if now:
            stop()

        def unregister() -> None:
            with self._lock:
                if stop in self._stoppers:
                    self._stoppers.remove(stop)

        return unregister


_CURRENT_CALL: contextvars.ContextVar[ToolCall | None] = contextvars.ContextVar("tinyagent_current_call", default=None)


@contextmanager
def guarded(call: ToolCall) -> Iterator[None]:
    """Make `call` the one this thread is running (backends read it with current_guard / in_dry_run)."""
    token = _CURRENT_CALL.set(call)
    try:
        yield
    finally:
        _CURRENT_CALL.reset(token)


def current_guard() -> CallGuard | None:
    call = _CURRENT_CALL.get()
    return call.guard if call is not None else None


def in_dry_run() -> bool:
    """True while a dry run's read-only lookup runs: it must not open anything on screen either."""
    call = _CURRENT_CALL.get()
    return bool(call is not None and call.dry_run)


def begin_effect() -> None:
    """Called by a backend right before it changes something: stops here if the call is abandoned."""
    guard = current_guard()
    if guard is not None:
        guard.begin_effect()


@dataclass
class ToolCall:
    tool: ToolSpec
    args: dict[str, Any]  # resolved arguments, by parameter name
    # Filled in by `prepare`: text the backend will use (e.g. {"body": ...}) and a one-line
    # description of what the call changes, for the confirmation prompt.
    extras: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    # The user's request this call serves: the writer drafts from it when the plan left the
    # text empty (TinyAgent trains its planner to leave an email's context empty).
    request: str = ""
    guard: CallGuard = field(default_factory=CallGuard, repr=False, compare=False)
    dry_run: bool = False  # a dry run's lookup: read, but show nothing on screen


class ContentWriter(Protocol):
    """Writes the text a tool needs from a short instruction (the planner's sub-agents).

    `request` is the user's own request; `thread` the email being replied to or forwarded.
    A writer falls back to the plan's own words rather than fail; what may still escape one
    is in WRITER_ERRORS, and becomes the tool's ToolError.
    """

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "",
                   request: str = "", thread: str = "") -> str: ...

    def note_content(self, content: str, *, name: str, request: str = "") -> str: ...

    def summarize(self, text: str, *, title: str = "") -> str: ...


# What a model-backed writer can still raise: llama.cpp's RuntimeError, I/O, text it cannot decode.
WRITER_ERRORS = (RuntimeError, OSError, ValueError)


class PlainWriter:
    """The writer used without a model: the plan's own words, and an extractive summary."""

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "",
                   request: str = "", thread: str = "") -> str:
        return (context or "").strip() or what_request_says(request)

    def note_content(self, content: str, *, name: str, request: str = "") -> str:
        return (content or "").strip() or what_request_says(request)

    def summarize(self, text: str, *, title: str = "") -> str:
        return extractive_summary(text)


_SAYING = re.compile(r"\b(?:saying|that says|to say|telling (?:him|her|them) that|telling|that|about|with)\s+(.+)$",
                     re.IGNORECASE | re.DOTALL)


def what_request_says(request: str) -> str:
    """Without a model, the words of the request that say what to write ("... saying X" -> "X").

    Never empty when the request is not: a draft the user sees (and approves) beats an empty one.
    """
    text = " ".join((request or "").split())
    match = _SAYING.search(text)
    said = re.sub(r"^(?:that|about)\s+", "", (match.group(1) if match else text).strip().rstrip("."),
                  flags=re.IGNORECASE)
    return (said[:1].upper() + said[1:] + ".") if said else ""


def extractive_summary(text: str, max_sentences: int = 3, max_chars: int = 600) -> str:
    """The first few sentences of a text, whitespace folded: a summary that never invents."""
    flat = " ".join(text.split())
    if not flat:
        return "(the document has no extractable text)"
    sentences = re.split(r"(?<=[.!?])\s+", flat)
    out = " ".join(sentences[:max_sentences])
    return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…"


@runtime_checkable
class Backend(Protocol):
    """What the executor calls, and what it may count on. A backend subclasses this (BaseBackend
    does) and so gets each capability's default; a capability is declared here, never guessed."""

    name: str  # "sandbox" or "applescript"

    @property
    def runs_inline(self) -> bool:
        """True when prepare/invoke never block: the executor calls them on its event loop,
        without a worker thread (a benchmark's no-op backend). Then no timeout can stop them."""
        return False

    @property
    def honours_guard(self) -> bool:
        """True when the backend calls `begin_effect()` before every change, so an abandoned call
        is known to have changed nothing; for others a stopped write is "unknown"."""
        return False

    def prepare(self, call: ToolCall) -> ToolCall: ...

    def invoke(self, call: ToolCall) -> Any: ...


class ForRequest(Backend):
    """A backend as seen by one request's executor: every call carries the user's request.

    Its name and capabilities are the wrapped backend's.
    """

    def __init__(self, backend: Backend, request: str):
        self._backend = backend
        self._request = request

    @property
    def name(self) -> str:  # type: ignore[override]  # read-only here: the wrapped backend's
        return self._backend.name

    @property
    def runs_inline(self) -> bool:
        return self._backend.runs_inline

    @property
    def honours_guard(self) -> bool:
        return self._backend.honours_guard

    def prepare(self, call: ToolCall) -> ToolCall:
        call.request = call.request or self._request
        return self._backend.prepare(call)

    def invoke(self, call: ToolCall) -> Any:
        call.request = call.request or self._request
        return self._backend.invoke(call)
