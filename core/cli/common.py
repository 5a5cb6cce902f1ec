"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.config import Config, ConfigError, load_config
from core.events import Event


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


def read_text_arg(path: str) -> str:
    """Read FILE, or standard input for '-'."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def json_sink(event: Event) -> None:
    print_json(event.to_json())


def open_tui(args: argparse.Namespace) -> int:
    try:
        from tui.app import run_app
    except ImportError as exc:
        raise CliError(f"the terminal UI cannot start: {exc}") from None
    return run_app(config_path=getattr(args, "config", None))
