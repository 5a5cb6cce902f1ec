"""MCP servers' tools ranked for a request by the built-in encoder's sentence similarity.

The ToolRAG classifiers score the 16 built-in tools they were trained on; a tool a server
brings at run time has no output of theirs. It is ranked instead by the cosine similarity of
the request's embedding (the built-in MiniLM's mean-pooled vector, embed.py's
`default_encoder`, the one that ranks the in-context examples) to the embedding of the tool's
name and one-line description (core/tool_text.py). Each tool text is embedded once per
session (kept here, by text, so a server that changes a description gets a new vector); a
request costs one encoder run. Tools at or above `threshold` are picked, the most similar
first, at most `max_tools` of them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinyagent.core.tool_text import similarity_text
from tinyagent.core.toolrag.classifier import ToolClassifier
from tinyagent.tools.spec import ToolSpec


@dataclass(frozen=True)
class SimilarTools:
    """The MCP tools for one request: every one's similarity, and the ones picked."""

    similarities: dict[str, float]  # tool name -> cosine similarity to the request (-1..1)
    selected: tuple[str, ...]  # most similar first
    threshold: float


class ToolSimilarity:
    """Ranks tools by similarity to a request. One per session; safe to call from worker threads."""

    def __init__(self, encoder: ToolClassifier, threshold: float, max_tools: int):
        self.encoder = encoder
        self.threshold = threshold
        self.max_tools = max_tools
        self._vectors: dict[str, np.ndarray] = {}  # tool text -> its unit vector
        self._lock = threading.Lock()

    def vectors(self, tools: Sequence[ToolSpec]) -> np.ndarray:
        """One unit vector per tool, each text embedded the first time it is seen."""
        texts = [similarity_text(t) for t in tools]
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            found = self.encoder.embeddings(missing)
            with self._lock:
                self._vectors.update(zip(missing, found))
        with self._lock:
            return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    def rank(self, request: str, tools: Sequence[ToolSpec]) -> SimilarTools:
        if not tools:
            return SimilarTools({}, (), self.threshold)
        query = self.encoder.embeddings([request])[0]
        scores = self.vectors(tools) @ query
        similarities = {t.name: round(float(s), 6) for t, s in zip(tools, scores)}
        over = sorted((n for n, s in similarities.items() if s >= self.threshold), key=lambda n: -similarities[n])
        return SimilarTools(similarities, tuple(over[: self.max_tools]), self.threshold)
