"""planner.lookup_steps through the pipeline: the run, the events the DAG view draws, and eval's score."""

from __future__ import annotations

from tests.support.scripted_llm import ScriptedLLM
from tinyagent.core.config import Config
from tinyagent.core.evaluation import evaluate_record
from tinyagent.core.events import Notice, TaskAdded, TaskStarted, TaskStatus
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.plan import Ref

WRITTEN = '1. send_sms(["Sarah"], "Running late")\n2. join()<END_OF_PLAN>'
REFERENCE = '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'


def config(lookup_steps: bool) -> Config:
    cfg = Config(backend="sandbox", apps=["contacts", "messages"])
    cfg.toolrag.enabled = False
    cfg.planner.max_replans = 0
    cfg.planner.prompt = "compact"
    cfg.planner.lookup_steps = lookup_steps
    return cfg


async def test_the_lookup_runs_as_a_step_of_its_own_and_feeds_the_message(tiny_gguf):
    llm = ScriptedLLM(tiny_gguf, [WRITTEN, "Thought: done\nAction: Finish(Texted Sarah.)"])
    pipeline = Pipeline(config(True), llm=llm)
    events: list = []
    try:
        result = await pipeline.ask("Text Sarah I'm running late", emit=events.append, dry_run="safe")
    finally:
        pipeline.close()
        llm.close()
    assert [t.tool for t in result.plan.tasks] == ["get_phone_number", "send_sms"]
    assert result.plan.tasks[1].args[0] == [Ref(1)]
    added = [(e.task.id, e.task.tool) for e in events if isinstance(e, TaskAdded)]
    assert added == [(1, "get_phone_number"), (2, "send_sms")]  # the DAG view draws the lookup like any step
    assert [e.tool for e in events if isinstance(e, TaskStarted)][0] == "get_phone_number"
    assert result.summary.statuses[1] is TaskStatus.DONE  # a read runs in a dry run
    assert result.summary.outputs[1] == "+1 415 555 0102"  # the sandbox's Sarah


async def test_eval_scores_the_plan_with_its_lookups_and_says_how_many_were_added(tiny_gguf):
    record = {"id": "r1", "query": "Text Sarah I'm running late", "plan": REFERENCE, "tools": []}
    outcomes = {}
    for on in (True, False):
        llm = ScriptedLLM(tiny_gguf, [WRITTEN])
        pipeline = Pipeline(config(on), llm=llm)
        try:
            outcomes[on] = await evaluate_record(pipeline, "r1", record, execute=False)
        finally:
            pipeline.close()
            llm.close()
    assert (outcomes[True].success, outcomes[True].lookups_added) == (True, 1)
    assert (outcomes[False].success, outcomes[False].lookups_added) == (False, 0)
    assert outcomes[True].plan == outcomes[False].plan == WRITTEN  # the record keeps what the model wrote


async def test_a_lookup_of_someone_the_request_never_names_is_told_before_anything_runs(tiny_gguf):
    invented = '1. get_phone_number("Lutfi")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'
    llm = ScriptedLLM(tiny_gguf, [invented, "Thought: done\nAction: Finish(Texted.)"])
    pipeline = Pipeline(config(True), llm=llm)
    events: list = []
    try:
        await pipeline.ask("Text Sarah I'm running late", emit=events.append, dry_run="safe")
    finally:
        pipeline.close()
        llm.close()
    warned = [i for i, e in enumerate(events) if isinstance(e, Notice) and e.level == "warning"]
    assert len(warned) == 1 and "'Lutfi', whom the request does not name" in events[warned[0]].message
    started = [i for i, e in enumerate(events) if isinstance(e, TaskStarted)]
    assert warned[0] < started[0]  # told as the step streams in, before it runs
