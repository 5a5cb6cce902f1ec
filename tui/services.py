"""What the app needs from the core, as factories a test may swap for its own.

Native runtimes (llama.cpp, PortAudio, whisper.cpp) load only when a pipeline, recorder or
transcriber first uses them, so the app starts without any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tinyagent.core import modelstore
from tinyagent.core.config import Config
from tinyagent.core.events import AudioLevel
from tinyagent.core.history import HistoryStore
from tinyagent.core.modelstore import ModelChoice, ModelEntry, PlannerChoice, Progress, PypiOptions
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.server_url import ServerURLError, parse_server_url
from tinyagent.core.voice.capture import Recorder
from tinyagent.core.voice.transcribe import Transcriber


class ModelStore(Protocol):
    """tinyagent.core.modelstore's functions the app uses. The module itself is the default store (a module
    satisfies a protocol of functions), a test's fake is a class of these methods."""

    def status(self) -> list[tuple[ModelEntry, Path | None]]: ...

    def pull(self, name: str, progress: Progress | None = None, *, pypi: PypiOptions = ...) -> Path: ...

    def planner_choice(self, configured: str = "") -> PlannerChoice: ...

    def model_choice(self, kind: str, configured: str = "") -> ModelChoice: ...


def default_recorder(config: Config, on_level: Callable[[AudioLevel], None]) -> Recorder:
    return Recorder.from_config(config.voice, on_level=on_level)


def default_model_store() -> ModelStore:
    return modelstore


@dataclass
class Services:
    config: Config = field(default_factory=Config)
    pipeline_factory: Callable[[Config], Pipeline] = Pipeline
    recorder_factory: Callable[[Config, Callable[[AudioLevel], None]], Recorder] = default_recorder
    transcriber_factory: Callable[[Config], Transcriber] = Transcriber.from_config
    model_store_factory: Callable[[], ModelStore | None] = default_model_store
    history: HistoryStore | None = None

    def __post_init__(self) -> None:
        if self.history is None:
            self.history = HistoryStore.default()


def model_label(config: Config) -> str:
    """A short name for the planner model in the status line ("qwen.gguf @ 127.0.0.1:8080" on a server)."""
    name = config.models.planner
    label = name.rsplit("/", 1)[-1] if name else "TinyAgent-1.1B"
    if config.planner.server:
        try:
            where = parse_server_url(config.planner.server).label
        except ServerURLError:  # the config refuses it; the pipeline says so
            where = config.planner.server
        return f"{label if name else 'planner'} @ {where}"
    return label


def model_rows(store: ModelStore) -> list[dict[str, Any]]:
    """The store's models as rows {name, present, kind, detail, size, default}."""
    return [{"name": entry.name, "present": path is not None, "kind": entry.kind,
             "detail": entry.description or entry.approx_size, "size": entry.size or entry.approx_size or None,
             "default": entry.default} for entry, path in store.status()]
