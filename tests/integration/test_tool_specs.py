"""One place per tool: a tool defined only here is listed, dispatched by both backends and gated.

`water_plant` is a 17th tool written as tools/specs/ writes the 16: one ToolSpec with its
hint, check, approval summary and a handler per backend. Nothing else in the project knows
it; the prompt, the grammar (llama.cpp's own engine), the executor's approval gate, the
sandbox and the AppleScript backend (against a fake osascript) all take it from the spec.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.support.grammar_check import grammar_accepts
from tinyagent.core.approval import ApprovalPolicy, Decision
from tinyagent.core.events import ApprovalRequested, TaskStatus
from tinyagent.core.executor import DryRun, Executor
from tinyagent.core.parser import parse_plan
from tinyagent.core.planner.grammar import plan_grammar
from tinyagent.core.planner.prompt import describe_tool, prompt_prefix
from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolError
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.registry import REGISTRY, TOOLS
from tinyagent.tools.sandbox import SandboxBackend
from tinyagent.tools.spec import INT, STR, Args, Effect, Extras, Param, ToolSpec


def _check(a: Args) -> None:
    A.require(a["plant"], "water_plant", "the plant's name")
    if not 1 <= (a["litres"] or 0) <= 10:
        raise ToolError(f"water_plant: litres must be between 1 and 10, not {a['litres']}")


def _summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Water the {a['plant']} with {a['litres']} l"


def _sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        b.activity(conn, "garden", "watered", f"{a['plant']} {a['litres']} l")
    return f"Watered the {a['plant']}"


def _mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(WATER_PLANT, a["plant"], a["litres"])


WATER_PLANT = ToolSpec(
    "water_plant", "garden", Effect.WRITE, "Waters a plant in the garden.",
    (Param("plant", STR, "which plant"), Param("litres", INT, "how much water")),
    "a confirmation",
    hint="waters a plant with litres of water",
    check=_check, describe=_summary, sandbox=_sandbox, applescript=_mac, script="water_plant",
)
WITH_PLANTS = {**REGISTRY, WATER_PLANT.name: WATER_PLANT}
PLAN = '1. water_plant("fern", 2)\n2. join()<END_OF_PLAN>\n'

FAKE_OSASCRIPT = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
print("watered")
"""


def run(backend, *, dry_run=DryRun.OFF, decision=Decision.APPROVE, yes=False):
    asked = []

    async def approver(request):
        asked.append(request)
        return decision

    events = []
    plan = parse_plan(PLAN, WITH_PLANTS)
    assert plan.ok, plan.errors
    executor = Executor(backend, emit=events.append, approver=approver, policy=ApprovalPolicy(yes=yes),
                        dry_run=dry_run, registry=WITH_PLANTS, task_timeout=30)
    summary = asyncio.run(executor.run(plan.tasks))
    return summary, asked, events


def test_a_new_tool_is_listed_in_the_prompt_and_the_grammar_from_its_spec_alone(vocab_llm):
    line = describe_tool(WATER_PLANT)
    assert line == "water_plant(plant: str, litres: int) -> str: waters a plant with litres of water\n"
    assert line in prompt_prefix([*TOOLS[:2], WATER_PLANT], [])
    grammar = plan_grammar([TOOLS[0], WATER_PLANT])
    assert grammar_accepts(vocab_llm, grammar, PLAN.strip())
    assert not grammar_accepts(vocab_llm, grammar, PLAN.strip().replace("2)", '"two")'))  # litres is an int
    assert not grammar_accepts(vocab_llm, plan_grammar(TOOLS[:1]), PLAN.strip())


def test_a_new_tool_runs_on_the_sandbox_only_once_approved(tmp_path):
    backend = SandboxBackend(tmp_path / "s.db")
    before = backend.fingerprint()

    summary, asked, _ = run(backend, decision=Decision.DENY)
    assert summary.statuses[1] is TaskStatus.DENIED
    assert [r.call.summary for r in asked] == ["Water the fern with 2 l"]
    assert backend.fingerprint() == before

    summary, _, _ = run(backend, dry_run=DryRun.SAFE, yes=True)
    assert summary.statuses[1] is TaskStatus.DRY_RUN
    assert backend.fingerprint() == before

    summary, asked, events = run(backend)
    assert summary.statuses[1] is TaskStatus.DONE, summary.errors
    assert summary.outputs[1] == "Watered the fern"
    assert [e.effect for e in events if isinstance(e, ApprovalRequested)] == ["write"]
    assert [(u["app"], u["target"]) for u in backend.state()["ui_activity"]] == [("garden", "fern 2 l")]


def test_a_new_tools_checks_run_before_anything_is_asked(tmp_path):
    backend = SandboxBackend(tmp_path / "s.db")
    plan = parse_plan('1. water_plant("fern", 40)\n2. join()<END_OF_PLAN>\n', WITH_PLANTS)
    executor = Executor(backend, policy=ApprovalPolicy(yes=True), registry=WITH_PLANTS)
    summary = asyncio.run(executor.run(plan.tasks))
    assert summary.statuses[1] is TaskStatus.FAILED
    assert "litres must be between 1 and 10, not 40" in summary.errors[1]


def test_a_new_tool_runs_its_own_script_on_the_applescript_backend(tmp_path, monkeypatch):
    osascript = tmp_path / "osascript"
    osascript.write_text(FAKE_OSASCRIPT)
    osascript.chmod(0o755)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "water_plant.applescript").write_text("on run argv\nend run\n")
    backend = AppleScriptBackend(osascript=str(osascript), scripts_dir=scripts, timeout=20)

    summary, _, _ = run(backend, decision=Decision.DENY)
    assert summary.statuses[1] is TaskStatus.DENIED and not log.exists()

    summary, _, _ = run(backend)
    assert summary.statuses[1] is TaskStatus.DONE, summary.errors
    assert summary.outputs[1] == "watered"
    argv = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv == [[str(scripts / "water_plant.applescript"), "fern", "2"]]


def test_a_backend_without_a_handler_for_a_tool_says_so(tmp_path):
    sandbox_only = ToolSpec("water_plant", "garden", Effect.WRITE, "Waters a plant.", WATER_PLANT.params, "",
                            check=_check, sandbox=_sandbox)
    registry = {**REGISTRY, "water_plant": sandbox_only}
    backend = AppleScriptBackend(osascript=str(tmp_path / "never-run"), scripts_dir=tmp_path)
    executor = Executor(backend, policy=ApprovalPolicy(yes=True), registry=registry)
    summary = asyncio.run(executor.run(parse_plan(PLAN, registry).tasks))
    assert summary.statuses[1] is TaskStatus.FAILED
    assert summary.errors[1] == "water_plant: the applescript backend cannot run this tool"


def test_every_registered_tool_is_complete():
    for tool in TOOLS:
        assert tool.hint and tool.describe and tool.sandbox and tool.applescript, tool.name
        assert all(c in REGISTRY for c in tool.companions), tool.name
        if tool.effect is not Effect.READ:  # answers say what did not happen: "Not sent: the text message."
            assert tool.undone and tool.what, tool.name
