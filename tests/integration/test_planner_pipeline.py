"""Prompt layout, the planner, the sub-agent writer and the whole pipeline on real llama.cpp."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tests.support.scripted_llm import EndlessLLM, until_started
from tinyagent.core.config import Config
from tinyagent.core.events import AnswerReady, PlanToken, RunSummary, StageTiming, TaskStarted, TaskStatus, ToolsSelected
from tinyagent.core.executor import DryRun
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.grammar import GrammarLimits
from tinyagent.core.planner.joiner import deterministic_answer
from tinyagent.core.planner.llm import LocalLLM
from tinyagent.core.planner.planner import Planner
from tinyagent.core.planner.profile_compact import parse_join
from tinyagent.core.planner.prompt import (
    PROMPT_ORDER,
    build_prompt,
    describe_tool,
    example_order,
    prompt_order,
    prompt_prefix,
    useful_examples,
)
from tinyagent.core.planner.writer import ModelWriter
from tinyagent.core.request_run import work_key, worth_another_plan
from tinyagent.tools.registry import REGISTRY, TOOLS

SMALL = GrammarLimits(max_tasks=3, max_string=10, max_list=2, thoughts=False, comments=False)


class Ex:
    def __init__(self, query, plan):
        self.query, self.plan = query, plan


@pytest.fixture(scope="module")
def llm(tiny_gguf):
    model = LocalLLM(tiny_gguf, n_ctx=4096, n_threads=1)
    yield model
    model.close()


def small_config(**planner) -> Config:
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.apps = ["contacts", "messages", "reminders"]
    config.planner.max_tokens = 700
    config.planner.max_replans = 1
    for key, value in planner.items():
        setattr(config.planner, key, value)
    return config


# -- prompt -----------------------------------------------------------------------------------
def test_prompt_puts_what_changes_last():
    tools = [REGISTRY["send_sms"], REGISTRY["get_phone_number"]]
    ex = [Ex("Text Ann hi", '1. get_phone_number("Ann")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')]
    a = build_prompt("Text Bob", tools, ex, today=dt.date(2024, 6, 7), instructions="Be brief.")
    b = build_prompt("Remind me", tools, ex, today=dt.date(2024, 6, 8))
    prefix = prompt_prefix(tools, ex)
    assert a.startswith(prefix) and b.startswith(prefix)
    assert "Friday, 2024-06-07" in a[len(prefix):] and "Be brief." in a[len(prefix):]
    assert a.rstrip().endswith("Question: Text Bob")
    # The fixed prompt order, whatever order ToolRAG gives.
    assert PROMPT_ORDER.index("send_sms") < PROMPT_ORDER.index("get_phone_number")
    assert prefix.index("send_sms(recipients") < prefix.index("get_phone_number(name")
    assert prompt_prefix(list(reversed(tools)), ex) == prefix


def test_every_tool_has_one_compact_line_with_its_exact_signature():
    assert sorted(PROMPT_ORDER) == sorted(t.name for t in TOOLS)
    for tool in TOOLS:
        line = describe_tool(tool)
        assert line.startswith(tool.signature() + " -> str: ") and line.count("\n") == 1
        assert tool.hint and tool.hint in line
    everything = prompt_prefix(TOOLS, [])
    assert [t.name for t in prompt_order(TOOLS)] == list(PROMPT_ORDER)
    assert all(t.signature() in everything for t in TOOLS)


def test_examples_in_a_stable_order_and_only_when_they_show_something_new():
    from tinyagent.core.toolrag.examples import make_example

    sms = make_example("Text Ann hi", '1. get_phone_number("Ann")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')
    sms2 = make_example("Text Bo yo", '1. get_phone_number("Bo")\n2. send_sms(["$1"], "yo")\n3. join()<END_OF_PLAN>')
    note = make_example("Note milk", '1. create_note("Shopping", "milk", "")\n2. join()<END_OF_PLAN>')
    tools = [REGISTRY["send_sms"], REGISTRY["get_phone_number"], REGISTRY["create_note"]]
    assert example_order([sms, note]) == example_order([note, sms])
    assert prompt_prefix(tools, [sms, note]) == prompt_prefix(tools, [note, sms])
    assert useful_examples([sms, sms2, note], tools) == [sms, note]  # sms2 shows nothing new
    assert "Text Bo yo" not in prompt_prefix(tools, [sms, sms2, note])


def test_prefix_shared_token_for_token(llm):
    tools = TOOLS[:4]
    p1 = build_prompt("one", tools, [], today=dt.date(2024, 1, 1))
    p2 = build_prompt("two things", tools, [], today=dt.date(2024, 1, 2))
    t1, t2 = llm.tokenize(p1), llm.tokenize(p2)
    shared = next(i for i, (a, b) in enumerate(zip(t1, t2)) if a != b)
    assert shared >= len(llm.tokenize(prompt_prefix(tools, []))) - 1


# -- planner ------------------------------------------------------------------------------------
async def test_planner_streams_tasks_before_the_plan_ends(llm):
    planner = Planner(llm, config=small_config(), limits=SMALL)
    tools = [REGISTRY["get_phone_number"], REGISTRY["send_sms"]]
    events, order = [], []
    response = planner.stream_plan("Text Sid", tools, [], emit=events.append)
    async for task in response:
        order.append((task.id, sum(isinstance(e, PlanToken) for e in events)))
    total_tokens = sum(isinstance(e, PlanToken) for e in events)
    assert response.plan.ok and response.plan.tasks
    assert order[0][1] < total_tokens  # the first task came out while tokens were still coming
    assert parse_plan(response.text, {t.name: t for t in tools}).ok
    assert response.text == "".join(e.text for e in events if isinstance(e, PlanToken))
    assert response.stats is not None and response.stats.generated_tokens > 0
    assert "Question: Text Sid" in response.prompt.text and response.setup is planner.setup


async def test_token_limit_gives_a_clear_plan_error(llm):
    planner = Planner(llm, config=small_config(max_tokens=12), limits=GrammarLimits(max_string=100))
    response = planner.stream_plan("Text Sid", [REGISTRY["get_phone_number"]], [], emit=lambda e: None)
    async for _ in response:
        pass
    assert not response.plan.ok
    assert "token limit" in str(response.plan.errors[-1])


def test_join_answer_parsing_and_fallback():
    plan = parse_plan('1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>')
    summary = RunSummary("r", {1: TaskStatus.DONE}, {1: "+1 555 0100"}, {}, 0.1)
    assert parse_join("Thought: ok\nAction: Finish: Sid's number is +1 555 0100", plan, summary).answer.startswith("Sid")
    replan = parse_join("Thought: no\nAction: Replan: lookup failed", plan, summary)
    assert replan.replan and replan.reason == "lookup failed"
    assert "+1 555 0100" in deterministic_answer(plan, summary)
    assert "+1 555 0100" in parse_join("garbage", plan, summary).answer


def test_work_key_matches_the_same_work_across_attempts():
    old = parse_plan('1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>').tasks
    new = parse_plan('1. get_email_address("Sid")\n2. get_phone_number("Sid")\n3. send_sms(["$2"], "hi")\n'
                     '4. join()<END_OF_PLAN>').tasks
    old_keys: dict = {}
    for t in old:
        old_keys[t.id] = work_key(t, old_keys)
    new_keys: dict = {}
    for t in new:
        new_keys[t.id] = work_key(t, new_keys)
    assert new_keys[2] == old_keys[1] and new_keys[3] == old_keys[2]
    assert new_keys[1] not in old_keys.values()


def test_replan_only_after_a_failure():
    plan = parse_plan('1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>')
    ok = RunSummary("r", {1: TaskStatus.DONE}, {1: "x"}, {}, 0.1)
    denied = RunSummary("r", {1: TaskStatus.DENIED}, {}, {1: "no"}, 0.1)
    failed = RunSummary("r", {1: TaskStatus.FAILED}, {}, {1: "boom"}, 0.1)
    assert not worth_another_plan(plan, ok) and not worth_another_plan(plan, denied) and worth_another_plan(plan, failed)


# -- sub-agents ------------------------------------------------------------------------------------
class RecordingLLM(LocalLLM):
    """The real model, keeping every completion it returned."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.done = []

    def complete(self, *args, **kwargs):
        result = super().complete(*args, **kwargs)
        self.done.append(result)
        return result


def test_model_writer_uses_the_model_and_falls_back(tiny_gguf):
    model = RecordingLLM(tiny_gguf, n_ctx=1024, n_threads=1)
    try:
        body = ModelWriter(model, max_tokens=8).email_body("Running late", kind="new", recipients=["sid@example.com"])
    finally:
        model.close()
    assert isinstance(body, str) and body
    assert len(model.done) == 1 and model.done[0].stats.generated_tokens <= 8
    assert body == (model.done[0].text.strip() or "Running late")
    closed = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1)
    closed.close()
    fallback = ModelWriter(closed)
    assert fallback.note_content("  buy milk ", name="Shopping") == "buy milk"
    assert fallback.summarize("First sentence. Second one. Third. Fourth.").startswith("First sentence.")


async def test_model_writer_never_blocks_an_event_loop(llm):
    assert ModelWriter(llm).email_body("Hi there", kind="reply", recipients=[]) == "Hi there"


# -- the whole pipeline ---------------------------------------------------------------------------------
async def test_request_to_answer_on_the_sandbox(llm):
    """request -> real generation -> parsed, validated plan -> executed in the sandbox -> answer."""
    pipeline = Pipeline(small_config(), llm=llm, limits=SMALL)
    events = []
    result = await pipeline.ask("Text Sid that I'm running late", emit=events.append, yes=True)
    assert type(pipeline.backend).__name__ == "SandboxBackend"
    assert result.plan.ok and result.plan.tasks, result.plan.errors
    assert result.summary is not None and set(result.summary.statuses) >= {t.id for t in result.plan.tasks}
    assert result.answer.strip()
    kinds = [type(e) for e in events]
    assert kinds[0].__name__ == "RequestStarted" and ToolsSelected in kinds
    assert isinstance(events[-1], AnswerReady) and events[-1].text == result.answer
    stages = {e.stage for e in events if isinstance(e, StageTiming)}
    assert {"toolrag", "prompt", "first_dispatch", "plan_complete", "execution"} <= stages
    assert ("join" in stages) == (result.joins > 0)  # the joiner runs only when it adds something
    # The first task started before the model finished writing the plan.
    first_start = next(i for i, e in enumerate(events) if isinstance(e, TaskStarted))
    last_token = max(i for i, e in enumerate(events) if isinstance(e, PlanToken))
    assert first_start < last_token
    assert result.prompt_tokens > 0


async def test_repeated_requests_reuse_the_prompt_cache(llm):
    pipeline = Pipeline(small_config(max_replans=0), llm=llm, limits=SMALL)
    await pipeline.plan_only("Text Sid hello", emit=lambda e: None)
    events = []
    await pipeline.plan_only("Remind me to call Ann", emit=events.append)
    prompt = next(e for e in events if isinstance(e, StageTiming) and e.stage == "prompt")
    assert prompt.detail["prompt_tokens_evaluated"] < prompt.detail["prompt_tokens"] / 4


async def test_dry_run_changes_nothing(llm):
    pipeline = Pipeline(small_config(max_replans=0), llm=llm, limits=SMALL)
    result = await pipeline.ask("Text Sid", emit=lambda e: None, dry_run=DryRun.STRICT, yes=True)
    assert all(s in (TaskStatus.DRY_RUN, TaskStatus.SKIPPED) for s in result.summary.statuses.values())


async def test_run_plan_needs_no_model():
    pipeline = Pipeline(small_config())
    plan = parse_plan('1. get_phone_number("Nobody Atall")\n2. join()<END_OF_PLAN>')
    summary = await pipeline.run_plan(plan, emit=lambda e: None, yes=True)
    assert set(summary.statuses) == {1}
    assert pipeline.llm is None


async def test_cancelling_a_request_stops_everything(tiny_gguf):
    # The plan never ends by itself (random weights might end it before the cancel on one CPU
    # and not on another): the cancel always lands while the model is writing.
    llm = EndlessLLM(tiny_gguf, endless={"Question: Text Sid"}, n_ctx=4096)
    try:
        pipeline = Pipeline(small_config(max_tokens=3000), llm=llm, limits=GrammarLimits(max_string=400))
        task = asyncio.ensure_future(pipeline.ask("Text Sid", emit=lambda e: None, yes=True))
        await until_started(llm)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert llm.complete("ok", max_tokens=1, timeout=60) is not None  # the worker is free again
        assert llm.stopped == 1  # the generation itself was stopped, not left running
    finally:
        llm.close()
