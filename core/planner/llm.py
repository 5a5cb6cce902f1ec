"""The local model: one llama.cpp instance, one worker thread, never a crash of the process.

llama.cpp can run one generation per context at a time, so every call (streamed plans,
the joiner, the sub-agent writers) is a job on ONE worker thread's queue. Async callers
get tokens through their own event loop; sync callers (tool threads) wait on a future.
The producer never waits for a consumer, so a writer call queued behind a streaming plan
always runs once that plan finishes or is cancelled: no deadlock.

Prefix reuse across requests: the live context keeps the last prompt's KV cache, and a
`PrefixCache` keeps the KV states of the last few prompts (llama.cpp's per-sequence state,
~22 KB per token for TinyLlama). Before a prompt is evaluated, the state sharing the longest
token prefix with it is restored when it beats the live context, so a planner request that
follows a joiner or writer call (or a different tool set) still pays only for its new suffix.

Things that would kill the process, and what we do instead:
- quantized models on CPUs with AMX segfault unless extra buffer types are off
  (`use_extra_bufts="auto"` turns them off where llama.cpp reports AMX);
- an invalid grammar segfaults at the first sample: grammars are checked with
  llama.cpp's own parser first (`grammar_is_valid`);
- a missing or corrupt GGUF: checked before llama.cpp sees it.

Every call's result is its own object (simonw/llm's `Response` idea): `stream()` returns a
`TextStream` whose `stats` are set when the generation ends, `complete()` a `Completion`.
llama_cpp is imported inside the functions that need it, so the CLI starts without it.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import ctypes
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tinyagent.core.config import Config
from tinyagent.core.gguf_file import GGUFError, check_gguf_file
from tinyagent.core.planner.grammar import GrammarError

log = logging.getLogger("tinyagent.llm")

_PROMPT_CHUNK = 64  # prompt tokens decoded between cancellation checks
_RESTORE_MIN_GAIN = 16  # tokens a cached state must save over the live context to be worth restoring
_MIN_SAVED_TOKENS = 32  # shorter contexts are cheaper to evaluate again than to keep
_PARAMS_LOCK = threading.Lock()  # the default-params patch is process-wide (see _model_params_patched)
_LOG_CALLBACK: Any = None  # kept alive: llama.cpp holds a raw pointer to it


class ModelLoadError(Exception):
    """The model file cannot be used; the message says what to do."""


@dataclass(frozen=True)
class PlannerFile:
    """The GGUF to load and what comes with it. Whoever knows where models live finds it
    (core/planner_model.py, through the model store): this layer only loads what it is handed."""
    path: Path
    adapter: Path | None = None  # a LoRA adapter applied at load
    notice: str | None = None  # e.g. "tinyagent-1.1b is not downloaded, so ... plans instead"


class ModelError(Exception):
    """A generation failed (prompt too long, bad grammar, llama.cpp error)."""


class ServerError(ModelError):
    """The planner server cannot be used or broke off (core/planner/server.py): unlike a failed
    generation, nothing more can be asked of it in this run, so the pipeline closes the run."""


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0  # the rest came from the KV cache
    generated_tokens: int = 0
    prompt_seconds: float = 0.0
    generate_seconds: float = 0.0
    finish_reason: str = ""  # stop, length, cancelled
    restored_tokens: int = 0  # of the cached tokens, those restored from a saved state (not the live context)

    @property
    def cached_tokens(self) -> int:
        return self.prompt_tokens - self.prompt_tokens_evaluated


@dataclass(frozen=True)
class Completion:
    """What `LocalLLM.complete` returns: the whole text and how it was made."""

    text: str
    stats: GenerationStats | None  # None when a subclass's generation reports none


class TextStream:
    """One streamed generation: iterate it for the text chunks; `stats` once it has ended.

    `stats` is set by the model's worker when the generation ends (finished, stopped, or
    cancelled because the consumer stopped reading), so it always belongs to this call.
    """

    def __init__(self) -> None:
        self.stats: GenerationStats | None = None
        self._chunks: AsyncIterator[str] | None = None

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        assert self._chunks is not None, "TextStream is made by LocalLLM.stream"
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop the model within a token or two (`contextlib.aclosing` calls this)."""
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()


class PlannerModel(Protocol):
    """What the planner, the joiner and the writer use of a model: `LocalLLM` in-process, or
    `ServerLLM` (core/planner/server.py) on a llama.cpp server."""

    model_path: Path  # its file name finds the manifest entry (prompt profile, chat template fallback)
    adapter_path: Path | None  # with the file name, finds the entry of an adapted model (the tuned profile)
    model_notice: str | None
    n_ctx: int
    engine: str  # for people: "tiny.gguf in-process (CPU)", "qwen2.5-coder-0.5b @ 127.0.0.1:8080"

    @property
    def metadata(self) -> dict[str, str]: ...

    def token_text(self, token: int) -> str: ...

    def tokenize(self, text: str, *, bos: bool = True, special: bool = False) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future: ...

    def stream(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 512,
               temperature: float = 0.0, stop: Sequence[str] | None = None,
               special: bool = False, min_room: int = 8, use_adapter: bool = True) -> TextStream: ...

    def complete(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 256,
                 temperature: float = 0.0, stop: Sequence[str] | None = None,
                 timeout: float | None = None, special: bool = False, use_adapter: bool = True) -> Completion: ...

    def close(self) -> None: ...


# -- prefix reuse ----------------------------------------------------------------------------
def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences (slices compare in C)."""
    n = min(len(a), len(b))
    a, b = list(a[:n]), list(b[:n])
    i = 0
    step = 64
    while i < n and a[i: i + step] == b[i: i + step]:
        i += step
    i = min(i, n)
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class CachedState:
    tokens: tuple[int, ...]  # what the state holds, in order (input_ids[:n_tokens])
    data: Any  # llama.cpp's sequence state (a ctypes byte array); None in simulations
    size: int  # bytes


class PrefixCache:
    """The KV states of the most recent prompts, bounded by count and bytes (pure bookkeeping).

    Only the model's worker thread touches it. `bench/bench_planner.py` runs the same class
    (with `data=None`) to simulate the tokens evaluated per request over the shared queries.
    """

    def __init__(self, max_states: int = 8, max_bytes: int = 256 << 20):
        self.max_states = max(0, int(max_states))
        self.max_bytes = max(0, int(max_bytes))
        self.entries: list[CachedState] = []  # least recently used first

    @property
    def nbytes(self) -> int:
        return sum(e.size for e in self.entries)

    def best(self, tokens: Sequence[int]) -> tuple[CachedState | None, int]:
        """The state sharing the longest token prefix with `tokens`, and that length."""
        found, length = None, 0
        for entry in self.entries:
            n = common_prefix(entry.tokens, tokens)
            if n > length:
                found, length = entry, n
        return found, length

    def find(self, tokens: Sequence[int]) -> CachedState | None:
        tokens = tuple(tokens)
        return next((e for e in self.entries if e.tokens == tokens), None)

    def touch(self, entry: CachedState) -> None:
        if entry in self.entries:
            self.entries.remove(entry)
            self.entries.append(entry)

    def add(self, entry: CachedState) -> bool:
        """Keep `entry` (most recent); drops states it extends, then the oldest beyond the bounds."""
        if self.max_states == 0 or entry.size > self.max_bytes:
            return False
        n = len(entry.tokens)
        self.entries = [e for e in self.entries if not (len(e.tokens) <= n and entry.tokens[: len(e.tokens)] == e.tokens)]
        self.entries.append(entry)
        while len(self.entries) > self.max_states or self.nbytes > self.max_bytes:
            self.entries.pop(0)
        return True

    def clear(self) -> None:
        self.entries.clear()


def plan_reuse(live: Sequence[int], cache: PrefixCache, tokens: Sequence[int]) -> tuple[int, CachedState | None]:
    """How many of `tokens` need no evaluation, and the cached state to restore first (or None).

    The last prompt token is always evaluated again, for fresh logits.
    """
    limit = len(tokens) - 1
    keep = min(common_prefix(live, tokens), limit)
    entry, length = cache.best(tokens)
    if entry is not None and min(length, limit) >= keep + _RESTORE_MIN_GAIN:
        return min(length, limit), entry
    return max(keep, 0), None


# -- the file and the library ----------------------------------------------------------------
def check_gguf(path: Path | str) -> Path:
    """Fail with a clear message unless `path` looks like a readable GGUF file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}")
    if not p.is_file():
        raise ModelLoadError(f"model path is not a file: {p}")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read the model file {p}: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise ModelLoadError(f"{p} is not a GGUF model file (it does not start with 'GGUF')")
    try:  # the whole header, so that llama.cpp never sees a file that is cut short or lies
        check_gguf_file(p)
    except GGUFError as exc:
        raise ModelLoadError(f"{p} is not a usable GGUF model: {exc}; download it again "
                             f"(`tinyagent models pull NAME`, which fetches a cut-off file anew)") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read the model file {p}: {exc.strerror or exc}") from None
    return p


def silence_llama_logs() -> None:
    """Route llama.cpp's own log lines to Python logging at debug level (never the terminal)."""
    global _LOG_CALLBACK
    import llama_cpp

    if _LOG_CALLBACK is None:
        @llama_cpp.llama_log_callback
        def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

        _LOG_CALLBACK = _callback
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def cpu_has_amx() -> bool:
    """True where llama.cpp would repack quantized weights for AMX (the crashing path)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return b"AMX_INT8 = 1" in (info or b"")


def want_extra_bufts(setting: str | bool) -> bool:
    """Resolve the `use_extra_bufts` setting ("auto", "on"/"off", or a bool)."""
    if isinstance(setting, bool):
        return setting
    word = str(setting).strip().lower()
    if word in ("on", "true", "yes", "1"):
        return True
    if word in ("off", "false", "no", "0"):
        return False
    if word not in ("", "auto"):
        raise ModelLoadError(f"planner.use_extra_bufts must be auto, on or off, not {setting!r}")
    return not cpu_has_amx()


@contextmanager
def _model_params_patched(extra_bufts: bool) -> Iterator[None]:
    """While inside, llama.cpp's default model params have `use_extra_bufts` set as given.

    llama-cpp-python 0.3.36 has no `Llama(...)` option for it: `Llama.__init__` starts from
    `llama_cpp.llama_cpp.llama_model_default_params()`, so that one module attribute is
    swapped, under a lock, for the time of one construction. The only access to a name
    llama-cpp-python does not offer for this; tests/integration/test_planner_llm.py checks that
    `Llama.model_params.use_extra_bufts` follows it, so an upgrade that moves it fails there.
    """
    import llama_cpp.llama_cpp as low

    with _PARAMS_LOCK:
        original = low.llama_model_default_params

        def params() -> Any:
            p = original()
            p.use_extra_bufts = extra_bufts
            return p

        low.llama_model_default_params = params
        try:
            yield
        finally:
            low.llama_model_default_params = original


def load_llama(path: Path, *, extra_bufts: bool, **kwargs: Any) -> Any:
    """Construct `llama_cpp.Llama` with extra buffer types on or off (see _model_params_patched)."""
    import llama_cpp

    with _model_params_patched(extra_bufts):
        return llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)


def gpu_layers_for(setting: str | int) -> tuple[int, str]:
    """`planner.gpu_layers` as llama.cpp's n_gpu_layers, and a line saying where the model runs.

    auto: every layer (-1) where this llama.cpp was built with a GPU backend (CUDA, Metal,
    Vulkan...), else 0, the CPU; a number is passed on as it is.
    """
    import llama_cpp

    word = str(setting).strip().lower() or "auto"
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    if word == "auto":
        if gpu:
            return -1, "all layers on the GPU (planner.gpu_layers: auto)"
        return 0, "CPU: this llama.cpp was built without a GPU backend (planner.gpu_layers: auto)"
    if not word.isdigit():
        raise ModelLoadError(f"planner.gpu_layers must be auto or a whole number, not {setting!r}")
    layers = int(word)
    if layers == 0:
        return 0, "CPU (planner.gpu_layers: 0)"
    if not gpu:
        return 0, f"CPU: planner.gpu_layers is {layers} but this llama.cpp was built without a GPU backend"
    return layers, f"{layers} layers on the GPU (planner.gpu_layers)"


def grammar_is_valid(text: str, vocab: Any) -> bool:
    """Parse `text` with llama.cpp's grammar parser (a NULL sampler means a parse error)."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _clear_kv(llama: Any) -> None:
    """Drop every KV cell of the context (llama.cpp's memory API; `Llama` has no method for it)."""
    import llama_cpp

    memory = llama_cpp.llama_get_memory(llama.ctx)
    if memory:
        llama_cpp.llama_memory_seq_rm(memory, -1, 0, -1)


# -- the model -------------------------------------------------------------------------------
class LocalLLM:
    adapter_path: Path | None = None  # a LoRA adapter applied at load (a manifest entry's `adapter:`)

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        seed: int = 0,
        use_extra_bufts: str | bool = "auto",
        vocab_only: bool = False,
        flash_attn: bool = True,
        prompt_cache_states: int = 8,
        prompt_cache_bytes: int = 256 << 20,
        adapter: Path | str | None = None,
        gpu_layers: str | int = 0,
        plain_vocab: bool = False,
    ):
        path = check_gguf(model_path)
        self.adapter_path = check_gguf(adapter) if adapter is not None else None
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError(f"llama-cpp-python is not installed ({exc}); pip install llama-cpp-python") from None
        silence_llama_logs()
        self.model_path = path
        self.vocab_only = vocab_only
        self.extra_bufts = want_extra_bufts(use_extra_bufts)
        threads = n_threads if n_threads > 0 else max(1, os.cpu_count() or 1)
        n_gpu_layers, where = gpu_layers_for(gpu_layers)
        self.engine = f"{path.name} in-process, {where}"
        kwargs: dict[str, Any] = dict(n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, seed=seed,
                                      flash_attn=flash_attn, n_gpu_layers=n_gpu_layers)
        if self.adapter_path is not None:
            kwargs.update(lora_path=str(self.adapter_path), lora_scale=1.0)  # applied to the weights at load
        if vocab_only:
            # The grammar checker tokenizes plan text exactly, without SentencePiece's leading space;
            # `plain_vocab` tokenizes as the whole model does (a server's prompt, counted here).
            kwargs = dict(vocab_only=True)
            if not plain_vocab:
                kwargs["kv_overrides"] = {"tokenizer.ggml.add_space_prefix": False}
        try:
            self._llama = load_llama(path, extra_bufts=self.extra_bufts, **kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path}: {exc} "
                                 "(is the file complete and a LLaMA-family GGUF?)") from None
        silence_llama_logs()  # llama-cpp-python re-installs its own callback on import
        if self.adapter_path is not None:
            self._check_adapter(path, self.adapter_path)
        self.vocab: Any = llama_cpp.llama_model_get_vocab(self._llama.model)
        self.n_ctx = n_ctx
        self.model_notice: str | None = None  # from_config: which planner stands in for a missing default
        self._grammars: dict[str, Any] = {}
        self.prompt_cache = PrefixCache(prompt_cache_states, prompt_cache_bytes)  # worker thread only
        # KV states made without the adapter (joiner, writers) are another model's: kept apart, and
        # swapped in with it, so no prefix is ever reused across the two (worker thread only).
        self._other_cache = PrefixCache(max(1, prompt_cache_states // 4) if prompt_cache_states else 0,
                                        prompt_cache_bytes // 4)
        self._adapter_on = self.adapter_path is not None
        self._jobs: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future] | None] = queue.Queue()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="tinyagent-llm", daemon=True)
        self._worker.start()

    def _check_adapter(self, path: Path, adapter: Path) -> None:
        """The adapter fits the model and llama.cpp took it; else close and say why (never the bare model)."""
        import llama_cpp

        from tinyagent.core.planner.lora_gguf import AdapterError, check_fits

        model = self._llama.model
        try:
            check_fits(adapter, architecture=str(self._llama.metadata.get("general.architecture", "")),
                       n_layer=llama_cpp.llama_model_n_layer(model), n_embd=llama_cpp.llama_model_n_embd(model))
            if not self._llama._lora_adapter:  # a NULL pointer: llama.cpp refused it (llama-cpp-python 0.3.36)
                raise AdapterError(f"llama.cpp refused the adapter {adapter}")
        except AdapterError as exc:
            self._llama.close()
            raise ModelLoadError(f"llama.cpp could not load {path} with its adapter: {exc}") from None

    @classmethod
    def from_config(cls, config: Config, model: PlannerFile) -> LocalLLM:
        """`model` loaded with config `planner`'s settings (core/planner_model.py finds the file)."""
        planner = config.planner
        llm = cls(model.path, n_ctx=planner.context, n_threads=planner.threads,
                  use_extra_bufts=planner.use_extra_bufts, prompt_cache_states=int(planner.prompt_cache_states),
                  prompt_cache_bytes=int(float(planner.prompt_cache_mb) * (1 << 20)), adapter=model.adapter,
                  gpu_layers=getattr(planner, "gpu_layers", "auto"))
        log.info("planner: %s", llm.engine)  # the one line saying where it runs (ask -v shows it too)
        llm.model_notice = model.notice  # e.g. "tinyagent-1.1b is not downloaded, so ... plans instead"
        return llm

    # -- plumbing --------------------------------------------------------------------------
    @property
    def llama(self) -> Any:
        """The underlying `llama_cpp.Llama`, for benchmarks that drive llama.cpp directly
        (bench/bench_realmodel.py); only a job on the worker thread (`submit`) may use it."""
        return self._llama

    @property
    def metadata(self) -> dict[str, str]:
        """The GGUF's key/value metadata (chat template, token ids, names)."""
        return dict(self._llama.metadata or {})

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up before it started
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run `fn` on the worker thread, after every job queued before it."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self._closed:
            future.set_exception(ModelError("the model was closed"))
            return future
        if threading.current_thread() is self._worker:  # a job calling back in: run it now
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001
                future.set_exception(exc)
            return future
        self._jobs.put((fn, future))
        return future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout=30)
        if not self._worker.is_alive() or threading.current_thread() is self._worker:
            self.prompt_cache.clear()  # the saved KV states (up to prompt_cache_bytes) go with the model
            self._other_cache.clear()
        self._llama.close()

    def __enter__(self) -> LocalLLM:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- tokens ----------------------------------------------------------------------------
    def tokenize(self, text: str, *, bos: bool = True, special: bool = False) -> list[int]:
        """Tokens of `text`; `special` reads a chat template's markers (<|im_start|>) as their tokens."""
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return bytes(self._llama.detokenize(list(tokens))).decode("utf-8", "ignore")

    def token_text(self, token: int) -> str:
        """A token's text as the vocabulary stores it ("<s>", "<|im_end|>"); "" for a bad id."""
        import llama_cpp

        if not 0 <= token < llama_cpp.llama_vocab_n_tokens(self.vocab):
            return ""
        return (llama_cpp.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", "replace")

    def piece(self, token: int) -> bytes:
        """The bytes a token adds to the text (a piece of a UTF-8 character for byte tokens)."""
        import llama_cpp

        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
        return buf.raw[: max(n, 0)]

    def _grammar(self, text: str) -> Any:
        cached = self._grammars.get(text)
        if cached is None:
            from llama_cpp import LlamaGrammar

            if not grammar_is_valid(text, self.vocab):
                raise GrammarError("llama.cpp rejected the grammar (parse error); refusing to use it")
            cached = self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return cached

    # -- generation (worker thread only) ---------------------------------------------------------
    def _generate(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                  stop: Sequence[str], cancel: threading.Event, special: bool = False,
                  min_room: int = 8) -> Generator[str, None, GenerationStats | None]:
        """Text pieces as they are decoded; returns the call's stats (a test's subclass may return None)."""
        import llama_cpp

        if self.vocab_only:
            raise ModelError("this GGUF holds only a vocabulary; it cannot generate text")
        llama = self._llama
        tokens = self.tokenize(prompt, special=special)
        room = self.n_ctx - len(tokens)
        if room < max(8, min_room):  # never a silent cut: say which setting to raise
            raise ModelError(f"the prompt is {len(tokens)} tokens and the answer needs {max(8, min_room)} more; "
                             f"the context holds {self.n_ctx} (raise planner.context or select fewer tools)")
        max_tokens = max(1, min(max_tokens, room - 1))
        grammar_obj = self._grammar(grammar) if grammar else None
        started = time.perf_counter()
        evaluated, restored = self._eval_prompt(tokens, cancel)
        prompt_done = time.perf_counter()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        n, reason, held = 0, "length", ""
        hold = max((len(s) for s in stop), default=1) - 1
        try:
            if cancel.is_set():
                reason = "cancelled"
            else:
                gen = llama.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05,
                                     repeat_penalty=1.0, grammar=grammar_obj)
                for token in gen:
                    if cancel.is_set():
                        reason = "cancelled"
                        break
                    if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                        reason = "stop"
                        break
                    n += 1
                    held += decoder.decode(self.piece(token))
                    cut = _find_stop(held, stop)
                    if cut is not None:
                        held, reason = held[:cut], "stop"
                        break
                    if len(held) > hold:  # keep back what could still become a stop string
                        out, held = held[: len(held) - hold], held[len(held) - hold:]
                        yield out
                    if n >= max_tokens:
                        break
                gen.close()
                held += decoder.decode(b"", final=True)
                if held and reason != "cancelled":
                    yield held
        finally:
            self._remember()  # whatever happened, the KV cells now in the context are valid
        return GenerationStats(len(tokens), evaluated, n, prompt_done - started, time.perf_counter() - prompt_done,
                               reason, restored)

    def _eval_prompt(self, tokens: list[int], cancel: threading.Event) -> tuple[int, int]:
        """Decode what the KV cache lacks, in chunks so cancellation is quick.

        Returns (tokens evaluated, tokens restored from a saved state).
        """
        llama = self._llama
        prefix, entry = plan_reuse(llama.input_ids[: llama.n_tokens].tolist(), self.prompt_cache, tokens)
        restored = 0
        if entry is not None:
            if self._restore(entry):
                restored = prefix
            else:
                prefix = 0
        llama.n_tokens = prefix  # llama.eval drops the KV cells from here on
        for i in range(prefix, len(tokens), _PROMPT_CHUNK):
            if cancel.is_set():
                llama.n_tokens = i  # what is in the cache is still valid
                return i - prefix, restored
            llama.eval(tokens[i: i + _PROMPT_CHUNK])
        return len(tokens) - prefix, restored

    def _remember(self) -> None:
        """Save the live context's KV state in the prompt cache (worker thread, after a generation)."""
        import llama_cpp

        cache, llama = self.prompt_cache, self._llama
        n = int(llama.n_tokens)
        if cache.max_states == 0 or n < _MIN_SAVED_TOKENS:
            return
        tokens = tuple(llama.input_ids[:n].tolist())
        known = cache.find(tokens)
        if known is not None:
            cache.touch(known)
            return
        try:
            size = int(llama_cpp.llama_state_seq_get_size(llama.ctx, 0))
            if size <= 0 or size > cache.max_bytes:
                return
            data = (ctypes.c_uint8 * size)()
            written = int(llama_cpp.llama_state_seq_get_data(llama.ctx, data, size, 0))
        except (ctypes.ArgumentError, OSError) as exc:  # the cache is an optimisation, never a failure
            log.debug("could not save the prompt state: %s", exc)
            return
        if written <= 0:
            return
        cache.add(CachedState(tokens, data, written))

    def _restore(self, entry: CachedState) -> bool:
        """Make `entry` the live context (KV cells, input_ids and n_tokens agree afterwards)."""
        import llama_cpp

        llama = self._llama
        _clear_kv(llama)  # an empty context first: nothing of the old one survives
        llama.n_tokens = 0
        try:
            read = int(llama_cpp.llama_state_seq_set_data(llama.ctx, entry.data, entry.size, 0))
        except (ctypes.ArgumentError, OSError) as exc:
            log.debug("could not restore a prompt state: %s", exc)
            read = 0
        if read != entry.size:  # a state llama.cpp refuses is dropped; the prompt is evaluated instead
            _clear_kv(llama)
            self.prompt_cache.entries.remove(entry)
            return False
        n = len(entry.tokens)
        llama.input_ids[:n] = entry.tokens
        llama.n_tokens = n
        self.prompt_cache.touch(entry)
        return True

    def _use_adapter(self, on: bool) -> None:
        """Switch the loaded adapter on or off for the next generation (worker thread only).

        The adapter was trained to write plans; the joiner and the writers ask the base model,
        which writes prose as it was taught. Switching makes the live KV cells another model's,
        so they are dropped and the prompt cache for the other state is swapped in."""
        import llama_cpp

        if self.adapter_path is None or on == self._adapter_on:
            return
        llama = self._llama
        if on:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llama._lora_adapter)
            scales = (ctypes.c_float * 1)(1.0)
            failed = llama_cpp.llama_set_adapters_lora(llama.ctx, adapters, 1, scales)
        else:
            failed = llama_cpp.llama_set_adapters_lora(llama.ctx, None, 0, None)
        if failed:
            raise ModelError(f"llama.cpp could not switch the adapter {'on' if on else 'off'}")
        _clear_kv(llama)
        llama.n_tokens = 0
        self.prompt_cache, self._other_cache = self._other_cache, self.prompt_cache
        self._adapter_on = on

    # -- public API ---------------------------------------------------------------------------
    def stream(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 512,
               temperature: float = 0.0, stop: Sequence[str] | None = None,
               special: bool = False, min_room: int = 8, use_adapter: bool = True) -> TextStream:
        """Text chunks as the model writes them (iterate the result with `async for`).

        Cancelling the consuming task, or closing the stream (`contextlib.aclosing` when
        breaking out of `async for`), stops the model within a token or two. `use_adapter=False`
        asks the base model, without the planner adapter (if one is loaded).
        """
        result = TextStream()
        result._chunks = self._stream_chunks(result, prompt, use_adapter, grammar=grammar, max_tokens=max_tokens,
                                             temperature=temperature, stop=tuple(stop or ()), special=special,
                                             min_room=min_room)
        return result

    def _stream_chunks(self, result: TextStream, prompt: str, use_adapter: bool, **options: Any) -> AsyncIterator[str]:
        cancel = threading.Event()
        started: list[concurrent.futures.Future] = []

        def produce(each: Callable[[str], Any]) -> GenerationStats | None:
            self._use_adapter(use_adapter)
            return yield_each(self._generate(prompt, cancel=cancel, **options), each)

        return relay(result, produce, cancel, start=lambda job: started.append(self.submit(job)),
                     on_close=lambda: [f.cancel() for f in started])  # never started: never runs

    def complete(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 256,
                 temperature: float = 0.0, stop: Sequence[str] | None = None,
                 timeout: float | None = None, special: bool = False, use_adapter: bool = True) -> Completion:
        """The whole completion (blocking; from any thread except an event loop's)."""
        cancel = threading.Event()

        def job() -> Completion:
            self._use_adapter(use_adapter)
            pieces: list[str] = []
            stats = yield_each(self._generate(prompt, grammar=grammar, max_tokens=max_tokens, temperature=temperature,
                                              stop=tuple(stop or ()), cancel=cancel, special=special), pieces.append)
            return Completion("".join(pieces), stats)

        future = self.submit(job)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            cancel.set()
            future.cancel()
            raise ModelError(f"the model did not answer within {timeout:g} s") from None


async def relay(result: TextStream, produce: Callable[[Callable[[str], Any]], GenerationStats | None],
                cancel: threading.Event, *, start: Callable[[Callable[[], None]], Any],
                on_close: Callable[[], Any] = lambda: None) -> AsyncIterator[str]:
    """Text made on another thread (`produce(each)`, started by `start(job)`), yielded on the
    caller's event loop as it comes; its stats land on `result`. Closing the iterator, or the loop
    going away, sets `cancel` and calls `on_close` (LocalLLM: drop a job not yet started; the server
    engine: shut its sockets so the server stops generating)."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def push(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(chunks.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone: nobody is listening any more
            cancel.set()
            on_close()

    def job() -> None:
        try:
            result.stats = produce(lambda piece: push("chunk", piece))
            push("end", None)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's task
            push("error", exc)

    start(job)
    try:
        while True:
            kind, value = await chunks.get()
            if kind == "chunk":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        cancel.set()
        on_close()


def yield_each(gen: Generator[str, None, GenerationStats | None], each: Callable[[str], Any]) -> GenerationStats | None:
    """Hand every piece of a generation to `each`; the generation's stats (its return value)."""
    while True:
        try:
            each(next(gen))
        except StopIteration as done:
            return done.value


def _find_stop(text: str, stop: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stop if s) if i != -1]
    return min(hits) if hits else None
