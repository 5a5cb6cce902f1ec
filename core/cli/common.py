"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO, get_args

from tinyagent.core.config import BackendName, Config, ConfigError, load_config
from tinyagent.core.events import Event
from tinyagent.core.jsonl import MAX_INPUT_BYTES, InputError, read_limited
from tinyagent.core.planner.server_url import ServerURLError, parse_server_url
from tinyagent.core.sanitize import visible


class CliError(Exception):
    """A clean failure: printed as one line, exit status `status` (2 = usage / bad input)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def say(text: object = "", *, file: TextIO | None = None, end: str = "\n") -> None:
    """print() for what holds data (names, notes, examples, a model's text, errors quoting them):
    through the one sanitiser, line breaks kept, so no escape sequence in it reaches the terminal."""
    print(visible(text, keep_newlines=True), end=end, file=file or sys.stdout, flush=True)


def config_from(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise CliError(f"bad config: {exc}") from None


def server_url(text: str) -> str:
    """argparse type of `--server URL`: a bad URL is a usage error (exit 2) before anything loads."""
    try:
        return str(parse_server_url(text))
    except ServerURLError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL", type=server_url,
                        help="plan on this llama.cpp server (llama-server or llama-cpp-python's) instead of "
                        "in-process; default: planner.server. --model then names a local copy of its GGUF "
                        "(read for the chat template and token counts only)")


def add_adapter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", metavar="ADAPTER.gguf", type=Path,
                        help="apply this LoRA adapter to the planner at load (e.g. one train-planner made) "
                        "instead of its manifest entry's; default: planner.adapter")


def with_planner_options(args: argparse.Namespace, config: Config) -> Config:
    """The config with `--server` and `--adapter` applied (those given)."""
    if getattr(args, "server", None):
        config.planner.server = args.server
    if getattr(args, "adapter", None):
        config.planner.adapter = str(args.adapter)
    return config


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The flags every command that runs a plan shares (`run-plan`, `ask`), with one meaning."""
    parser.add_argument("--dry-run", action="store_true", help="change nothing: only read-only lookups run")
    parser.add_argument("--yes", "-y", action="store_true", help="approve every step without asking")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--backend", choices=get_args(BackendName), help="override the configured backend")


def read_text_arg(path: str, limit: int = MAX_INPUT_BYTES) -> str:
    """Read FILE, or standard input for '-' (core.jsonl.read_limited); exit 2 if it cannot be."""
    try:
        return read_limited(path, limit)
    except InputError as exc:
        raise CliError(str(exc)) from None


def print_json(obj: Any) -> None:
    """One JSON line: strict JSON (no NaN/Infinity), one line to every reader (U+2028 escaped),
    and no raw C1 control (CSI 0x9b): json.dumps escapes only C0."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:  # inf/nan would print as Infinity/NaN, which JSON readers reject
        text = json.dumps(_finite(obj), ensure_ascii=False)
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):  # a lone surrogate, or a terminal that is not UTF-8
        text = json.dumps(json.loads(text), ensure_ascii=True)
    print(text.translate(_RAW_IN_JSON), flush=True)


# What json.dumps leaves raw that a reader must not get raw: characters str.splitlines() and
# JavaScript treat as line ends, DEL and the C1 controls a terminal may obey (0x85 is both).
_RAW_IN_JSON = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_sink(event: Event) -> None:
    print_json(event.to_json())


def open_tui(args: argparse.Namespace) -> int:
    try:
        from tinyagent.tui.app import run_app
    except ImportError as exc:
        raise CliError(f"the terminal UI cannot start: {exc}") from None
    return run_app(config_path=getattr(args, "config", None))
