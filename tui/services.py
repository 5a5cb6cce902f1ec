"""What the app needs from the core, as injectable factories (tests swap any of them).

Each factory imports its module when first used, so the app starts fast; native runtimes
(llama.cpp, PortAudio, whisper.cpp) load later still, and their absence is a clear message
when the feature is used, never a failure to start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.config import Config
from core.history import HistoryStore


def default_pipeline(config: Config) -> Any:
    """The one request pipeline; it loads the model and makes the tool backend when first needed."""
    from core.pipeline import Pipeline

    return Pipeline(config)


def default_recorder(config: Config, on_level: Callable[[Any], None]) -> Any:
    from core.voice.capture import Recorder

    return Recorder.from_config(config.voice, on_level=on_level)


def default_transcriber(config: Config) -> Any:
    from core.voice.transcribe import Transcriber

    return Transcriber.from_config(config)


def default_model_store() -> Any | None:
    import core.modelstore

    return core.modelstore


@dataclass
class Services:
    config: Config = field(default_factory=Config)
    pipeline_factory: Callable[[Config], Any] = default_pipeline
    recorder_factory: Callable[[Config, Callable[[Any], None]], Any] = default_recorder
    transcriber_factory: Callable[[Config], Any] = default_transcriber
    model_store_factory: Callable[[], Any | None] = default_model_store
    history: HistoryStore | None = None

    def __post_init__(self) -> None:
        if self.history is None:
            self.history = HistoryStore.default()


def model_label(config: Config) -> str:
    """A short name for the planner model in the status line."""
    name = config.models.planner
    if not name:
        return "TinyAgent-1.1B"
    return name.rsplit("/", 1)[-1]


def model_rows(store: Any) -> list[dict[str, Any]]:
    """The model store's status as rows {name, present, detail, size}, whatever its shape."""
    if store is None:
        return []
    raw = store.status() if hasattr(store, "status") else store.list_models()
    if isinstance(raw, dict):
        items = [{"name": k, **(v if isinstance(v, dict) else {"present": v})} for k, v in raw.items()]
    else:
        items = list(raw)
    rows = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:  # (ModelEntry, Path | None)
            entry, path = item
            rows.append({"name": str(getattr(entry, "name", entry)), "present": path is not None,
                         "kind": getattr(entry, "kind", ""),
                         "detail": getattr(entry, "description", "") or getattr(entry, "approx_size", ""),
                         "size": getattr(entry, "size", None) or getattr(entry, "approx_size", None),
                         "default": bool(getattr(entry, "default", False))})
            continue
        get = item.get if isinstance(item, dict) else (lambda k, d=None, _i=item: getattr(_i, k, d))
        present = get("present", None)
        if present is None:
            present = bool(get("path", None)) and get("missing", False) is False
        if not isinstance(present, bool):
            present = bool(present)
        rows.append({"name": str(get("name", "?")), "present": present,
                     "detail": str(get("description", "") or get("path", "") or get("kind", "") or ""),
                     "size": get("size", None) or get("size_bytes", None), "kind": str(get("kind", "") or ""),
                     "default": bool(get("default", False))})
    return rows
