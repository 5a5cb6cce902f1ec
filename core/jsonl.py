"""JSON Lines as every data file here uses them: one JSON object a line, blank lines skipped.

Errors name the file and the line, so a bad record in a large data set is easy to find.
"""

from __future__ import annotations

import json
import sys

MAX_INPUT_BYTES = 64 << 20  # plans and JSONL data sets; /dev/zero must not fill the memory


class InputError(ValueError):
    """A file (or standard input) that cannot be read as text; the message says which and why."""


def read_limited(path: str, limit: int = MAX_INPUT_BYTES, *, dash_is_stdin: bool = True) -> str:
    """Read FILE, or standard input for '-' (unless `dash_is_stdin` is off: then a file named
    "-"): at most `limit` bytes of UTF-8, whatever the locale."""
    stdin = dash_is_stdin and path == "-"
    name = "standard input" if stdin else path
    try:
        if stdin:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(limit + 1) if stream is not None else sys.stdin.read(limit + 1).encode("utf-8")
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file") from None
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > limit:
        raise InputError(f"{name} is larger than {limit >> 20} MiB; refusing to read it all")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


class JsonlError(ValueError):
    """A line that is not a JSON object (the message names where)."""


def parse_jsonl(text: str, where: str) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of `text`."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            reason = exc if isinstance(exc, ValueError) else "nested too deeply"
            raise JsonlError(f"{where}, line {number}: not JSON ({reason})") from None
        if not isinstance(record, dict):
            raise JsonlError(f"{where}, line {number}: expected a JSON object")
        records.append((number, record))
    return records
