"""Which tokens of a training plan decide its graph, so training can weigh them more.

A plan is scored by its graph (core/dag.py): which tools it calls, how many times, and which
step feeds which. Most of a plan's tokens are free text (a message's words, a title) that the
graph never sees; the few that decide it are each step's tool name (where the model chooses
between another step and `join`, the choice behind a dropped clause) and the `$N` references
(the edges). `train-planner --graph-weight W` gives those tokens W times the loss of the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOOL_NAME = re.compile(r"^\d+\.\s*(\w+)\(", re.M)  # the step's tool, `join` included
_REFERENCE = re.compile(r"\$\d+")


def graph_spans(plan_text: str) -> list[tuple[int, int]]:
    """Byte spans of `plan_text` (UTF-8) that decide the plan's graph: tool names and `$N`."""
    spans = [m.span(1) for m in _TOOL_NAME.finditer(plan_text)]
    spans += [m.span() for m in _REFERENCE.finditer(plan_text)]
    return sorted((_byte_at(plan_text, a), _byte_at(plan_text, b)) for a, b in spans)


def _byte_at(text: str, char: int) -> int:
    return len(text[:char].encode("utf-8"))


def token_weights(pieces: Sequence[bytes], spans: Sequence[tuple[int, int]], weight: float) -> tuple[float, ...]:
    """A weight per token: `weight` where the token's bytes overlap a span, else 1.

    `pieces` are the bytes each token adds to the text, in order (their concatenation is the
    text the spans were taken from, with anything after it, such as the end-of-turn token)."""
    out: list[float] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        hit = any(a < end and start < b for a, b in spans) if end > start else False
        out.append(weight if hit else 1.0)
        start = end
    return tuple(out)
