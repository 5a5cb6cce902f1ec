"""planner.anchor_dates through the pipeline: the day the request names reaches the step that runs."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.scripted_llm import ScriptedLLM
from tinyagent.core.config import Config
from tinyagent.core.events import Notice, TaskAdded
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.request_run import RequestOptions

WRITTEN = '1. create_reminder("Call Sam", "2023-04-07 09:00:00", "", "", 0, False)\n2. join()<END_OF_PLAN>'
MONDAY_9AM = dt.datetime(2026, 12, 7, 9, 0)


@pytest.mark.parametrize("on", [True, False])
async def test_the_step_that_runs_is_dated_the_day_the_request_names(tiny_gguf, on):
    cfg = Config(backend="sandbox", apps=["reminders"])
    cfg.toolrag.enabled = False
    cfg.planner.max_replans = 0
    cfg.planner.prompt = "compact"
    cfg.planner.anchor_dates = on
    llm = ScriptedLLM(tiny_gguf, [WRITTEN])
    pipeline = Pipeline(cfg, llm=llm)
    events: list = []
    try:
        result = await pipeline.ask("Remind me tomorrow at 9 to call Sam", emit=events.append,
                                    options=RequestOptions(dry_run="safe", now=MONDAY_9AM))
    finally:
        pipeline.close()
        llm.close()
    want = "2026-12-08 09:00:00" if on else "2023-04-07 09:00:00"
    assert result.plan.tasks[0].args[1] == want
    assert [e.task.args[1] for e in events if isinstance(e, TaskAdded)] == [want]  # what the DAG view and approval see
    assert any("set to the day the request says" in e.message for e in events if isinstance(e, Notice)) is on
