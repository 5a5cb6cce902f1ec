"""`tinyagent`: the command line. With no command it opens the terminal UI.

Each command lives in its own module with a `register(subparsers)` function; modules must
import heavy or native libraries (llama_cpp, onnxruntime, sounddevice, pywhispercpp) inside
the command, never at import time, so that `tinyagent --help` stays instant.
"""

from __future__ import annotations

# Only modules the interpreter has loaded before any of ours: the program's Ctrl-C handler is
# installed (run()) once this module is imported, and until then a Ctrl-C prints Python's traceback.
import _thread
import os
import signal
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know the name)
if TYPE_CHECKING:
    import argparse

COMMAND_MODULES = (
    "tinyagent.core.cli.plans",  # run-plan, check-plans
    "tinyagent.core.cli.sandbox",  # sandbox show|dump|reset
    "tinyagent.core.cli.models",  # models list|pull|verify|path|convert-toolrag
    "tinyagent.core.cli.voice",  # transcribe, listen
    "tinyagent.core.cli.planner",  # plan, ask, grammar
    "tinyagent.core.cli.eval",  # eval
    "tinyagent.core.cli.toolrag",  # toolrag, examples
    "tinyagent.core.cli.train",  # train-planner
    "tinyagent.core.cli.mcp",  # mcp list
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from tinyagent.core.cli.parser import OneLineErrorParser

    parser = OneLineErrorParser(
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
    """The command line. Ctrl-C anywhere in it, the command modules' imports included, is exit 130."""
    try:
        # Start-up (imports, the parser) runs under run()'s handler, which ends the process at
        # once: nothing to clean up yet, and a KeyboardInterrupt raised inside a native module's
        # import can come out as another error (ssl's once gave "TypeError: expected a message
        # argument") that no `except KeyboardInterrupt` catches.
        args = build_parser().parse_args(argv)
        if _as_program:  # a KeyboardInterrupt from here on: the command cleans up (asyncio.run needs this handler)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return _command(args)
    except KeyboardInterrupt:
        print("tinyagent: interrupted", file=sys.stderr)
        return 130
    finally:
        if _as_program:
            signal.signal(signal.SIGINT, _exit_interrupted)


def _command(args: argparse.Namespace) -> int:
    from tinyagent.core.cli.common import CliError, config_from, open_tui, say  # loaded by the parser's modules

    try:
        if args.config:  # every command, also those that read no setting: a --config given must be good
            config_from(args)
        if args.command is None:
            return open_tui(args)
        return int(args.func(args) or 0)
    except CliError as exc:
        say(f"tinyagent: {exc}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:
        return 0


_as_program = False  # run() started us: the process's Ctrl-C handling is ours


def _exit_interrupted(signum: int, frame: object) -> None:
    """Ctrl-C outside main's try (before it, or on the way out while threads and atexit finish):
    nothing to clean up, so end now, without a traceback."""
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - interrupted mid-write, or stdout closed: the exit matters more
        pass
    os.write(2, b"tinyagent: interrupted\n")
    os._exit(130)


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """A Ctrl-C that landed where Python cannot raise it (an import lock's weakref callback, a
    __del__) was printed as "Exception ignored" and lost: deliver it again, where it can be raised."""
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        try:
            _thread.interrupt_main()  # marks it pending: raised at the main thread's next step...
        except KeyboardInterrupt:  # ...which can be this very call, in the hook, where it is lost again
            _exit_interrupted(signal.SIGINT, None)
        return
    sys.__unraisablehook__(unraisable)


def run() -> None:
    """The `tinyagent` program."""
    global _as_program
    _as_program = True
    signal.signal(signal.SIGINT, _exit_interrupted)
    sys.unraisablehook = _unraisable
    try:
        status = main()
    except KeyboardInterrupt:  # in the few steps between main's try and its finally
        print("tinyagent: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)
