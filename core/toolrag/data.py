"""Labelled requests ({query, tools}) and the fixed train / validation / test split.

The split depends only on each row's `id` (SHA-256 of it, last decimal digit of the
integer value, i.e. `int(sha256(id), 16) % 10`): 0-1 test (~20%), 2 validation (~10%,
used to calibrate per-tool biases), 3-9 training. So training never sees the test rows,
whatever order the file is in and however it grows. Rows without an id count as training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tinyagent.core.jsonl import InputError, JsonlError, parse_jsonl, read_limited
from tinyagent.tools.registry import REGISTRY

SPLITS = ("train", "val", "test", "all")


class DataError(ValueError):
    """A labelled-data file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Labelled:
    id: str
    query: str
    tools: frozenset[str]


def split_of(row_id: str) -> str:
    if not row_id:
        return "train"
    bucket = int(hashlib.sha256(row_id.encode("utf-8")).hexdigest(), 16) % 10
    return "test" if bucket < 2 else "val" if bucket == 2 else "train"


def load_labelled(path: Path | str, split: str = "all") -> list[Labelled]:
    """Rows of a JSON-lines file with `query` and `tools` (and ideally `id`), in file order."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = Path(path)
    try:  # at most 64 MiB of UTF-8; "-" is a file here, not standard input
        text = read_limited(str(path), dash_is_stdin=False)
        records = parse_jsonl(text, str(path))
    except (InputError, JsonlError) as exc:
        raise DataError(str(exc)) from None
    rows: list[Labelled] = []
    for n, obj in records:
        tools = obj.get("tools")
        if not isinstance(obj.get("query"), str) or not isinstance(tools, list):
            raise DataError(f"{path}, line {n}: expected an object with a text 'query' and a list 'tools'")
        if not all(isinstance(t, str) for t in tools):
            raise DataError(f"{path}, line {n}: 'tools' must be a list of tool names")
        unknown = [t for t in tools if t not in REGISTRY]
        if unknown:
            raise DataError(f"{path}, line {n}: unknown tool(s) {', '.join(unknown)}"[:500])
        row = Labelled(str(obj.get("id", "")), obj["query"], frozenset(obj["tools"]))
        if split == "all" or split_of(row.id) == split:
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows" + ("" if split == "all" else f" in the {split!r} split"))
    return rows
