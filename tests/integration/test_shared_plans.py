"""Acceptance on the 1,106 real plans in ../shared/data (skipped when the data is absent)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import networkx as nx

from tests.conftest import PLANS_FILE, ROOT
from tinyagent.core.dag import plan_graph, plans_isomorphic, renumber
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Plan, serialize

# The data's known malformed plans (extra arguments, a list for a string, a task after join()).
MAX_INVALID = 4


def test_every_plan_parses_and_round_trips_exactly(shared_plans):
    invalid = 0
    for record in shared_plans:
        plan = parse_plan(record["plan"])
        invalid += bool(plan.errors)
        assert parse_plan(serialize(plan)) == plan, record["id"]
    assert invalid <= MAX_INVALID


def test_clean_plans_serialize_back_to_their_own_text(shared_plans):
    same = sum(serialize(parse_plan(r["plan"])) == r["plan"] for r in shared_plans)
    # the rest differ only in noise: separate join lines, thoughts, comments, prose
    assert same >= 0.85 * len(shared_plans)


def test_each_dag_is_isomorphic_to_itself_renumbered(shared_plans):
    rng = random.Random(7)
    checked = 0
    for record in shared_plans:
        plan = parse_plan(record["plan"])
        if plan.errors or len(plan.tasks) < 2:
            continue
        graph = plan_graph(plan)
        order = list(nx.lexicographical_topological_sort(graph, key=lambda n: rng.random()))
        shuffled = parse_plan(serialize(renumber(plan, order)))
        assert shuffled.ok, (record["id"], shuffled.errors)
        assert plans_isomorphic(shuffled, plan), record["id"]
        # and the metric can fail: without its last task the plan no longer matches
        assert not plans_isomorphic(Plan(plan.tasks[:-1]), plan)
        checked += 1
    assert checked > 1000


def test_tools_field_matches_the_plan(shared_plans):
    agree = sum(set(parse_plan(r["plan"]).tools) == set(r["tools"]) for r in shared_plans)
    assert agree >= len(shared_plans) - MAX_INVALID


def test_check_plans_command_reports_the_invalid_ones(shared_plans):
    out = subprocess.run([sys.executable, "-m", "tinyagent.core.cli.__main__", "check-plans", str(PLANS_FILE), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert report["total"] == len(shared_plans)
    assert report["valid"] + len(report["invalid"]) == report["total"]
    assert 0 < len(report["invalid"]) <= MAX_INVALID
    assert out.returncode == 1
    for item in report["invalid"]:
        assert item["id"] and item["line"] >= 1 and "line" in item["error"]
