"""A real LocalLLM whose generations are scripted: the tests decide what "the model" says.

It loads the tiny random-weight GGUF (so tokenizing, templates, context sizes and closing are
llama.cpp's own), and only the generation step is replaced: what random weights write depends
on the CPU's arithmetic (AVX2 and AVX-512 machines disagree), so no test may depend on it."""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from pathlib import Path

from core.planner.llm import GenerationStats, LocalLLM


class ScriptedLLM(LocalLLM):
    """Says the next of `replies` for each generation, a few characters a chunk as a model
    streams; once they run out it says nothing. `prompts` records what it was asked."""

    def __init__(self, path: Path, replies: Sequence[str], chunk: int = 5):
        super().__init__(path, n_ctx=512, n_threads=1)
        self.replies = list(replies)
        self.chunk = chunk
        self.prompts: list[str] = []

    def _generate(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                  stop: Sequence[str], cancel: threading.Event, special: bool = False,
                  min_room: int = 8) -> Generator[str, None, GenerationStats]:
        self.prompts.append(prompt)
        reply = self.replies.pop(0) if self.replies else ""
        for start in range(0, len(reply), self.chunk):
            yield reply[start:start + self.chunk]
        return GenerationStats(len(prompt), len(prompt), len(reply), 0.0, 0.0, "stop")
