"""Argument kinds in the plan grammar (planner.grammar_kinds), checked with llama.cpp's own engine."""

from __future__ import annotations

import pytest

from tests.support.grammar_check import grammar_accepts as accepts
from tinyagent.core.config import Config, parse_config
from tinyagent.core.parser import parse_plan
from tinyagent.core.planner.grammar import PLANNER_LIMITS, limits_for, max_plan_bytes, plan_grammar
from tinyagent.core.planner.grammar_check import check_plans
from tinyagent.core.planner.llm import LocalLLM, grammar_is_valid
from tinyagent.tools.registry import REGISTRY, TOOLS

TOOLSET = [REGISTRY[n] for n in ("get_email_address", "get_phone_number", "create_calendar_event", "compose_new_email",
                                 "create_reminder", "send_sms", "get_zoom_meeting_link", "create_note")]
END = "\n3. join()<END_OF_PLAN>"


def two_steps(second: str) -> str:
    return '1. get_email_address("Sid")\n2. ' + second + END


GOOD = {
    "a date and time": 'create_calendar_event("Lunch", "2024-06-07 12:00:00", "2024-06-07 13:00:00", "", ["$1"], "", None)',
    "a date-only due date": 'create_reminder("Pay rent", "2024-06-07", "", "", 0, True)',
    "no due date": 'create_reminder("Pay rent", "", "", "", 2, False)',
    "a None due date": 'create_reminder("Pay rent", None, "", "", None, None)',
    "an email address": 'compose_new_email(["John.Doe@email.com", "$1"], [], "Hi", "Hello", [])',
    "phone numbers": 'send_sms(["(123) 456-7890", "+1234567890", "555-1234"], "Running late")',
    "a name (one real plan)": 'compose_new_email(["Alice"], [], "Hi", "Hello", [])',
    "a whole reference": 'send_sms("$1", "Running late")',
    "a reference inside a text": 'send_sms(["$1"], "Here it is: \\n\\n$content$1")',
    "a text that is a reference": 'create_note("Notes", "$1", "")',
    "a duration": 'get_zoom_meeting_link("Sync", "2024-06-07 12:00:00", 480, ["$1"])',
}
BAD = {
    "a reference to no task": 'compose_new_email(["$1"], [], "$Subject", "Hello", [])',
    "a named placeholder": 'create_note("$Plan document", "x", "")',
    "an hour without its zero": 'create_calendar_event("Lunch", "2026-12-01 1:00:00", "2026-12-01 2:00:00", "", [], "", None)',
    "month 13": 'create_reminder("x", "2024-13-01 10:00:00", "", "", 0, True)',
    "minute 60": 'create_reminder("x", "2024-12-01 10:60:00", "", "", 0, True)',
    "a date-only calendar start": 'create_calendar_event("Lunch", "2024-06-07", "2024-06-07", "", [], "", None)',
    "an empty calendar start": 'create_calendar_event("Lunch", "", "", "", [], "", None)',
    "words for a date": 'create_reminder("x", "tomorrow", "", "", 0, True)',
    "prose for a recipient": 'send_sms(["Sid\'s number, please"], "hi")',
    "a placeholder for a recipient": 'send_sms(["$Sid"], "hi")',
    "a two-digit priority": 'create_reminder("x", "", "", "", 10, True)',
    "a negative priority": 'create_reminder("x", "", "", "", -1, True)',
    "a zero duration": 'get_zoom_meeting_link("Sync", "2024-06-07 12:00:00", 0, [])',
}


@pytest.fixture(scope="module")
def grammars():
    return {kinds: plan_grammar(TOOLSET, max_tasks=4, max_string=60, kinds=kinds) for kinds in (False, True)}


def test_kind_grammars_parse_in_llama_cpp(vocab_llm):
    assert grammar_is_valid(plan_grammar(TOOLS, **{**PLANNER_LIMITS.as_kwargs(), "kinds": True}), vocab_llm.vocab)
    for tool in TOOLS:
        assert grammar_is_valid(plan_grammar([tool], max_tasks=3, kinds=True), vocab_llm.vocab), tool.name


@pytest.mark.parametrize("why", sorted(GOOD))
def test_kinds_accept_the_real_forms(vocab_llm, grammars, why):
    text = two_steps(GOOD[why])
    assert accepts(vocab_llm, grammars[True], text), why
    assert parse_plan(text, {t.name: t for t in TOOLSET}).ok


@pytest.mark.parametrize("why", sorted(BAD))
def test_kinds_reject_what_the_types_alone_allow(vocab_llm, grammars, why):
    text = two_steps(BAD[why])
    assert accepts(vocab_llm, grammars[False], text), why  # the switch is what rejects it
    assert not accepts(vocab_llm, grammars[True], text), why


def test_first_step_strings_never_start_with_a_dollar(vocab_llm, grammars):
    assert not accepts(vocab_llm, grammars[True], '1. get_email_address("$Sid")\n2. join()<END_OF_PLAN>')
    assert accepts(vocab_llm, grammars[True], '1. get_email_address("Sid $x")\n2. join()<END_OF_PLAN>')
    assert accepts(vocab_llm, grammars[True], '1. get_email_address("")\n2. join()<END_OF_PLAN>')


def test_kinds_keep_every_real_plan_the_types_accept(shared_plans, vocab_file):
    plain = check_plans(shared_plans, vocab_file)
    kinds = check_plans(shared_plans, vocab_file, kinds=True)
    assert {r["id"] for r in kinds["rejected"]} == {r["id"] for r in plain["rejected"]}, kinds["rejected"]


def test_the_config_switch():
    assert Config().planner.grammar_kinds is True  # on by default: bench_realmodel (README)
    assert limits_for(Config()).kinds is True
    cfg = parse_config("planner:\n  grammar_kinds: false\n")
    assert cfg.planner.grammar_kinds is False and limits_for(cfg).kinds is False
    assert limits_for(object()) is PLANNER_LIMITS


async def test_random_model_under_kinds_fits_the_byte_bound(tiny_gguf):
    """The bound stays an upper bound with kinds on: a plan cut off by max_tokens would be invalid."""
    tools = [REGISTRY[n] for n in ("create_calendar_event", "send_sms", "create_reminder", "get_zoom_meeting_link")]
    limits = dict(max_tasks=3, max_string=10, max_list=2, thoughts=False, comments=False, kinds=True)
    registry = {t.name: t for t in tools}
    llm = LocalLLM(tiny_gguf, n_ctx=4096, n_threads=1, seed=1)
    try:
        stream = llm.stream("Question: Invite Sid to lunch\n", grammar=plan_grammar(tools, **limits),
                            max_tokens=max_plan_bytes(tools, **limits), temperature=1.5)
        text = "".join([c async for c in stream])
        assert stream.stats is not None and stream.stats.finish_reason == "stop", text
        plan = parse_plan(text, registry)
        assert plan.ok and plan.joined and plan.tasks, (text, plan.errors)
    finally:
        llm.close()
