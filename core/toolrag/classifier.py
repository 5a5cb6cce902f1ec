"""The ToolRAG classifier runtime: onnxruntime + a `tokenizers` tokenizer, loaded once.

A model dir holds `model.onnx` (inputs input_ids / attention_mask [/ token_type_ids],
output: logits [batch, labels]), `tokenizer.json`, and optionally `toolrag.json` with
{"labels": [...], "max_length": N, "threads": N}. Without it the labels are the published
TinyAgent-ToolRAG order. The built-in MiniLM model, the compact one and a converted DeBERTa
use the same code; a graph may also give an `embedding` output (used for example retrieval).
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from tinyagent.core.config import MAX_THREADS
from tinyagent.tools.registry import REGISTRY

# Output order of squeeze-ai-lab/TinyAgent-ToolRAG (not the registry's order).
LABELS: tuple[str, ...] = (
    "create_calendar_event", "get_phone_number", "get_email_address", "open_and_get_file_path",
    "summarize_pdf", "compose_new_email", "reply_to_email", "forward_email", "maps_open_location",
    "maps_show_directions", "create_note", "open_note", "append_note_content", "create_reminder",
    "send_sms", "get_zoom_meeting_link",
)

META_FILE = "toolrag.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
BUILTIN_NAME = "toolrag-minilm"  # fine-tuned all-MiniLM-L6-v2; models/toolrag-compact is the 0.3 ms option
EMBEDDING_OUTPUT = "embedding"  # optional second output: mean-pooled, L2-normalised sentence vectors


class ToolRAGError(RuntimeError):
    """A model dir that cannot be used; the message says which file and why."""


def builtin_model_dir() -> Path:
    """models/toolrag-minilm, shipped inside the `models` package."""
    try:
        root = Path(str(resources.files("tinyagent.models")))
    except (ModuleNotFoundError, TypeError):
        root = Path(__file__).resolve().parents[2] / "models"
    return root / BUILTIN_NAME


def _read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / META_FILE
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolRAGError(f"{path}: cannot read it: {exc}") from None
    except RecursionError:  # absurdly deep nesting exhausts the decoder's stack
        raise ToolRAGError(f"{path}: cannot read it: nested too deeply") from None
    if not isinstance(meta, dict):
        raise ToolRAGError(f"{path}: expected a JSON object")
    return meta


def _check_labels(labels: Any, where: Path) -> tuple[str, ...]:
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ToolRAGError(f"{where}: 'labels' must be a list of tool names")
    unknown = [x for x in labels if x not in REGISTRY]
    if unknown or len(set(labels)) != len(labels):
        raise ToolRAGError(f"{where}: 'labels' has unknown or repeated tools: {', '.join(unknown) or 'repeats'}")
    return tuple(labels)


MAX_LENGTH_LIMIT = 8192  # tokens; the encoders here take 128-512, and more would only waste memory


def _check_int(meta: dict[str, Any], key: str, default: int, low: int, high: int, where: Path) -> int:
    """meta[key] as an int in low..high (a JSON bool or float is not a count)."""
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolRAGError(f"{where}: {key!r} must be a whole number from {low} to {high}, not {value!r}"[:300])
    return value


def onnxruntime_errors(ort: Any) -> tuple[type[BaseException], ...]:
    """What onnxruntime raises on a bad model: its own classes (plain Exception subclasses in
    onnxruntime.capi.onnxruntime_pybind11_state, not all present in every version) and the
    built-in ones its Python layer uses."""
    state = getattr(getattr(ort, "capi", None), "onnxruntime_pybind11_state", None)
    names = ("Fail", "InvalidArgument", "InvalidProtobuf", "InvalidGraph", "NoSuchFile", "NoModel",
             "RuntimeException", "NotImplemented", "EPFail", "ModelLoaded", "EngineError")
    own = [c for c in (getattr(state, n, None) for n in names) if isinstance(c, type) and issubclass(c, BaseException)]
    return (*own, RuntimeError, ValueError, OSError, TypeError)


class ToolClassifier:
    """Request text -> a probability per tool (sigmoid of the model's logits). Thread-safe."""

    def __init__(self, session: Any, tokenizer: Any, labels: tuple[str, ...], max_length: int, model_dir: Path,
                 errors: tuple[type[BaseException], ...] = ()):
        self._session = session
        self._tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        self.model_dir = model_dir
        self._inputs = {i.name for i in session.get_inputs()}
        self._outputs = [o.name for o in session.get_outputs()]
        self._lock = threading.Lock()  # one encode at a time: cheap, and safe from any thread
        self._errors = errors  # what the runtime raises on a graph that cannot run an input

    @classmethod
    def load(cls, model_dir: Path | str | None = None) -> ToolClassifier:
        model_dir = Path(model_dir).expanduser() if model_dir else builtin_model_dir()
        model_path, tok_path = model_dir / MODEL_FILE, model_dir / TOKENIZER_FILE
        for path in (model_path, tok_path):
            if not path.is_file():
                raise ToolRAGError(f"ToolRAG model dir {model_dir} has no {path.name}")
        meta = _read_meta(model_dir)
        labels = _check_labels(meta["labels"], model_dir / META_FILE) if "labels" in meta else LABELS
        max_length = _check_int(meta, "max_length", 256, 1, MAX_LENGTH_LIMIT, model_dir / META_FILE)
        threads = _check_int(meta, "threads", 0, 0, MAX_THREADS, model_dir / META_FILE)  # 0: onnxruntime's default

        try:
            import onnxruntime as ort  # heavy: loaded only with a model
        except ImportError as exc:
            raise ToolRAGError(f"onnxruntime is not installed ({exc}); ToolRAG needs it to run {model_path}") from None
        try:
            tokenizer = Tokenizer.from_file(str(tok_path))
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length)
        except Exception as exc:  # tokenizers raises a bare Exception (no subclass) on a bad file
            raise ToolRAGError(f"{tok_path}: not a tokenizers file: {exc}") from None
        errors = onnxruntime_errors(ort)
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.log_severity_level = 4  # fatal only: a graph that cannot load is reported once, by us
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except errors as exc:
            raise ToolRAGError(f"{model_path}: onnxruntime cannot load it: {exc}") from None
        missing = {"input_ids", "attention_mask"} - {i.name for i in session.get_inputs()}
        if missing:
            raise ToolRAGError(f"{model_path}: the graph lacks input(s) {', '.join(sorted(missing))}")
        if not session.get_outputs():
            raise ToolRAGError(f"{model_path}: the graph has no output")
        classifier = cls(session, tokenizer, labels, max_length, model_dir, errors)
        classifier._logits(["check"])  # a graph that loads but cannot run on a request, or gives odd logits
        return classifier

    def _feed(self, queries: list[str]) -> dict[str, np.ndarray]:
        try:
            with self._lock:
                encodings = self._tokenizer.encode_batch(queries)
        except Exception as exc:  # tokenizers raises a bare Exception, e.g. a WordPiece vocab without [UNK]
            raise ToolRAGError(f"{self.model_dir / TOKENIZER_FILE}: cannot encode the request: {exc}"[:300]) from None
        width = max(1, max(len(e.ids) for e in encodings))
        ids = np.zeros((len(queries), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return feed

    def _logits(self, queries: list[str]) -> np.ndarray:
        """One row of len(labels) scores per query; any other shape is a broken graph, not a crash later."""
        model_path = self.model_dir / MODEL_FILE
        feed = self._feed(queries)
        try:
            logits = np.asarray(self._session.run(self._outputs[:1], feed)[0], dtype=np.float64)
        except self._errors as exc:
            raise ToolRAGError(f"{model_path}: onnxruntime cannot run it: {exc}"[:300]) from None
        if logits.ndim != 2 or logits.shape[0] != len(queries):
            raise ToolRAGError(f"{model_path}: the graph gives logits of shape {logits.shape}, not "
                               f"one row of {len(self.labels)} scores per request")
        if logits.shape[1] != len(self.labels):
            raise ToolRAGError(f"{model_path}: the graph gives {logits.shape[1]} outputs but there are "
                               f"{len(self.labels)} labels")
        return logits

    @property
    def has_embeddings(self) -> bool:
        """Whether the graph also gives sentence embeddings (the MiniLM model does; compact, DeBERTa not)."""
        return EMBEDDING_OUTPUT in self._outputs

    def embeddings(self, queries: list[str]) -> np.ndarray:
        """One unit-length vector per query (the graph's mean-pooled `embedding` output)."""
        if not self.has_embeddings:
            raise ToolRAGError(f"{self.model_dir / MODEL_FILE}: the graph has no '{EMBEDDING_OUTPUT}' output")
        if not queries:
            return np.zeros((0, 0), dtype=np.float32)
        feed = self._feed([q if q.strip() else " " for q in queries])
        return np.asarray(self._session.run([EMBEDDING_OUTPUT], feed)[0], dtype=np.float32)

    def probabilities_batch(self, queries: list[str]) -> list[dict[str, float]]:
        if not queries:
            return []
        probs = 1.0 / (1.0 + np.exp(-self._logits([q if q.strip() else " " for q in queries])))
        return [dict(zip(self.labels, map(float, row))) for row in probs]

    def probabilities(self, query: str) -> dict[str, float]:
        """A probability for every tool the model knows, keyed by tool name."""
        return self.probabilities_batch([query])[0]
