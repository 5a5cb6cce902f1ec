"""JSON Lines as every data file here uses them: one JSON object a line, blank lines skipped.

Errors name the file and the line, so a bad record in a large data set is easy to find.
"""

from __future__ import annotations

import json


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
