"""LocalLLM on real llama.cpp with random-weight GGUF files written by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time

import pytest

from core.planner.grammar import GrammarError
from core.planner.llm import LocalLLM, ModelError, ModelLoadError, resolve_model_path, want_extra_bufts
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def llm(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1)
    yield model
    model.close()


# -- loading ----------------------------------------------------------------------------------
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        LocalLLM(tmp_path / "nope.gguf")


def test_not_a_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        LocalLLM(bad)


def test_truncated_gguf_is_a_clear_error(tmp_path, tiny_gguf):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:200_000])
    with pytest.raises(ModelLoadError, match="could not load"):
        LocalLLM(cut)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="not a file"):
        LocalLLM(tmp_path)


def test_no_model_configured_says_what_to_do():
    with pytest.raises(ModelLoadError, match="--model PATH"):
        resolve_model_path("")


def test_extra_bufts_setting():
    assert want_extra_bufts("on") is True and want_extra_bufts("off") is False
    assert want_extra_bufts(False) is False
    with pytest.raises(ModelLoadError, match="auto, on or off"):
        want_extra_bufts("sometimes")


def test_quantized_model_generates_without_crashing(tmp_path):
    """Q4_0 segfaults on AMX CPUs unless extra buffer types are off: run it in a child process."""
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from tests.gguf_model import write_random_llama_gguf\n"
        "from core.planner.llm import LocalLLM\n"
        f"p = write_random_llama_gguf({str(tmp_path / 'q4.gguf')!r}, vocab_file=None, dtype='q4_0')\n"
        "llm = LocalLLM(p, n_ctx=256, n_threads=1)\n"
        "print(repr(llm.complete('hello', max_tokens=8)), llm.last_stats.generated_tokens)\n"
        "llm.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith(" 8")


def test_llama_cpp_logs_stay_off_the_terminal(tiny_gguf):
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from core.planner.llm import LocalLLM\n"
        f"llm = LocalLLM({str(tiny_gguf)!r}, n_ctx=256, n_threads=1)\n"
        "llm.complete('hi', max_tokens=4)\n"
        "llm.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.strip() == "" and out.stdout.strip() == ""


# -- generating --------------------------------------------------------------------------------
def test_invalid_grammar_is_refused_not_a_crash(llm):
    with pytest.raises(GrammarError):
        llm.complete("hi", grammar='root ::= "a" missing-rule', max_tokens=4)
    assert llm.complete("hi", grammar='root ::= "ok"', max_tokens=8) == "ok"


def test_prompt_longer_than_context_is_an_error(llm):
    with pytest.raises(ModelError, match="context holds"):
        llm.complete("word " * 3000, max_tokens=4)


async def test_stream_yields_text_and_stats(llm):
    chunks = [c async for c in llm.stream("Question: hello\n", max_tokens=12)]
    assert chunks and all(isinstance(c, str) for c in chunks)
    stats = llm.last_stats
    assert stats.generated_tokens == 12 and stats.finish_reason == "length"
    assert stats.prompt_tokens > 0


async def test_cancelling_the_consumer_stops_generation_quickly(llm):
    consumed = 0
    async with contextlib.aclosing(llm.stream("Tell me a long story.\n", max_tokens=1500)) as chunks:
        async for _ in chunks:
            consumed += 1
            if consumed == 3:
                break
    # Closing the stream stops the model within a token or two; the worker is free again at once.
    stopped = await asyncio.wrap_future(llm.submit(lambda: llm.last_stats))
    assert stopped.finish_reason == "cancelled" and stopped.generated_tokens <= consumed + 3
    started = time.monotonic()
    assert await asyncio.to_thread(llm.complete, "x", max_tokens=1) is not None
    assert time.monotonic() - started < 5
    assert llm.last_stats.generated_tokens == 1
    task = asyncio.ensure_future(_drain(llm))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    llm.complete("y", max_tokens=1)


async def _drain(llm):
    async for _ in llm.stream("Another long story.\n", max_tokens=5000):
        pass


async def test_streaming_never_blocks_the_event_loop(llm):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.ensure_future(ticker())
    started = time.monotonic()
    async for _ in llm.stream("Question: hi\n", max_tokens=200):
        pass
    elapsed = time.monotonic() - started
    t.cancel()
    assert ticks >= min(10, elapsed / 0.005 / 4)


async def test_writer_call_during_a_stream_waits_then_runs(llm):
    """A sync call from a tool thread while a plan streams: queued, never deadlocked."""
    result: dict = {}

    def tool_thread():
        result["text"] = llm.complete("note:", max_tokens=5, timeout=60)

    thread = None
    async for _ in llm.stream("Question: plan\n", max_tokens=60):
        if thread is None:
            thread = threading.Thread(target=tool_thread)
            thread.start()
    await asyncio.to_thread(thread.join, 60)
    assert "text" in result


async def test_second_request_reuses_the_shared_prefix(llm):
    prefix = "Rules: " + "write a plan step by step. " * 60
    [c async for c in llm.stream(prefix + "Question: first one\n", max_tokens=2)]
    first = llm.last_stats
    [c async for c in llm.stream(prefix + "Question: the second\n", max_tokens=2)]
    second = llm.last_stats
    assert first.prompt_tokens > 300
    assert second.prompt_tokens_evaluated < 20 < second.prompt_tokens
    assert second.cached_tokens >= first.prompt_tokens - 20


def test_complete_timeout_gives_up_cleanly(llm):
    with pytest.raises(ModelError, match="did not answer"):
        llm.complete("slow", max_tokens=1800, timeout=0.05)
    assert llm.complete("ok", max_tokens=1) is not None


def test_closed_model_refuses_work(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1)
    model.close()
    with pytest.raises(ModelError, match="closed"):
        model.complete("hi", max_tokens=2)
