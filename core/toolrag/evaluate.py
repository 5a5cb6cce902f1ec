"""How well a ToolRAG selects tools for labelled requests.

recall     share of needed tools that were selected (over all requests together)
avg_tools  tools selected per request, next to avg_needed (what the requests really need)
exact      share of requests whose selection is exactly the needed set
ms_per_query  median time of one `select()` (tokenize + model + rules), one request at a time
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from tinyagent.core.toolrag.data import Labelled
from tinyagent.core.toolrag.select import ToolRAG


def evaluate(toolrag: ToolRAG, rows: Sequence[Labelled]) -> dict[str, float | int]:
    if not rows:
        raise ValueError("nothing to evaluate")
    toolrag.select(rows[0].query)  # first call pays one-off allocations; not part of the figure
    needed = hit = selected = exact = hit_model = selected_model = 0
    times = []
    for row in rows:
        sel = toolrag.select(row.query)
        chosen = set(sel.selected)
        by_model = chosen - set(sel.added_by_rules)
        times.append(sel.seconds)
        needed += len(row.tools)
        selected += len(chosen)
        hit += len(chosen & row.tools)
        exact += chosen == row.tools
        selected_model += len(by_model)
        hit_model += len(by_model & row.tools)
    n = len(rows)
    return {
        "n": n,
        "recall": round(hit / needed, 4),
        "avg_tools": round(selected / n, 3),
        "avg_needed": round(needed / n, 3),
        "exact": round(exact / n, 4),
        "precision": round(hit / selected, 4) if selected else 0.0,
        "recall_model_only": round(hit_model / needed, 4),
        "avg_added_by_rules": round((selected - selected_model) / n, 3),
        "ms_per_query": round(statistics.median(times) * 1000, 3),
        "threshold": toolrag.threshold,
    }


CURVE_THRESHOLDS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)


def threshold_curve(toolrag: ToolRAG, rows: Sequence[Labelled],
                    thresholds: Sequence[float] = CURVE_THRESHOLDS) -> list[dict[str, float]]:
    """Recall against tools selected per request (companion rules included) at each threshold,
    so a user can pick `toolrag.threshold`. The classifier runs once per request, one request at
    a time as select() does (an int8 graph's activation scales depend on the whole batch)."""
    if not rows:
        raise ValueError("nothing to evaluate")
    probs = [toolrag.classifier.probabilities(r.query) for r in rows]
    needed = sum(len(r.tools) for r in rows)
    curve = []
    for threshold in thresholds:
        hit = selected = exact = 0
        for row, p in zip(rows, probs):
            chosen = set(toolrag.choose(p, row.query, threshold)[0])
            hit += len(chosen & row.tools)
            selected += len(chosen)
            exact += chosen == row.tools
        curve.append({"threshold": threshold, "recall": round(hit / needed, 4),
                      "avg_tools": round(selected / len(rows), 3), "tools_vs_needed": round(selected / needed, 3),
                      "exact": round(exact / len(rows), 4)})
    return curve


def format_curve(curve: Sequence[dict[str, float]]) -> str:
    lines = [f"{'threshold':>9s} {'recall':>7s} {'tools':>6s} {'x needed':>8s} {'exact':>6s}"]
    lines += [f"{c['threshold']:9.2f} {c['recall']:7.3f} {c['avg_tools']:6.2f} {c['tools_vs_needed']:8.2f} "
              f"{c['exact']:6.3f}" for c in curve]
    return "\n".join(lines)
