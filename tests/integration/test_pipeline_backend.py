"""The pipeline owns its tool backend: the model writes email bodies once it is loaded."""

from __future__ import annotations

import asyncio

from tinyagent.core.config import Config
from tinyagent.core.parser import load_plan
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.writer import ModelWriter
from tinyagent.tools.backend import PlainWriter

PLAN = '1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>'


def test_a_plan_run_before_the_model_loads_does_not_keep_the_plain_writer(tiny_gguf):
    config = Config(backend="sandbox")
    config.models.planner = str(tiny_gguf)
    pipeline = Pipeline(config)
    try:
        summary = asyncio.run(pipeline.run_plan(load_plan(PLAN), emit=lambda e: None))
        assert summary.all_done
        assert isinstance(pipeline.backend.writer, PlainWriter)  # no model yet: the plan's own words
        asyncio.run(pipeline.load_model())
        backend = pipeline._get_backend()
        assert isinstance(backend.writer, ModelWriter) and backend.writer.llm is pipeline.llm
        assert pipeline._get_backend() is backend  # made again once, then kept
    finally:
        pipeline.close()


def test_a_backend_given_by_the_caller_is_kept_as_it_is(tmp_path):
    from tinyagent.tools.sandbox import SandboxBackend

    given = SandboxBackend(db_path=tmp_path / "s.db")
    # even with a model, the caller's backend is not replaced
    pipeline = Pipeline(Config(backend="sandbox"), backend=given, llm=object())
    assert pipeline._get_backend() is given
