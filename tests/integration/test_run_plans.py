"""Every real plan runs on the sandbox: in dry-run it changes nothing; for real it never crashes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from tests.conftest import ROOT
from tinyagent.core.approval import ApprovalPolicy
from tinyagent.core.events import TaskStatus
from tinyagent.core.executor import DryRun, Executor
from tinyagent.core.parser import parse_plan
from tinyagent.tools.registry import REGISTRY, Effect
from tinyagent.tools.sandbox import SandboxBackend

PLAN = ('1. get_email_address("John")\n2. get_phone_number("Sarah")\n'
        '3. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", ["$1"], "", None)\n'
        '4. send_sms(["$2"], "Sync at 3: $3")\n5. join()<END_OF_PLAN>\n')


def _valid_plans(shared_plans):
    plans = [(r["id"], parse_plan(r["plan"])) for r in shared_plans]
    return [(i, p) for i, p in plans if p.ok]


async def _run_all(plans, backend, dry_run, yes):
    statuses = {}
    for plan_id, plan in plans:
        ex = Executor(backend, dry_run=dry_run, policy=ApprovalPolicy(yes=yes), task_timeout=30)
        summary = await ex.run(plan.tasks)
        statuses[plan_id] = summary
    return statuses


def test_every_plan_in_dry_run_changes_nothing(shared_plans, tmp_path):
    backend = SandboxBackend(db_path=tmp_path / "s.db")
    before = backend.fingerprint()
    plans = _valid_plans(shared_plans)
    results = asyncio.run(_run_all(plans, backend, DryRun.SAFE, yes=True))
    assert backend.fingerprint() == before
    tools_by_plan = {plan_id: {t.id: t.tool for t in plan.tasks} for plan_id, plan in plans}
    for plan_id, summary in results.items():
        assert set(summary.statuses.values()) <= {TaskStatus.DONE, TaskStatus.DRY_RUN, TaskStatus.FAILED, TaskStatus.SKIPPED}
        for task_id, status in summary.statuses.items():
            if status is TaskStatus.DONE:  # only read-only lookups may run for real
                assert REGISTRY[tools_by_plan[plan_id][task_id]].effect is Effect.READ
    ran = sum(s is TaskStatus.DONE for r in results.values() for s in r.statuses.values())
    previewed = sum(s is TaskStatus.DRY_RUN for r in results.values() for s in r.statuses.values())
    assert ran > 0 and previewed > ran


def test_every_plan_runs_for_real_without_a_crash(shared_plans, tmp_path):
    plans = _valid_plans(shared_plans)
    backend = SandboxBackend(db_path=tmp_path / "s.db")
    results = asyncio.run(_run_all(plans, backend, DryRun.OFF, yes=True))
    assert len(results) == len(plans)
    internal = [(pid, e) for pid, r in results.items() for e in r.errors.values() if e.startswith("internal error")]
    assert internal == [], internal[:5]
    done = sum(s is TaskStatus.DONE for r in results.values() for s in r.statuses.values())
    total = sum(len(r.statuses) for r in results.values())
    # a good share ran against the demo world; the rest are honest errors (unknown people, files)
    assert done / total > 0.35
    assert backend.fingerprint() != SandboxBackend(db_path=tmp_path / "fresh.db").fingerprint()


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tinyagent.core.cli", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_run_plan_cli_yes_json_and_exit_codes(tmp_path):
    plan_file = tmp_path / "plan.txt"
    plan_file.write_text(PLAN)
    out = _cli("run-plan", str(plan_file), "--yes", "--json", "--backend", "sandbox")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "plan_started" and events[-1]["event"] == "plan_finished"
    finished = {e["task_id"]: e for e in events if e["event"] == "task_finished"}
    assert all(e["status"] == "done" for e in finished.values())
    assert "@" in finished[1]["output"]
    dump = json.loads(_cli("sandbox", "dump", "--json").stdout)
    assert "Sync at 3" in json.dumps(dump)


def test_run_plan_cli_json_keeps_the_plans_warnings_as_events():
    out = _cli("run-plan", "-", "--dry-run", "--json", "--backend", "sandbox", stdin=PLAN + "a stray line\n")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]  # still one JSON object a line
    warnings = [e["message"] for e in events if e["event"] == "notice" and e["level"] == "warning"]
    assert any("ignored text after <END_OF_PLAN>" in w for w in warnings), events[:3]  # once dropped


def test_run_plan_cli_dry_run_from_stdin_changes_nothing():
    before = _cli("sandbox", "dump", "--json").stdout
    out = _cli("run-plan", "-", "--dry-run", "--backend", "sandbox", stdin=PLAN)
    assert out.returncode == 0, out.stderr
    assert "dry-run" in out.stdout
    assert _cli("sandbox", "dump", "--json").stdout == before


def test_run_plan_cli_without_a_terminal_declines_and_exits_1():
    out = _cli("run-plan", "-", "--backend", "sandbox", stdin=PLAN)
    assert out.returncode == 1
    assert "denied" in out.stdout
    assert "no terminal to ask" in out.stderr


def test_run_plan_cli_rejects_bad_input_with_status_2(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text('1. send_sms(["$4"], "x")\n2. join()<END_OF_PLAN>')
    out = _cli("run-plan", str(bad), "--yes")
    assert out.returncode == 2 and "line 1" in out.stderr and "Traceback" not in out.stderr
    out = _cli("run-plan", str(tmp_path / "missing.txt"))
    assert out.returncode == 2 and "no such file" in out.stderr
    out = _cli("run-plan", "-", "--yes", "--backend", "applescript", stdin=PLAN)
    assert out.returncode == 2 and "sandbox" in out.stderr
    cfg = tmp_path / "c.yaml"
    cfg.write_text("approval:\n  send: sometimes\n")
    out = _cli("--config", str(cfg), "run-plan", str(bad))
    assert out.returncode == 2 and "approval.send" in out.stderr
