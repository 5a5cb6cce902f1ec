"""JSON Lines as every data file here uses them: one JSON object a line, blank lines skipped.

Errors name the file and the line, so a bad record in a large data set is easy to find.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

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


# Characters str.splitlines() (and JavaScript) take for line ends but JSON keeps raw in strings.
LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
_JSON_SPACE = " \t\r"  # a line of only these is blank; "\r" is what is left of a CRLF


def dumps_line(obj: Any, **options: Any) -> str:
    """One JSONL record (no newline) that can be written as UTF-8: text kept as it is, but the
    line breaks above escaped, so line-by-line readers other than ours (splitlines, editors,
    JavaScript) see one record too."""
    text = json.dumps(obj, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (pasted text): escaped, it reads back the same
        text = json.dumps(obj, ensure_ascii=True, **options)
    return text.translate(LINE_BREAKS)


def jsonl_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line of JSONL text.

    Split on "\n" only: str.splitlines() also splits at U+0085, U+2028 and U+2029, which a
    valid record may hold raw inside a string, and so lost such records (every JSONL reader
    here goes through this one function).
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip(_JSON_SPACE):
            yield number, line


def read_record(line: str, where: str = "") -> dict:
    """One line's JSON object; JsonlError saying why not, after `where` (e.g. "file, line 3")."""
    said = f"{where}: " if where else ""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise JsonlError(f"{said}not JSON ({reason})") from None
    if not isinstance(record, dict):
        raise JsonlError(f"{said}expected a JSON object")
    return record


def parse_jsonl(text: str, where: str) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of `text`."""
    return [(number, read_record(line, f"{where}, line {number}")) for number, line in jsonl_lines(text)]
