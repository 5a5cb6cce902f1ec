"""A real LocalLLM whose generations are scripted: the tests decide what "the model" says.

It loads the tiny random-weight GGUF (so tokenizing, templates, context sizes and closing are
llama.cpp's own), and only the generation step is replaced: what random weights write depends
on the CPU's arithmetic (AVX2 and AVX-512 machines disagree), so no test may depend on it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Generator, Sequence
from pathlib import Path

from tinyagent.core.planner.llm import GenerationStats, LocalLLM


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


class EndlessLLM(LocalLLM):
    """A generation whose prompt contains one of `endless` opens a plan step and never finishes it: it
    ends only when cancelled (a timeout, a closed stream, a cancelled request). Other prompts
    get llama.cpp's own generation. A test of stopping a generation must not hang on how soon
    random weights reach an end, which depends on the CPU. `started` and `stopped` count the
    endless generations begun and those that saw their cancel."""

    def __init__(self, path: Path, endless: Collection[str], **kwargs):
        super().__init__(path, **{"n_ctx": 512, "n_threads": 1, **kwargs})
        self.endless = set(endless)
        self.started = self.stopped = 0

    def _generate(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                  stop: Sequence[str], cancel: threading.Event, special: bool = False,
                  min_room: int = 8) -> Generator[str, None, GenerationStats | None]:
        if not any(text in prompt for text in self.endless):
            return (yield from super()._generate(prompt, grammar=grammar, max_tokens=max_tokens,
                                                 temperature=temperature, stop=stop, cancel=cancel,
                                                 special=special, min_room=min_room))
        self.started += 1
        yield '1. send_sms(["Sid"], "'
        tokens = 1
        while not cancel.wait(0.002):  # a token every 2 ms, for as long as nobody stops it
            yield "la"
            tokens += 1
        self.stopped += 1
        return GenerationStats(len(prompt), len(prompt), tokens, 0.0, 0.0, "cancelled")


async def until_started(llm: EndlessLLM, count: int = 1, timeout: float = 60.0) -> None:
    """Until `count` endless generations have begun (the timeout only guards against a hang)."""
    for _ in range(int(timeout / 0.01)):
        if llm.started >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the model never began generation {count}")
