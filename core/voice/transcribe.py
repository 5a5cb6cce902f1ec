"""Local speech-to-text with whisper.cpp (pywhispercpp), in process and silent.

Three whisper.cpp traps shape this module:
- A broken model file does not raise: whisper.cpp logs an error, hands back a dead context,
  and the next transcription crashes the whole process. So `check_whisper_model`
  (core.voice.ggml_file) walks the file's structure first, and the load also watches
  whisper.cpp's log for errors.
- whisper.cpp prints to stderr. A log hook swallows it (redirecting fd 2 instead would
  blank a terminal UI that draws on stderr), and is removed again before exit, because a
  Python log hook still installed at interpreter shutdown aborts the process.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyagent.core import modelstore
from tinyagent.core.config import Config
from tinyagent.core.voice.audio import WHISPER_RATE, to_mono
from tinyagent.core.voice.ggml_file import ModelFileError, TranscriptionError, check_whisper_model
from tinyagent.core.voice.hints import HintUnavailable, voice_hint

__all__ = ["DEFAULT_MODEL", "ModelFileError", "Segment", "Transcriber", "Transcript", "TranscriptionError",
           "check_whisper_model", "resolve_whisper_model", "whisper_choice"]

DEFAULT_MODEL = "base.en"
MIN_SECONDS = 1.05  # whisper.cpp returns nothing for input under 1 s, so short clips are padded


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
    try:
        found = modelstore.resolve(store)
    except modelstore.ModelStoreError as exc:  # its message says how to get the model
        raise ModelFileError(f"no whisper model {name!r}: {exc}") from None
    if not found.is_file():
        raise ModelFileError(f"whisper model {name!r} is not downloaded: pass --model PATH (a whisper.cpp ggml "
                             f".bin file) or run `tinyagent models pull {store}`")
    return found


def whisper_choice(spec: str | Path | None, store: Any = modelstore) -> modelstore.ModelChoice:
    """The whisper model the app loads for `models.whisper` (empty = the manifest's default):
    where that default is not downloaded and another whisper model is, the store picks it and
    says so in `notice`; a file or another model named on purpose is never swapped. `store` is
    core.modelstore or a stand-in with its `model_choice`."""
    name = str(spec or "").strip()
    if name and (Path(name).expanduser().exists() or os.sep in name or "/" in name or name.endswith(".bin")):
        path = Path(name).expanduser()
        return modelstore.ModelChoice(path.name, path if path.is_file() else None)
    return store.model_choice("whisper", _store_name(name) if name else "")


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


# -- transcription ------------------------------------------------------------------------------
# whisper learned captions' sound labels: silence comes out as "[BLANK_AUDIO]", music as
# "(upbeat music)", and whisper.cpp shows tokens it has no text for as "[_extra_token_N]".
# None of them is something the user said, and "heard nothing" must stay empty.
_ANNOTATION = re.compile(r"\s*(\[[^\[\]]*\]|\([^()]*\))[\s.]*")


def is_annotation(text: str) -> bool:
    """True for a segment that is only a sound label ("[BLANK_AUDIO]", "(music)") or has no
    letter or digit at all (a label cut short: "[")."""
    return _ANNOTATION.fullmatch(text) is not None or not any(ch.isalnum() for ch in text)


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

    `model_path` is a file path or a model-store name ("base.en"). `hint` is text whisper
    decodes as if it came just before the audio (core.voice.hints: the apps' phrases and the
    contacts' names). `beam_size` > 1 decodes with beam search, which heard more key words of
    the spoken requests than greedy decoding (bench/bench_voice.py) for ~20% more time.
    Extra keyword arguments go to whisper.cpp's decoder (tests pass temperature_inc=0.0 to
    skip slow retries).
    """

    def __init__(self, model_path: str | Path | None = None, language: str = "en", threads: int = 0,
                 hint: str = "", beam_size: int = 1, *, stand_in: bool = False, **params: Any):
        self.model_spec = str(model_path or "") or DEFAULT_MODEL
        # stand_in: where model_path is the default and it is not downloaded, load a whisper model
        # that is (whisper_choice), and say which in model_notice; a model named on purpose never is
        self.stand_in = stand_in
        self.model_notice: str | None = None
        self.language = "" if language in ("", "auto") else language  # "" = detect; "auto" would print a warning
        self.threads = threads if threads > 0 else _default_threads()
        self.hint = hint
        if beam_size > 1:  # whisper.cpp's WHISPER_SAMPLING_BEAM_SEARCH; patience -1 = its default
            params = {"params_sampling_strategy": 1, "beam_search": {"beam_size": beam_size, "patience": -1.0}, **params}
        self.params = {**params, "initial_prompt": hint} if hint else params
        # whisper.cpp's default temperature_inc is 0.2: fallback on unless turned off
        self.draws_random = beam_size > 1 or float(params.get("temperature_inc", 0.2)) > 0.0
        self.hint_problem: str | None = None  # why the configured hint could not be built, for the user
        self.model_path: Path | None = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, config: Config, *, stand_in: bool = True, **params: Any) -> Transcriber:
        """The configured model, language, threads and hint (`voice.hint`); a hint that cannot
        be built leaves `hint_problem` set and transcribes without one. Where the configured
        model is the default and it is missing, a downloaded one stands in (`stand_in=False`:
        never, for a model the user named on the command line)."""
        try:
            hint, problem = voice_hint(config), None
        except HintUnavailable as exc:
            hint, problem = "", str(exc)
        transcriber = cls(config.models.whisper or DEFAULT_MODEL, language=config.voice.language,
                          threads=config.voice.threads, hint=hint, beam_size=config.voice.beam_size,
                          stand_in=stand_in, **params)
        transcriber.hint_problem = problem
        return transcriber

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def check(self) -> Path:
        """Find and check the model file without loading it (fast): fail before recording."""
        path = self._find_model()
        check_whisper_model(path)
        return path

    def _find_model(self) -> Path:
        self.model_notice = None
        if self.stand_in:
            try:
                choice = whisper_choice(self.model_spec)
            except modelstore.ModelStoreError:  # e.g. a broken manifest: resolving says what is wrong
                choice = None
            if choice is not None and choice.path is not None:
                self.model_notice = choice.notice
                return choice.path
        return resolve_whisper_model(self.model_spec)

    def preload(self) -> Future[Transcriber]:
        """Load on the worker thread, so the first transcription does not wait for it."""
        return self._worker().submit(self.load)

    def load(self) -> Transcriber:
        """Resolve, check and load the model (once); ModelFileError / TranscriptionError if not."""
        with self._load_lock:
            self._load_locked()
        return self

    def _load_locked(self) -> Any:
        """The loaded pywhispercpp Model, loading it first if need be; the caller holds `_load_lock`."""
        if self._model is not None:
            return self._model
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
        return model

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Text of 16 kHz mono float32 audio (blocking; see `submit` for a worker thread)."""
        samples = np.nan_to_num(to_mono(audio))
        audio_seconds = samples.size / WHISPER_RATE
        if samples.size == 0:
            return Transcript("", 0.0, (), 0.0)
        if samples.size < MIN_SECONDS * WHISPER_RATE:
            samples = np.pad(samples, (0, int(MIN_SECONDS * WHISPER_RATE) - samples.size))
        with self._load_lock:  # one transcription at a time; a reload waits for it
            model = self._load_locked()
            started = time.perf_counter()
            with _native_lock:
                _errors.clear()
                raw = model.transcribe(samples)
                errors = list(_errors)
                if self.draws_random:  # its generators have moved on: the next call gets a fresh state
                    self._model = None
            del model
        if errors and not raw:
            raise TranscriptionError(f"whisper.cpp failed: {errors[0]}")
        segments = tuple(Segment(s.t0 / 100.0, s.t1 / 100.0, s.text.strip()) for s in raw
                         if not is_annotation(s.text))
        text = " ".join(s.text for s in segments if s.text).strip()
        return Transcript(text, time.perf_counter() - started, segments, audio_seconds)

    def submit(self, audio: np.ndarray) -> Future[Transcript]:
        """Transcribe on a background thread; the future holds the Transcript or the error."""
        future = self._worker().submit(self.transcribe, audio)
        if self.draws_random:
            self._worker().submit(self._reload_for_next)
        return future

    def _reload_for_next(self) -> None:
        # The fresh state for the next request, made while nobody waits for it; a failure here
        # is raised again, to the caller, by the next transcription's own load.
        try:
            self.load()
        except (ModelFileError, TranscriptionError):
            pass

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
