"""Local speech-to-text with whisper.cpp (pywhispercpp), in process and silent.

Two whisper.cpp traps shape this module:
- A broken model file does not raise: whisper.cpp logs an error, hands back a dead context,
  and the next transcription crashes the whole process. So `check_whisper_model` walks the
  file's structure first, and the load also watches whisper.cpp's log for errors.
- whisper.cpp prints to stderr. A log hook swallows it (redirecting fd 2 instead would
  blank a terminal UI that draws on stderr), and is removed again before exit, because a
  Python log hook still installed at interpreter shutdown aborts the process.
"""

from __future__ import annotations

import atexit
import os
import struct
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.voice.audio import WHISPER_RATE, to_mono

DEFAULT_MODEL = "base.en"
GGML_MAGIC = 0x67676D6C
MIN_SECONDS = 1.05  # whisper.cpp returns nothing for input under 1 s, so short clips are padded

_HPARAM_NAMES = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer", "n_text_ctx",
                 "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype")
# ggml tensor type -> (elements per block, bytes per block), for the types whisper models use.
_TYPE_SIZES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
               9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
               15: (256, 292), 30: (1, 2)}


class TranscriptionError(Exception):
    """Transcription cannot run; the message says why and what to do."""


class ModelFileError(TranscriptionError):
    """A whisper model that is missing, unreadable or not a valid whisper.cpp ggml file."""


# -- model files ------------------------------------------------------------------------------
def _store_name(name: str) -> str:
    # The model store's manifest names whisper models "whisper-<size>" ("whisper-base.en").
    return name if name.startswith("whisper-") else f"whisper-{name}"


def resolve_whisper_model(spec: str | Path | None) -> Path:
    """A model path: `spec` itself if it exists, else the model store's file for that name
    ("base.en" or "whisper-base.en")."""
    name = str(spec or "").strip() or DEFAULT_MODEL
    path = Path(name).expanduser()
    if path.exists():
        return path
    if os.sep in name or "/" in name or name.endswith(".bin"):
        raise ModelFileError(f"no such whisper model file: {path}")
    store = _store_name(name)
    hint = f"pass --model PATH (a whisper.cpp ggml .bin file) or run `tinyagent models pull {store}`"
    try:
        from core import modelstore

        resolve = getattr(modelstore, "resolve", None)
    except Exception:  # no model store in this build, or a broken one: same advice
        resolve = None
    if resolve is None:
        raise ModelFileError(f"no whisper model {name!r}: {hint}")
    try:
        found = resolve(store)
    except Exception as exc:  # the store's message says how to get the model
        raise ModelFileError(f"no whisper model {name!r}: {exc}") from None
    if not found or not Path(found).is_file():
        raise ModelFileError(f"whisper model {name!r} is not downloaded: {hint}")
    return Path(found)


class _Reader:
    """Sequential reads that turn a short read into 'truncated'."""

    def __init__(self, fh: Any, path: Path, size: int):
        self.fh, self.path, self.size = fh, path, size

    def read(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelFileError(f"{self.path} is truncated (ends inside the {what}); download it again")
        return data

    def ints(self, count: int, what: str, fmt: str = "i") -> tuple[int, ...]:
        return struct.unpack(f"<{count}{fmt}", self.read(4 * count, what))

    def skip(self, n: int, what: str) -> None:
        end = self.fh.tell() + n
        if end > self.size:
            raise ModelFileError(f"{self.path} is truncated (ends inside the {what}); download it again")
        self.fh.seek(end)


def _bad(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a valid whisper.cpp model ({why}); download it again or pick another")


def _check_hparams(path: Path, hp: dict[str, int]) -> None:
    limits = {"n_vocab": (51864, 60000), "n_audio_ctx": (1, 10000), "n_audio_state": (1, 16384),
              "n_audio_head": (1, 256), "n_audio_layer": (1, 256), "n_text_ctx": (1, 10000),
              "n_text_state": (1, 16384), "n_text_head": (1, 256), "n_text_layer": (1, 256),
              "n_mels": (1, 512)}
    for key, (lo, hi) in limits.items():
        if not lo <= hp[key] <= hi:
            raise _bad(path, f"{key} = {hp[key]} is out of range")
    if hp["n_text_state"] != hp["n_audio_state"]:
        raise _bad(path, "text and audio widths differ")
    if hp["ftype"] % 1000 not in _TYPE_SIZES and hp["ftype"] % 1000 not in (4, 5):
        raise _bad(path, f"unknown weight type {hp['ftype']}")


def check_whisper_model(path: str | Path) -> dict[str, int]:
    """Check a ggml whisper model without loading it: readable, right magic, sane header,
    and every tensor's bytes present. Returns the hyper-parameters; ModelFileError if not."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelFileError(f"no such whisper model file: {p}")
    if not p.is_file():
        raise ModelFileError(f"{p} is not a file; pass a whisper.cpp ggml model such as ggml-base.en.bin")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            return _walk_model(_Reader(fh, p, size))
    except PermissionError:
        raise ModelFileError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {p}: {exc.strerror or exc}") from None


def _walk_model(r: _Reader) -> dict[str, int]:
    p = r.path
    magic = r.fh.read(4)
    if magic == b"GGUF":
        raise ModelFileError(f"{p} is a GGUF file; whisper.cpp needs a ggml .bin model such as ggml-base.en.bin")
    if len(magic) < 4 or struct.unpack("<I", magic)[0] != GGML_MAGIC:
        raise _bad(p, "wrong magic number; not a ggml file")
    hp = dict(zip(_HPARAM_NAMES, r.ints(11, "header")))
    _check_hparams(p, hp)
    n_mel, n_fft = r.ints(2, "mel filters")
    if n_mel != hp["n_mels"] or not 1 <= n_fft <= 4096:
        raise _bad(p, "mel filter table does not match the header")
    r.skip(4 * n_mel * n_fft, "mel filters")
    (n_tokens,) = r.ints(1, "vocabulary")
    if not 0 <= n_tokens <= hp["n_vocab"]:
        raise _bad(p, f"vocabulary size {n_tokens} does not match n_vocab {hp['n_vocab']}")
    for _ in range(n_tokens):
        (length,) = r.ints(1, "vocabulary", "I")
        if length > 1024:
            raise _bad(p, "corrupt vocabulary")
        r.skip(length, "vocabulary")
    expected = 7 + 15 * hp["n_audio_layer"] + 4 + 24 * hp["n_text_layer"]
    found = 0
    while head := r.fh.read(12):
        if len(head) < 12:
            raise ModelFileError(f"{p} is truncated (ends inside a tensor header); download it again")
        n_dims, name_len, ttype = struct.unpack("<iii", head)
        if not 1 <= n_dims <= 4 or not 1 <= name_len <= 256 or ttype not in _TYPE_SIZES:
            raise _bad(p, f"corrupt header of tensor {found + 1}")
        dims = r.ints(n_dims, "tensor header")
        if min(dims) < 1:
            raise _bad(p, f"tensor {found + 1} has an empty dimension")
        r.skip(name_len, "tensor header")
        block, block_bytes = _TYPE_SIZES[ttype]
        r.skip(int(np.prod(dims, dtype=np.int64)) // block * block_bytes, "tensor data")
        found += 1
    if found != expected:
        raise ModelFileError(f"{p} is incomplete or damaged: {found} tensors where {expected} belong; download it again")
    return hp


# -- whisper.cpp log hook ------------------------------------------------------------------------
_native_lock = threading.Lock()  # one whisper.cpp call at a time; also guards _errors
_errors: list[str] = []
_hook_installed = False
_live: weakref.WeakSet[Transcriber] = weakref.WeakSet()


def _on_log(level: int, text: str) -> None:
    # Drop whisper.cpp's chatter; keep errors (ggml level 4) for the call in progress.
    if level >= 4:
        _errors.append(text.strip())


def _install_log_hook(pw: Any) -> None:
    global _hook_installed
    if not _hook_installed:
        pw.whisper_log_set(_on_log)
        atexit.register(_remove_log_hook)
        _hook_installed = True


def _remove_log_hook() -> None:
    """Free every model, then restore whisper.cpp's own logger (a Python hook left in
    place when the interpreter shuts down aborts the process)."""
    global _hook_installed
    for transcriber in list(_live):
        transcriber.close()
    if _hook_installed:
        import _pywhispercpp

        _pywhispercpp.whisper_log_set(None)
        _hook_installed = False


# -- transcription ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    seconds: float  # time the transcription took
    segments: tuple[Segment, ...] = ()
    audio_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "seconds": round(self.seconds, 3), "audio_seconds": round(self.audio_seconds, 3),
                "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in self.segments]}


def _default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class Transcriber:
    """whisper.cpp with one model, loaded on first use (or `load()`), shared by threads.

    `model_path` is a file path or a model-store name ("base.en"). Extra keyword arguments
    go to whisper.cpp's decoder (tests pass temperature_inc=0.0 to skip slow retries).
    """

    def __init__(self, model_path: str | Path | None = None, language: str = "en", threads: int = 0,
                 **params: Any):
        self.model_spec = str(model_path or "") or DEFAULT_MODEL
        self.language = "" if language in ("", "auto") else language  # "" = detect; "auto" would print a warning
        self.threads = threads if threads > 0 else _default_threads()
        self.params = params
        self.model_path: Path | None = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, config: Any, **params: Any) -> Transcriber:
        return cls(config.models.whisper or DEFAULT_MODEL, language=config.voice.language,
                   threads=config.voice.threads, **params)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def check(self) -> Path:
        """Find and check the model file without loading it (fast): fail before recording."""
        path = resolve_whisper_model(self.model_spec)
        check_whisper_model(path)
        return path

    def preload(self) -> Future[Transcriber]:
        """Load on the worker thread, so the first transcription does not wait for it."""
        return self._worker().submit(self.load)

    def load(self) -> Transcriber:
        """Resolve, check and load the model (once); ModelFileError / TranscriptionError if not."""
        with self._load_lock:
            if self._model is not None:
                return self
            path = self.check()
            try:
                import _pywhispercpp as pw
                from pywhispercpp.model import Model
            except ImportError as exc:
                raise TranscriptionError(f"whisper.cpp is not installed ({exc}): pip install pywhispercpp") from None
            with _native_lock:
                _install_log_hook(pw)
                _errors.clear()
                model = Model(str(path), redirect_whispercpp_logs_to=False, print_progress=False,
                              print_realtime=False, print_timestamps=False, language=self.language,
                              n_threads=self.threads, **self.params)
                errors = list(_errors)
            if errors:
                del model  # a dead context: never transcribe with it
                raise ModelFileError(f"whisper.cpp could not load {path}: {errors[0]}")
            self.model_path, self._model = path, model
            _live.add(self)
        return self

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Text of 16 kHz mono float32 audio (blocking; see `submit` for a worker thread)."""
        samples = np.nan_to_num(to_mono(audio))
        audio_seconds = samples.size / WHISPER_RATE
        if samples.size == 0:
            return Transcript("", 0.0, (), 0.0)
        if samples.size < MIN_SECONDS * WHISPER_RATE:
            samples = np.pad(samples, (0, int(MIN_SECONDS * WHISPER_RATE) - samples.size))
        model = self.load()._model
        started = time.perf_counter()
        with _native_lock:
            if self._model is None:
                raise TranscriptionError("the transcriber was closed")
            _errors.clear()
            raw = model.transcribe(samples)
            errors = list(_errors)
        if errors and not raw:
            raise TranscriptionError(f"whisper.cpp failed: {errors[0]}")
        segments = tuple(Segment(s.t0 / 100.0, s.t1 / 100.0, s.text.strip()) for s in raw)
        text = " ".join(s.text for s in segments if s.text).strip()
        return Transcript(text, time.perf_counter() - started, segments, audio_seconds)

    def submit(self, audio: np.ndarray) -> Future[Transcript]:
        """Transcribe on a background thread; the future holds the Transcript or the error."""
        return self._worker().submit(self.transcribe, audio)

    def _worker(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        return self._executor

    def close(self) -> None:
        """Free the model (it is loaded again on next use)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with _native_lock:
            self._model = None  # pywhispercpp frees the context when the Model goes
        _live.discard(self)
