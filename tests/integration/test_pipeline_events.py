"""The pipeline's typed events: a replan is its own event (the degradation Notices: test_toolrag_notices.py).

The model is a real LocalLLM on a tiny random GGUF whose generation step answers with the
replies each test writes, so the test decides what "the model" says; tools run on the sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from tinyagent.core.config import Config
from tinyagent.core.events import Event, Notice, Replanning
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.llm import GenerationStats, LocalLLM


class RepliesLLM(LocalLLM):
    """Says the next of `replies` for each generation, in chunks, as a model would stream it."""

    def __init__(self, path: Path, replies: Sequence[str]):
        super().__init__(path, n_ctx=512, n_threads=1)
        self.replies = list(replies)

    def _generate(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                  stop: Sequence[str], cancel: threading.Event, special: bool = False,
                  min_room: int = 8) -> Generator[str, None, GenerationStats]:
        reply = self.replies.pop(0) if self.replies else ""
        for start in range(0, len(reply), 5):
            yield reply[start:start + 5]
        return GenerationStats(len(prompt), len(prompt), len(reply), 0.0, 0.0, "stop")


def tinyagent_config(**toolrag: Any) -> Config:
    config = Config(backend="sandbox")
    config.apps = ["contacts", "messages", "notes"]
    config.planner.prompt = "tinyagent"
    config.planner.chat_template = "none"
    config.planner.max_replans = 1
    config.toolrag.enabled = False
    for key, value in toolrag.items():
        setattr(config.toolrag, key, value)
    return config


FAILS = '1. get_phone_number("Sarah")\n2. open_note("No Such Note", "")\n3. join()<END_OF_PLAN>'
WORKS = '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'


async def test_a_replan_is_its_own_event_not_a_notice_to_parse(tiny_gguf):
    llm = RepliesLLM(tiny_gguf, [FAILS, "Thought: The note is missing; fixable.\nAction: Replan", WORKS])
    events: list[Event] = []
    try:
        result = await Pipeline(tinyagent_config(), llm=llm).ask(
            "Text Sarah what my note says, or that I'm running late", emit=events.append, yes=True)
    finally:
        llm.close()
    assert result.attempts == 2 and result.answer.startswith("Sent to Sarah")  # from the tools: nothing to ask
    replans = [e for e in events if isinstance(e, Replanning)]
    assert len(replans) == 1 and replans[0].attempt == 2 and replans[0].reason
    assert replans[0].to_json()["event"] == "replanning"
    assert replans[0].message.startswith("replanning (attempt 2): ")
    assert not [e for e in events if isinstance(e, Notice) and "replanning" in e.message]
    # it comes after the first plan's run and before the second plan's first task
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("PlanFinished") < kinds.index("Replanning") < len(kinds) - 1 - kinds[::-1].index("TaskStarted")


async def test_what_happens_while_the_model_loads_reaches_the_sink_after_it(tiny_gguf, monkeypatch):
    """llama-cpp-python points the process's stdout at /dev/null while it builds a model: a
    sink that prints (`ask --json`) lost the tools_selected line when ToolRAG chose meanwhile."""
    import sys

    import tinyagent.core.pipeline as pipeline_module

    chosen = threading.Event()
    select = Pipeline.select_tools

    async def select_tools(self, request, emit):
        try:
            return await select(self, request, emit)
        finally:
            chosen.set()  # ToolRAG has chosen (and emitted) while the model is still loading

    class Silenced:  # what llama-cpp-python's suppress_stdout_stderr does to sys.stdout
        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            pass

    def load_planner(config, override=None):
        real, sys.stdout = sys.stdout, Silenced()
        try:
            assert chosen.wait(30), "ToolRAG never chose"
        finally:
            sys.stdout = real
        return RepliesLLM(tiny_gguf, [WORKS])

    monkeypatch.setattr(Pipeline, "select_tools", select_tools)
    monkeypatch.setattr(pipeline_module, "load_planner", load_planner)
    arrived: list[tuple[str, bool]] = []  # each event, and whether printing it would have been lost
    pipeline = Pipeline(tinyagent_config())
    try:
        await pipeline.plan_only("Text Sarah that I'm running late",
                                 emit=lambda e: arrived.append((type(e).__name__, isinstance(sys.stdout, Silenced))))
    finally:
        pipeline.close()
    assert ("ToolsSelected", False) in arrived and not any(lost for _, lost in arrived)


class PromptsLLM(RepliesLLM):
    """RepliesLLM that keeps each prompt it was given."""

    def __init__(self, path: Path, replies: Sequence[str]):
        super().__init__(path, replies)
        self.prompts: list[str] = []

    def _generate(self, prompt: str, **options: Any) -> Generator[str, None, GenerationStats]:
        self.prompts.append(prompt)
        return (yield from super()._generate(prompt, **options))


async def test_a_request_may_fix_the_date_its_prompt_gives(tiny_gguf):
    import datetime as dt

    from tinyagent.core.request_run import RequestOptions

    config = tinyagent_config()
    config.planner.prompt = "compact"
    llm = PromptsLLM(tiny_gguf, [WORKS, WORKS])
    day = RequestOptions(now=dt.datetime(2031, 2, 3, 9, 0))
    try:
        pipeline = Pipeline(config, llm=llm)
        await pipeline.plan_only("Text Sarah that I'm late", emit=lambda _: None, options=day)
        await pipeline.ask("Text Sarah that I'm late", emit=lambda _: None, options=day, yes=True)
    finally:
        llm.close()
    planner_prompts = [p for p in llm.prompts if "Text Sarah that I'm late" in p]
    assert len(planner_prompts) == 2
    assert all("2031-02-03" in p for p in planner_prompts), planner_prompts[0][-300:]
