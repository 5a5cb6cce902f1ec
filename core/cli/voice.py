"""`tinyagent transcribe FILE.wav` and `tinyagent listen`: local speech-to-text.

sounddevice and pywhispercpp load native libraries, so core.voice imports them only when
recording or transcribing starts (see core.cli: `tinyagent --help` stays instant).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import get_args

import numpy as np

from tinyagent.core.cli import planner
from tinyagent.core.cli.common import CliError, config_from, print_json, say, server_url
from tinyagent.core.config import MAX_BEAM, MAX_NUMBER, MAX_THREADS, VoiceHint
from tinyagent.core.events import AudioLevel
from tinyagent.core.executor import run_in_daemon_thread
from tinyagent.core.voice.audio import AudioFileError, read_wav, write_wav
from tinyagent.core.voice.capture import NoSuchDevice, Recorder, VoiceUnavailable, list_input_devices
from tinyagent.core.voice.transcribe import ModelFileError, Transcriber, Transcript, TranscriptionError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe a WAV file with the local whisper model",
                       description="Transcribe a WAV file (any rate, mono or stereo) with whisper.cpp, on device.")
    p.add_argument("file", metavar="FILE.wav")
    _add_model_args(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("listen", help="record from the microphone, transcribe, print (or --ask)",
                       description="Record until --seconds pass, trailing silence (--silence) or Ctrl-C; "
                                   "then transcribe locally and print the text.")
    p.add_argument("--seconds", type=_positive, metavar="N", help="record at most N seconds (default: voice.max_seconds)")
    p.add_argument("--silence", type=_non_negative, metavar="S",
                   help="stop after S seconds of silence once speech was heard (0: off; default: voice.silence_seconds)")
    p.add_argument("--device", metavar="D", help="input device name or index (default: voice.device)")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--save", metavar="FILE.wav", help="also save the recording (16 kHz mono)")
    _add_model_args(p)
    p.add_argument("--ask", action="store_true", help="hand the text to `tinyagent ask`")
    p.add_argument("--dry-run", action="store_true", help="with --ask: plan, but run nothing with side effects")
    p.add_argument("--yes", action="store_true", help="with --ask: approve every action without asking")
    p.add_argument("--planner", metavar="PATH", help="with --ask: the planner GGUF (ask's --model; default: models.planner)")
    p.add_argument("--server", metavar="URL", type=server_url, help="with --ask: plan on this llama.cpp server (ask's --server)")
    p.set_defaults(func=cmd_listen)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="whisper.cpp ggml model file or model-store name "
                                                   "(default: models.whisper, else base.en, or where base.en is not "
                                                   "downloaded a whisper model that is)")
    p.add_argument("--language", metavar="L", help="spoken language code, or auto (default: voice.language)")
    p.add_argument("--threads", type=_threads, metavar="N", help="CPU threads (default: voice.threads; 0 = auto)")
    p.add_argument("--no-fallback", action="store_true",
                   help="do not retry at higher temperatures when decoding looks poor (faster)")
    p.add_argument("--hint", choices=get_args(VoiceHint),
                   help="prompt whisper with the apps' phrases and your contacts' names (commands), the names "
                        "only, or nothing (default: voice.hint)")
    p.add_argument("--beam", type=_beam_size, metavar="N",
                   help=f"beam search width, 1-{MAX_BEAM}; 1 = greedy, faster (default: voice.beam_size)")
    p.add_argument("--json", action="store_true", help="print one JSON object (listen --ask: ask's JSON event lines)")


def _whole_number(low: int, high: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` ("0 (all cores)" says what low means)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low}{meaning} to {high}, not {value}")
        return value
    return parse


_threads = _whole_number(0, MAX_THREADS, " (all cores)")
_beam_size = _whole_number(1, MAX_BEAM)


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _number(text: str) -> float:
    """Seconds, bounded as the config bounds them: nan and inf are no length (nan passed every
    comparison, and inf seconds overflowed the count of samples)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise argparse.ArgumentTypeError(f"expected a number of seconds up to {MAX_NUMBER}, not {text!r}")
    return value


# -- transcription ------------------------------------------------------------------------------
def _transcriber(args: argparse.Namespace) -> Transcriber:
    """The configured transcriber (Transcriber.from_config), with the command line's overrides."""
    cfg = config_from(args)
    if args.hint:
        cfg.voice.hint = args.hint
    if args.model:
        cfg.models.whisper = args.model
    if args.language:
        cfg.voice.language = args.language
    if args.threads is not None:
        cfg.voice.threads = args.threads
    if args.beam is not None:
        cfg.voice.beam_size = args.beam
    # a model named with --model is taken as given; the configured default may have a stand-in
    transcriber = Transcriber.from_config(cfg, stand_in=not args.model,
                                          **({"temperature_inc": 0.0} if args.no_fallback else {}))
    if transcriber.hint_problem:
        say(f"tinyagent: warning: {transcriber.hint_problem}", file=sys.stderr)
    return transcriber


def _transcribe(transcriber: Transcriber, audio: np.ndarray) -> Transcript:
    """On a daemon thread (the executor's run_in_daemon_thread), waited for here: whisper.cpp's
    call cannot be interrupted, so Ctrl-C ends the command at once instead of when a long
    recording is done (whisper.cpp lets go of the GIL while it works)."""
    async def in_background() -> Transcript:
        return await run_in_daemon_thread(transcriber.transcribe, audio)

    try:
        return asyncio.run(in_background())
    except KeyboardInterrupt:
        # Exit now, past the interpreter's shutdown: it would wait for whisper.cpp (freeing the
        # model takes the lock the call holds), and whisper.cpp logging into a finalised
        # interpreter aborts the process. Nothing is left half-written: transcribe only prints.
        print("tinyagent: interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)
    except ModelFileError as exc:
        raise CliError(str(exc), 2) from None
    except TranscriptionError as exc:
        raise CliError(str(exc), 1) from None


def _check_model(transcriber: Transcriber) -> None:
    """Find and check the model file (a missing or broken one exits 2 here); a model standing
    in for the missing default is named in one line."""
    try:
        transcriber.check()
    except ModelFileError as exc:
        raise CliError(str(exc), 2) from None
    if transcriber.model_notice:
        print(f"tinyagent: {transcriber.model_notice}", file=sys.stderr, flush=True)


def _ready_transcriber(args: argparse.Namespace) -> Transcriber:
    """Check the model file now and load it in the background while the user speaks."""
    transcriber = _transcriber(args)
    _check_model(transcriber)
    transcriber.preload()
    return transcriber


def cmd_transcribe(args: argparse.Namespace) -> int:
    transcriber = _transcriber(args)
    try:
        audio = read_wav(args.file)
    except AudioFileError as exc:
        raise CliError(str(exc), 2) from None
    _check_model(transcriber)
    result = _transcribe(transcriber, audio)
    if args.json:
        print_json({"file": args.file, "model": str(transcriber.model_path), **result.to_json()})
    else:
        say(result.text)
    return 0


# -- listening ----------------------------------------------------------------------------------
def cmd_listen(args: argparse.Namespace) -> int:
    if (args.dry_run or args.yes or args.planner or args.server) and not args.ask:
        raise CliError("--dry-run, --yes, --planner and --server go with --ask")
    try:
        if args.list_devices:
            return _list_devices(args)
        transcriber = _ready_transcriber(args)  # a model problem shows before anyone speaks
        audio, recorder = _record(args)
    except VoiceUnavailable as exc:
        raise CliError(f"cannot record: {exc}", 2 if isinstance(exc, NoSuchDevice) else 1) from None
    if recorder.problem:
        say(f"tinyagent: warning: {recorder.problem}", file=sys.stderr)
    if args.save:
        _save(args.save, audio)
    result = _transcribe(transcriber, audio)
    if args.json and not args.ask:
        print_json({**result.to_json(), "stop_reason": recorder.stop_reason, "problem": recorder.problem})
    elif not args.ask:
        say(result.text)
    if not args.ask:
        return 0
    if not result.text:
        raise CliError("heard nothing to ask", 1)
    return _ask(args, result.text)


def _list_devices(args: argparse.Namespace) -> int:
    devices = list_input_devices()
    if args.json:
        print_json({"devices": devices})
    elif not devices:
        print("no input devices found")
    for d in devices if not args.json else []:
        mark = "*" if d["default"] else " "
        say(f"{mark} {d['index']:>3}  {d['name']}  ({d['channels']} ch, {d['rate']} Hz)")
    return 0


def _record(args: argparse.Namespace) -> tuple[np.ndarray, Recorder]:
    voice = config_from(args).voice
    latest: list[AudioLevel] = []
    recorder = Recorder(device=args.device if args.device is not None else voice.device,
                        max_seconds=args.seconds or voice.max_seconds,
                        silence_seconds=args.silence if args.silence is not None else voice.silence_seconds,
                        on_level=lambda level: latest.append(level))
    meter = sys.stderr.isatty()
    with _native_stderr_silenced():
        recorder.start()
        recorder.wait_for_audio()  # some devices take a moment; speech before that is lost
        print(f"Recording (up to {recorder.max_seconds:g} s; Ctrl-C to stop)...", file=sys.stderr, flush=True)
        try:
            while not recorder.wait(0.1):
                if meter and latest:
                    _draw_meter(latest[-1])
                    del latest[:-1]
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the recording, not the command
        audio = recorder.stop()
        if meter:
            print(file=sys.stderr)
    return audio, recorder


def _draw_meter(level: AudioLevel) -> None:
    bars = int(min(1.0, level.rms * 8) * 30)  # speech RMS ~0.05-0.1 fills most of the bar
    print(f"\r  {level.seconds:5.1f} s  [{'#' * bars:<30}]", end="", file=sys.stderr, flush=True)


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """PortAudio's ALSA backend prints debug lines straight to fd 2 when a device fails;
    send fd 2 to /dev/null while recording and give Python's sys.stderr a copy of the
    real one, so our own messages still show."""
    try:
        sys.stderr.flush()
        redirect = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        redirect = False  # stderr is not a real file (e.g. captured in tests)
    if not redirect:
        yield
        return
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    old, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w", buffering=1, errors="replace")
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = old
        os.dup2(saved, 2)
        os.close(saved)


def _save(path: str, audio: np.ndarray) -> None:
    try:
        write_wav(path, audio)
    except OSError as exc:
        raise CliError(f"cannot save the recording to {path}: {exc.strerror or exc}", 1) from None


def _ask(args: argparse.Namespace, text: str) -> int:
    """Hand the heard text to `tinyagent ask`, parsed by ask's own argument parser."""
    say(f"> {text}", file=sys.stderr)
    parser = argparse.ArgumentParser(prog="tinyagent")
    parser.add_argument("--config")
    planner.register(parser.add_subparsers(dest="command"))
    argv = (["--config", args.config] if args.config else []) + ["ask"]
    argv += ["--dry-run"] * args.dry_run + ["--yes"] * args.yes + ["--json"] * args.json
    argv += ["--model", args.planner] if args.planner else []
    argv += ["--server", args.server] if args.server else []
    ask_args = parser.parse_args([*argv, "--", text])  # "--": heard text that starts with "-" is still the request
    return int(ask_args.func(ask_args) or 0)
