"""The real-model benchmark's arithmetic and query choice (the timed runs live in bench/, never in tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import bench_realmodel  # noqa: E402


def row(total, join, evaluated, generated, first, plan, prompt, success=True, joins=0, speeds=(100.0, 10.0)):
    stages = {"total": total, "first_dispatch": first, "plan_complete": plan, "prompt": prompt, "toolrag": 0.01}
    if join:
        stages["join"] = join
    return {"stages": stages, "valid": True, "success": success, "plan_tool_recall": 1.0, "joins": joins,
            "evaluated": evaluated, "generated": generated, "speeds": speeds}


def test_floor_and_ratios_follow_the_issue_formula():
    rows = [row(6.0, 0.0, 200, 20, 1.0, 5.0, 2.0), row(12.0, 6.0, 100, 40, 3.0, 6.0, 1.0, success=False, joins=1)]
    s = bench_realmodel.summarize(rows)  # each row's own speeds: 100 prompt, 10 generation tok/s
    # floors: 200/100 + 20/10 = 4 s and 100/100 + 40/10 = 5 s
    assert s["floor_p50"] in (4.0, 5.0)
    assert sorted([6.0 / 4.0, 12.0 / 5.0]) == sorted([s["e2e_floor_p50"], s["e2e_floor_p95"]])
    assert s["nojoin_floor_p50"] in (1.5, 6.0 / 5.0)
    assert s["success"] == 1 and s["joiner_share"] == 0.5 and s["invalid"] == 0
    assert s["dispatch_ratio_p50"] in (0.2, 0.5)
    assert abs(s["gen_tps"] - 60 / 8.0) < 1e-9  # generated tokens over (plan complete - prompt)


def test_queries_are_a_seeded_sample_of_multi_step_shared_plans(shared_plans):
    picked = bench_realmodel.pick_queries(5, seed=1)
    assert len(picked) == 5 and picked == bench_realmodel.pick_queries(5, seed=1)
    assert picked != bench_realmodel.pick_queries(5, seed=2)
    for record in picked:
        steps = [line for line in record["plan"].splitlines() if line.strip() and "join()" not in line]
        assert 2 <= len(steps) <= 3
