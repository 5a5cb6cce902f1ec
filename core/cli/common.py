"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from core.config import Config, ConfigError, load_config
from core.events import Event
from core.jsonl import LINE_BREAKS, MAX_INPUT_BYTES, InputError, read_limited


class CliError(Exception):
    """A clean failure: printed as one line, exit status `status` (2 = usage / bad input)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def config_from(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise CliError(f"bad config: {exc}") from None


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The flags every command that runs a plan shares (`run-plan`, `ask`), with one meaning."""
    parser.add_argument("--dry-run", action="store_true", help="change nothing: only read-only lookups run")
    parser.add_argument("--yes", "-y", action="store_true", help="approve every step without asking")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--backend", choices=("sandbox", "applescript"), help="override the configured backend")


def read_text_arg(path: str, limit: int = MAX_INPUT_BYTES) -> str:
    """Read FILE, or standard input for '-' (core.jsonl.read_limited); exit 2 if it cannot be."""
    try:
        return read_limited(path, limit)
    except InputError as exc:
        raise CliError(str(exc)) from None


def print_json(obj: Any) -> None:
    """One JSON line: strict JSON (no NaN/Infinity), and one line to every reader (U+2028 escaped)."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:  # inf/nan would print as Infinity/NaN, which JSON readers reject
        text = json.dumps(_finite(obj), ensure_ascii=False)
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):  # a lone surrogate, or a terminal that is not UTF-8
        text = json.dumps(json.loads(text), ensure_ascii=True)
    print(text.translate(LINE_BREAKS), flush=True)


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
        from tui.app import run_app
    except ImportError as exc:
        raise CliError(f"the terminal UI cannot start: {exc}") from None
    return run_app(config_path=getattr(args, "config", None))
