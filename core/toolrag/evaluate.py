"""How well a ToolRAG selects tools for labelled requests.

recall     share of needed tools that were selected (over all requests together)
avg_tools  tools selected per request, next to avg_needed (what the requests really need)
exact      share of requests whose selection is exactly the needed set
ms_per_query  median time of one `select()` (tokenize + model + rules), one request at a time
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from core.toolrag.data import Labelled
from core.toolrag.select import ToolRAG


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
