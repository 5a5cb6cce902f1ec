"""Example retrieval by the ToolRAG encoder's sentence embeddings (cosine similarity).

The built-in MiniLM graph gives, next to the 16 logits, the request's mean-pooled unit-length
vector. The example pool's vectors are computed once per pool content and model, kept in
memory and in <cache dir>/toolrag-embeddings/<key>.npy (so the CLI does not recompute them
on every run); the request's vector is computed at request time. Any failure to read or
write the disk cache only costs a recomputation.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyagent.core.config import cache_dir
from tinyagent.core.toolrag.classifier import MODEL_FILE, ToolClassifier, ToolRAGError, builtin_model_dir

CACHE_SUBDIR = "toolrag-embeddings"
EMBED_BATCH = 64  # texts per encoder call: the pool's size must not set the memory (30,000 at once took 24 GB)
_memory: dict[str, np.ndarray] = {}
_lock = threading.Lock()
_fingerprints: dict[tuple[str, int, int], str] = {}
_default: list[ToolClassifier | None] = []  # loaded once per process; [None] = not available


def model_fingerprint(classifier: ToolClassifier) -> str:
    """SHA-256 of the model file (cached per path, size and mtime): a retrained model gets new vectors."""
    path = Path(classifier.model_dir) / MODEL_FILE
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _fingerprints:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _fingerprints[key] = digest.hexdigest()
    return _fingerprints[key]


def pool_key(classifier: ToolClassifier, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(model_fingerprint(classifier).encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()[:32]


def _cache_file(key: str) -> Path:
    return cache_dir() / CACHE_SUBDIR / f"{key}.npy"


def embed_in_batches(classifier: ToolClassifier, texts: Sequence[str], batch_size: int = EMBED_BATCH) -> np.ndarray:
    """The embeddings of `texts`, `batch_size` of them per onnxruntime run: memory bounded by the
    batch (the activations grow with batch x tokens), not by the pool."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    out: np.ndarray | None = None
    for start in range(0, len(texts), batch_size):
        part = classifier.embeddings(list(texts[start : start + batch_size]))
        if out is None:  # one array for the whole pool (30,000 x 384 floats: 46 MB), filled in place
            out = np.empty((len(texts), part.shape[1]), dtype=np.float32)
        out[start : start + len(part)] = part
    assert out is not None
    return out


def pool_vectors(classifier: ToolClassifier, texts: Sequence[str]) -> np.ndarray:
    """The embeddings of `texts`, from memory, the disk cache, or (once) the encoder."""
    key = pool_key(classifier, texts)
    with _lock:
        if key in _memory:
            return _memory[key]
    path = _cache_file(key)
    vectors = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if loaded.ndim == 2 and loaded.shape[0] == len(texts):
            vectors = loaded.astype(np.float32)
    except (OSError, ValueError):
        pass
    if vectors is None:
        vectors = embed_in_batches(classifier, texts, EMBED_BATCH)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        except OSError:
            pass
    with _lock:
        _memory[key] = vectors
    return vectors


class EmbeddingIndex:
    """Cosine similarity of a request to each of `texts`, mapped to 0..1 ((1 + cos) / 2)."""

    def __init__(self, classifier: ToolClassifier, texts: Sequence[str]):
        self.classifier = classifier
        self.vectors = pool_vectors(classifier, texts) if texts else np.zeros((0, 0), np.float32)
        self._last: tuple[str, np.ndarray] | None = None  # pick() asks once per example, same request

    def scores(self, query: str) -> np.ndarray:
        last = self._last
        if last is None or last[0] != query:
            vector = self.classifier.embeddings([query])[0]
            last = self._last = (query, (1.0 + self.vectors @ vector) / 2.0)
        return last[1]

    def similarity(self, query: str, index: int) -> float:
        return float(self.scores(query)[index])


def default_encoder() -> ToolClassifier | None:
    """The built-in model, when its graph gives embeddings; None (callers fall back to BM25) if not."""
    with _lock:
        if _default:
            return _default[0]
    classifier: ToolClassifier | None
    try:
        loaded = ToolClassifier.load(builtin_model_dir())
        classifier = loaded if loaded.has_embeddings else None
    except ToolRAGError:  # the ToolRAG stage says so (a Notice); examples fall back to BM25
        classifier = None
    with _lock:
        if not _default:
            _default.append(classifier)
        return _default[0]
