"""LocalLLM on real llama.cpp with random-weight GGUF files written by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT
from tests.support.scripted_llm import EndlessLLM, until_started
from tinyagent.core.planner.grammar import GrammarError
from tinyagent.core.planner.llm import (
    CachedState,
    LocalLLM,
    ModelError,
    ModelLoadError,
    PrefixCache,
    common_prefix,
    plan_reuse,
    want_extra_bufts,
    yield_each,
)
from tinyagent.core.planner_model import resolve_model_path

LETTERS = "root ::= [a-z]{120}"  # a text of exactly 120 letters: no weights can end it sooner


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
    with pytest.raises(ModelLoadError, match="is truncated"):
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
        "from tests.support.gguf_model import write_random_llama_gguf\n"
        "from tinyagent.core.planner.llm import LocalLLM\n"
        f"p = write_random_llama_gguf({str(tmp_path / 'q4.gguf')!r}, vocab_file=None, dtype='q4_0')\n"
        "llm = LocalLLM(p, n_ctx=256, n_threads=1)\n"
        "done = llm.complete('hello', max_tokens=8)\n"
        "print(repr(done.text), done.stats.generated_tokens)\n"
        "llm.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith(" 8")


def test_llama_cpp_logs_stay_off_the_terminal(tiny_gguf):
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from tinyagent.core.planner.llm import LocalLLM\n"
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
    assert llm.complete("hi", grammar='root ::= "ok"', max_tokens=8).text == "ok"


def test_prompt_longer_than_context_is_an_error(llm):
    with pytest.raises(ModelError, match="context holds"):
        llm.complete("word " * 3000, max_tokens=4)


async def test_stream_yields_text_and_stats(llm):
    stream = llm.stream("Question: hello\n", grammar=LETTERS, max_tokens=12)  # no end of text before 12 tokens
    assert stream.stats is None  # nothing has run yet
    chunks = [c async for c in stream]
    assert chunks and all(isinstance(c, str) for c in chunks)
    stats = stream.stats
    assert stats is not None and stats.generated_tokens == 12 and stats.finish_reason == "length"
    assert stats.prompt_tokens > 0


async def test_cancelling_the_consumer_stops_generation(tiny_gguf):
    # Generations that end only when cancelled: random weights may reach an end of text at
    # once or never, depending on the CPU (the model's own check is the test below).
    llm = EndlessLLM(tiny_gguf, endless={"Tell me a long story.\n", "Another long story.\n"})
    try:
        consumed = 0
        async with contextlib.aclosing(llm.stream("Tell me a long story.\n", max_tokens=1500)) as chunks:
            async for _ in chunks:
                consumed += 1
                if consumed == 3:
                    break
        # Closing the stream cancels the generation; the worker is free again for the next call.
        await asyncio.wrap_future(llm.submit(lambda: None))  # the stream's job has ended
        stopped = chunks.stats
        assert stopped is not None and stopped.finish_reason == "cancelled" and llm.stopped == 1
        done = await asyncio.to_thread(llm.complete, "x", max_tokens=1)  # llama.cpp's own from here
        assert done.stats is not None and done.stats.generated_tokens == 1
        task = asyncio.ensure_future(_drain(llm))
        await until_started(llm, 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wrap_future(llm.submit(lambda: None))
        assert llm.stopped == 2  # cancelling the consuming task cancelled the generation too
        llm.complete("y", max_tokens=1)
    finally:
        llm.close()


def test_the_model_stops_at_the_first_token_after_its_cancel(llm):
    """llama.cpp's generation loop checks the cancel before each token it hands out."""
    cancel = threading.Event()

    def job():
        gen = llm._generate("Tell me a long story.\n", grammar=LETTERS, max_tokens=1500, temperature=0.0,
                            stop=(), cancel=cancel)
        first = next(gen)
        cancel.set()
        rest: list[str] = []
        return first, rest, yield_each(gen, rest.append)

    first, rest, stats = llm.submit(job).result(timeout=60)
    assert first and rest == []
    assert stats is not None and stats.finish_reason == "cancelled" and stats.generated_tokens == 1
    assert llm.complete("y", max_tokens=1) is not None


async def _drain(llm):
    async for _ in llm.stream("Another long story.\n", max_tokens=5000):
        pass


async def test_streaming_never_blocks_the_event_loop(llm):
    received = 0
    seen_by_ticker: list[int] = []  # chunks received at each turn of the loop

    async def ticker():
        while True:
            seen_by_ticker.append(received)
            await asyncio.sleep(0.001)

    t = asyncio.ensure_future(ticker())
    # The grammar makes the text 120 letters long whatever the weights (no early end of text).
    async for _ in llm.stream("Question: hi\n", grammar=LETTERS, max_tokens=400):
        received += 1
    t.cancel()
    # A generation run on the loop would hand every chunk over before the ticker's next turn.
    assert received > 2 and any(0 < n < received for n in seen_by_ticker), (received, seen_by_ticker)


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
    first = llm.complete(prefix + "Question: first one\n", max_tokens=2).stats
    stream = llm.stream(prefix + "Question: the second\n", max_tokens=2)
    [c async for c in stream]
    second = stream.stats
    assert first is not None and second is not None
    assert first.prompt_tokens > 300
    assert second.prompt_tokens_evaluated < 20 < second.prompt_tokens
    assert second.cached_tokens >= first.prompt_tokens - 20


def test_complete_timeout_gives_up_cleanly(tiny_gguf):
    llm = EndlessLLM(tiny_gguf, endless={"slow"})  # a generation that never ends by itself, on any CPU
    try:
        with pytest.raises(ModelError, match="did not answer"):
            llm.complete("slow", max_tokens=1800, timeout=0.05)
        assert llm.complete("ok", max_tokens=1) is not None  # the worker is free again
        assert llm.stopped == 1
    finally:
        llm.close()


def test_closed_model_refuses_work(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1)
    model.close()
    with pytest.raises(ModelError, match="closed"):
        model.complete("hi", max_tokens=2)


# -- the prefix cache ------------------------------------------------------------------------------
def test_common_prefix():
    a = list(range(300))
    assert common_prefix(a, a) == 300
    assert common_prefix(a, a[:150]) == 150
    assert common_prefix(a, a[:200] + [-1] + a[201:]) == 200
    assert common_prefix([], a) == 0 and common_prefix([1], [2]) == 0


def test_prefix_cache_bounds_and_choice():
    cache = PrefixCache(max_states=2, max_bytes=1000)
    s1 = CachedState(tuple(range(100)), None, 100)
    cache.add(s1)
    cache.add(CachedState(tuple(range(150)), None, 150))  # extends s1: s1 is dropped
    assert [len(e.tokens) for e in cache.entries] == [150]
    cache.add(CachedState((7,) * 50, None, 50))
    cache.add(CachedState((8,) * 50, None, 50))  # three states, room for two: the oldest goes
    assert [e.tokens[0] for e in cache.entries] == [7, 8]
    assert not cache.add(CachedState((9,) * 50, None, 5000))  # bigger than the byte bound
    cache.add(CachedState((6,) * 50, None, 990))  # bytes bound: only it fits
    assert [e.tokens[0] for e in cache.entries] == [6] and cache.nbytes <= 1000
    assert not PrefixCache(max_states=0).add(s1)


def test_plan_reuse_restores_only_when_it_beats_the_live_context():
    cache = PrefixCache()
    cache.add(CachedState(tuple(range(200)), None, 200))
    prompt = list(range(180)) + [-5, -6]
    assert plan_reuse([], cache, prompt) == (180, cache.entries[0])
    assert plan_reuse(list(range(175)), cache, prompt) == (175, None)  # 5 tokens more is not worth a restore
    assert plan_reuse(list(range(200)), PrefixCache(), list(range(200))) == (199, None)  # last token again


async def test_cached_state_is_restored_and_only_the_suffix_evaluated(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1, prompt_cache_states=4)
    try:
        rules = "Rules: " + "write a plan step by step. " * 40
        other = "Joiner: " + "read the results and answer. " * 30
        first, second = rules + "Question: first one\n", rules + "Question: the second\n"
        model.complete(first, max_tokens=4)
        model.complete(other, max_tokens=4)  # the live context now shares only BOS with `second`
        stats = model.complete(second, max_tokens=4).stats
        assert stats is not None
        shared = common_prefix(model.tokenize(first), model.tokenize(second))
        assert shared > 250
        assert stats.restored_tokens == shared
        assert stats.prompt_tokens_evaluated == stats.prompt_tokens - shared
        assert len(model.prompt_cache.entries) <= 4
    finally:
        model.close()


def test_cache_never_changes_what_the_model_writes(tiny_gguf):
    rules = "Rules: " + "write a plan step by step. " * 30
    prompts = [rules + "Question: first one\n", "Joiner: read the results. " * 10, rules + "Question: the second\n",
               rules + "Q", rules + "Question: first one\n", "Joiner: read the results. " * 10 + "more"]

    def run(states: int, fresh: bool = False) -> tuple[list[str], int]:
        out, restored = [], 0
        model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1, prompt_cache_states=states)
        try:
            for p in prompts:
                if fresh:  # a new context for every prompt: nothing reused at all
                    model.close()
                    model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1, prompt_cache_states=0)
                done = model.complete(p, max_tokens=16, temperature=0.0)
                assert done.stats is not None
                out.append(done.text)
                restored += done.stats.restored_tokens
            return out, restored
        finally:
            model.close()

    cached, restored = run(8)
    assert restored > 0  # states from other prompts (with other suffixes) were restored ...
    assert cached == run(0)[0] == run(0, fresh=True)[0]  # ... and changed nothing


def test_prompt_cache_is_bounded_in_states_and_bytes(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1, prompt_cache_states=2)
    try:
        for word in ("alpha", "bravo", "charlie", "delta"):
            model.complete(f"{word} " * 60, max_tokens=2)
        assert len(model.prompt_cache.entries) == 2
        one = model.prompt_cache.entries[-1].size
    finally:
        model.close()
    model = LocalLLM(tiny_gguf, n_ctx=2048, n_threads=1, prompt_cache_states=8, prompt_cache_bytes=int(one * 1.5))
    try:
        for word in ("alpha", "bravo", "charlie"):
            model.complete(f"{word} " * 60, max_tokens=2)
        assert len(model.prompt_cache.entries) == 1 and model.prompt_cache.nbytes <= one * 1.5
    finally:
        model.close()


def test_extra_bufts_reach_llama_cpps_model_params(tiny_gguf):
    """The one patch of llama-cpp-python's defaults (llm._model_params_patched) still takes effect,
    and is undone afterwards: this fails if an upgrade moves `llama_model_default_params`."""
    import llama_cpp.llama_cpp as low

    default = low.llama_model_default_params().use_extra_bufts
    for wanted in (not default, default):
        model = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, use_extra_bufts=wanted)
        try:
            assert model.llama.model_params.use_extra_bufts is wanted
        finally:
            model.close()
    assert low.llama_model_default_params().use_extra_bufts is default
