"""`tinyagent`: the command line. With no command it opens the terminal UI.

Each command lives in its own module with a `register(subparsers)` function; modules must
import heavy or native libraries (llama_cpp, onnxruntime, sounddevice, pywhispercpp) inside
the command, never at import time, so that `tinyagent --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from core.cli.common import CliError, config_from, open_tui

COMMAND_MODULES = (
    "core.cli.plans",  # run-plan, check-plans
    "core.cli.sandbox",  # sandbox show|dump|reset
    "core.cli.models",  # models list|pull|verify|path|convert-toolrag
    "core.cli.voice",  # transcribe, listen
    "core.cli.planner",  # plan, ask, grammar
    "core.cli.eval",  # eval
    "core.cli.toolrag",  # toolrag, examples
)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, as every other bad input (argparse prints its usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinyagent",
        description="An on-device assistant that turns requests into plans of tool calls. "
        "Run without a command to open the terminal UI.",
    )
    parser.add_argument("--config", metavar="FILE", help="use this config.yaml instead of the user's")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.config:  # every command, also those that read no setting: a --config given must be good
            config_from(args)
        if args.command is None:
            return open_tui(args)
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"tinyagent: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("tinyagent: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    sys.exit(main())
