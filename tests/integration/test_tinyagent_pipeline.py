"""The tinyagent profile through the whole pipeline: TinyAgent's joiner, replanner and rounds.

The model is a real LocalLLM (tiny random GGUF, real worker thread and queue) whose
generation step is replaced by scripted replies, so the test decides what "the model"
says and checks exactly what it was sent; the tools run on the real sandbox.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator, Sequence
from typing import Any

import pytest

from tinyagent.core.config import Config
from tinyagent.core.events import TaskStarted
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner import tinyagent_text as T
from tinyagent.core.planner.llm import GenerationStats, LocalLLM


class ScriptedLLM(LocalLLM):
    """A LocalLLM that answers each call with the next scripted reply and records what it got."""

    def __init__(self, path: Any, replies: Sequence[str]):
        super().__init__(path, n_ctx=512, n_threads=1)
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    def _generate(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                  stop: Sequence[str], cancel: threading.Event, special: bool = False,
                  min_room: int = 8) -> Generator[str, None, GenerationStats]:
        self.calls.append({"prompt": prompt, "grammar": grammar, "stop": list(stop), "special": special,
                           "min_room": min_room})
        reply = self.replies.pop(0) if self.replies else ""
        yield from (reply[i: i + 7] for i in range(0, len(reply), 7))
        return GenerationStats(len(prompt), len(prompt), len(reply), 0.0, 0.0, "stop")


def tinyagent_config(tmp_path) -> Config:
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.apps = ["contacts", "messages", "notes"]
    config.planner.prompt = "tinyagent"
    config.planner.chat_template = "none"  # TinyAgent's texts as they are (the layout is tested elsewhere)
    config.planner.max_replans = 2  # TinyAgent still stops after 2 rounds
    return config


ROUND_1 = '1. get_phone_number("Sarah")\n2. open_note("No Such Note", "")\n3. join()<END_OF_PLAN>'
ROUND_2 = ('Thought: The note is missing, so I will text Sarah directly.\n1. get_phone_number("Sarah")\n'
           '2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>')


def test_two_rounds_with_tinyagents_joiner_and_replanner(tiny_gguf, tmp_path):
    llm = ScriptedLLM(tiny_gguf, [ROUND_1, "Thought: The note is missing; fixable.\nAction: Replan",
                                  ROUND_2, "Thought: Sent.\nAction: Finish(I texted Sarah that you are running late.)"])
    started: list[str] = []
    pipeline = Pipeline(tinyagent_config(tmp_path), llm=llm)
    try:
        result = asyncio.run(pipeline.ask("Can you text Sarah what my note says, or that I'm running late?",
                                          emit=lambda e: started.append(e.tool) if isinstance(e, TaskStarted) else None,
                                          yes=True))
    finally:
        pipeline.close()
        llm.close()
    assert result.answer == "I texted Sarah that you are running late." and result.attempts == 2
    plan1, join1, plan2, join2 = (c["prompt"] for c in llm.calls)
    # Round 1: TinyAgent's planner prompt (no ToolRAG: every enabled tool, its built-in examples).
    assert plan1.startswith("Given a user query") and plan1.endswith(
        T.DEFAULT_EXAMPLES + "\n\nQuestion: Can you text Sarah what my note says, or that I'm running late?")
    # Its joiner: OUTPUT_PROMPT, the question, each action with resolved arguments and its observation.
    assert join1.startswith(tj.OUTPUT_PROMPT + "\nQuestion: Can you text Sarah")
    assert "\n\nget_phone_number(Sarah)\nObservation: +1 415 555 0102\n" in join1
    assert "open_note(name=No Such Note, folder=)\nObservation: Error: " in join1
    assert "! You MUST correct this error and try again!\n" in join1
    assert llm.calls[1]["grammar"] == tj.joiner_grammar(final=False)
    # Round 2: the replan system prompt and the Previous Plan / Thought / Current Plan message.
    assert T.REPLAN_GUIDELINES in plan2 and T.REPLAN_EXAMPLES in plan2
    assert ("Previous Plan:\n\n1. get_phone_number(Sarah)\nObservation: +1 415 555 0102\n\n2. open_note(name=No "
            "Such Note, folder=)\nObservation: Error: ") in plan2
    assert plan2.endswith("\n\n\nThought: The note is missing; fixable.\n\nCurrent Plan:\n\n\n")
    # The last round's joiner may only finish, and reads both rounds.
    assert join2.startswith(tj.OUTPUT_PROMPT_FINAL + "\nQuestion:")
    assert join2.count("get_phone_number(Sarah)") == 2
    assert "Thought: The note is missing, so I will text Sarah directly.\nget_phone_number(Sarah)" in join2
    assert "send_sms(recipients=['+1 415 555 0102'], message=Running late)\nObservation: " in join2
    assert llm.calls[3]["grammar"] == tj.joiner_grammar(final=True)
    # A step that already succeeded never runs twice.
    assert started.count("get_phone_number") == 1 and started.count("send_sms") == 1


def test_a_plan_that_breaks_on_its_first_line_reaches_the_joiner_with_the_error(tiny_gguf, tmp_path):
    llm = ScriptedLLM(tiny_gguf, ['1. get_contact_info("Sid")\n2. join()<END_OF_PLAN>',
                                  "Thought: The error is fixable so I need to replan and try again.\nAction: Replan",
                                  '1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>',
                                  "Thought: ok\nAction: Finish(No contact named Sid.)"])
    pipeline = Pipeline(tinyagent_config(tmp_path), llm=llm)
    try:
        result = asyncio.run(pipeline.ask("Say hi to Sid via SMS.", emit=lambda e: None, yes=True))
    finally:
        pipeline.close()
        llm.close()
    join1 = llm.calls[1]["prompt"]
    assert "join()\nObservation: The plan generation was stopped due to an error in tool " in join1
    assert "get_contact_info" in join1 and "You MUST correct this error and try again!" in join1
    assert result.attempts == 2 and result.answer == "No contact named Sid."


def test_finish_summary_returns_the_pdf_summary(tiny_gguf, tmp_path):
    config = tinyagent_config(tmp_path)
    config.apps = ["files"]
    llm = ScriptedLLM(tiny_gguf, ['1. open_and_get_file_path("Quarterly Report")\n2. summarize_pdf("$1")\n'
                                  '3. join()<END_OF_PLAN>', "Q2 revenue grew by a tenth.",  # the summarizer
                                  "Thought: a summary.\nAction: Finish(Summary)"])
    pipeline = Pipeline(config, llm=llm)
    try:
        result = asyncio.run(pipeline.ask("Summarize the quarterly report", emit=lambda e: None, yes=True))
    finally:
        pipeline.close()
        llm.close()
    if not result.ok:
        pytest.skip(f"the sandbox has no quarterly report PDF: {result.summary}")
    assert result.answer == str(result.summary.outputs[2]) == "Q2 revenue grew by a tenth."


def test_a_prompt_that_does_not_fit_is_an_error_naming_planner_context(tiny_gguf, tmp_path):
    from tinyagent.core.events import Notice

    config = tinyagent_config(tmp_path)
    config.planner.context = 1024  # TinyAgent's layout for 8 tools is ~2,500 tokens
    notices: list[str] = []
    pipeline = Pipeline(config, model_override=str(tiny_gguf))
    try:
        plan = asyncio.run(pipeline.plan_only("Text Sarah hi", emit=lambda e: notices.append(e.message)
                                              if isinstance(e, Notice) else None)).plan
    finally:
        pipeline.close()
    assert not plan.tasks and any("planner.context" in n for n in notices), notices


def test_the_default_context_fits_tinyagents_largest_prompt_and_a_plan(vocab_file):
    import datetime as dt
    from types import SimpleNamespace

    from tinyagent.core.planner.chat import named
    from tinyagent.core.planner.tinyagent import render

    long_plan = "\n".join(f'{i}. create_calendar_event("Event {i}", "2024-06-0{i} 10:00:00", "", "", [], "", None)'
                          for i in range(1, 5)) + "\n5. join()<END_OF_PLAN>\n"
    examples = [SimpleNamespace(query=f"Schedule four planning sessions for the offsite, number {i}", plan=long_plan)
                for i in range(6)]
    r = render("Schedule the offsite sessions", list(T.TOOL_ORDER), now=dt.datetime(2024, 6, 3, 9, 0),
               examples=examples)
    llm = LocalLLM(vocab_file, vocab_only=True)
    try:
        n = len(llm.tokenize(named("tinyllama-32k-instruct").chat(r.system, r.user), special=True))
    finally:
        llm.close()
    config = Config()
    assert n + config.planner.max_tokens <= config.planner.context, (n, config.planner.context)
