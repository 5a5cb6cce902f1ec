"""The prompt profiles as strategy objects: one table, and each profile's decisions, without a model."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from tinyagent.core.events import RunSummary, TaskStatus
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Diagnostic, Plan
from tinyagent.core.planner import profiles
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner.chat import NONE, named
from tinyagent.core.planner.joiner import JoinResult
from tinyagent.core.planner.profile import ExampleSource
from tinyagent.core.planner.profile_names import PROFILE_NAMES
from tinyagent.core.planner.profiles import PROFILE_TABLE, PROFILES, ProfileError, PromptSetup, choose_profile
from tinyagent.tools.registry import REGISTRY, TOOLS

TINYAGENT, COMPACT, TUNED = (PROFILE_TABLE[n] for n in ("tinyagent", "compact", "tuned"))
SELECTED = [REGISTRY["get_phone_number"], REGISTRY["send_sms"]]
PLAN = parse_plan('1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')
FAILED = RunSummary("r", {1: TaskStatus.DONE, 2: TaskStatus.FAILED}, {1: "+1 555 0100"}, {2: "no network"}, 0.1)
BROKEN = Plan((), False, errors=(Diagnostic(1, "unknown tool 'call'"),))


def no_pool():
    raise AssertionError("this profile must not read the example pool")


def test_one_table_keyed_by_the_names_config_checks():
    assert PROFILES == PROFILE_NAMES == tuple(PROFILE_TABLE)
    assert all(profile.name == name for name, profile in PROFILE_TABLE.items())
    with pytest.raises(ProfileError):
        PromptSetup("fancy", "test")
    assert PromptSetup("tuned", "test").strategy is TUNED


def test_a_manifest_naming_no_profile_gets_the_unknown_models_layout(monkeypatch):
    monkeypatch.setattr(profiles, "manifest_entry", lambda *a: SimpleNamespace(name="mine", prompt="fancy"))
    chosen, why = choose_profile("auto", "mine.gguf")
    assert chosen == profiles.UNKNOWN_MODEL_PROFILE and "'fancy'" in why


def test_rounds_and_offered_tools():
    assert [TINYAGENT.rounds(n) for n in (0, 1, 3)] == [1, 2, 2]  # TinyAgent: 2 rounds at most
    assert [COMPACT.rounds(n) for n in (0, 1, 3)] == [1, 2, 4] == [TUNED.rounds(n) for n in (0, 1, 3)]
    assert TINYAGENT.offered(SELECTED, list(TOOLS)) == COMPACT.offered(SELECTED, list(TOOLS)) == SELECTED
    assert TUNED.offered(SELECTED, list(TOOLS)) == list(TOOLS)  # one constant prefix


def test_examples_by_profile():
    pool = SimpleNamespace(pick_within=lambda q, names, k, exclude=None: [("within", k, exclude)],
                           pick=lambda q, names, k, exclude=None: [("any", k, exclude)])
    source = ExampleSource(lambda: pool, 3, exclude="Text Sid")
    assert TINYAGENT.examples("Text Sid", SELECTED, source) == [("within", 6, "Text Sid")]
    assert COMPACT.examples("Text Sid", SELECTED, source) == [("any", 3, "Text Sid")]
    assert TUNED.examples("Text Sid", SELECTED, ExampleSource(no_pool, 3)) == []
    assert TINYAGENT.examples("Text Sid", SELECTED, ExampleSource(no_pool, 3, builtin=True)) is None
    assert PromptSetup("compact", "t").strategy.shows_examples and not PromptSetup("tuned", "t").strategy.shows_examples


def test_which_plans_reach_the_joiner():
    assert all(p.asks_joiner(PLAN) for p in (TINYAGENT, COMPACT, TUNED))
    assert TINYAGENT.asks_joiner(BROKEN)  # TinyAgent's joiner reads the error as the observation
    assert not COMPACT.asks_joiner(BROKEN) and not TUNED.asks_joiner(BROKEN)


def test_compact_join_call_and_replan():
    call = COMPACT.join_call("Text Sid", PLAN, FAILED, named("chatml"), final=False, scratchpad="", text="")
    assert call.text.startswith("You have run a plan") and call.stop == () and not call.special
    result = call.read("Thought: no\nAction: Replan: no network")
    assert result.replan and result.reason == "no network" and "+1 555 0100" in result.answer
    step = COMPACT.replan(PLAN, FAILED, result, (), SELECTED, lambda: list(TOOLS))
    assert step.tools == SELECTED and "did not fully work" in step.context and "no network" in step.context
    assert step.rounds == (step.context,)


def test_tinyagent_join_call_and_replan():
    call = TINYAGENT.join_call("Text Sid", PLAN, FAILED, NONE, final=False, scratchpad="", text="")
    assert call.stop == ("<END_OF_RESPONSE>",) and not call.special
    assert call.text == tj.joiner_prompt("Text Sid", tj.add_round("", call.read("").steps), final=False)
    result = call.read("Thought: sending failed, fixable.\nAction: Replan")
    assert result.replan and result.thought == "sending failed, fixable." and result.scratchpad
    first = TINYAGENT.replan(PLAN, FAILED, result, (), SELECTED, lambda: list(TOOLS))
    assert first.tools == list(TOOLS)  # TinyAgent's replanner gets every enabled tool
    second = TINYAGENT.replan(PLAN, FAILED, result, first.rounds, SELECTED, lambda: list(TOOLS))
    assert len(second.rounds) == 2 and second.context == tj.format_contexts(second.rounds)
    done = call.read("Thought: all done.\nAction: Finish(Sent.)")
    assert isinstance(done, JoinResult) and done.answer == "Sent." and not done.replan


def test_templated_tinyagent_joiner_is_one_chat_message():
    call = TINYAGENT.join_call("Text Sid", PLAN, FAILED, named("chatml"), final=True, scratchpad="", text="")
    assert call.special and call.text.startswith("<|im_start|>user\n") and "<|im_end|>" in call.stop


def test_each_profile_lays_out_its_own_messages():
    now = dt.datetime(2024, 1, 1, 9)
    for name in PROFILES:
        plain = PromptSetup(name, "t").planner_prompt("Text Sid", SELECTED, [], now=now, instructions=None)
        assert not plain.templated and plain.system and plain.user.strip().endswith("Text Sid")
    assert PromptSetup("tuned", "t").planner_prompt("q", SELECTED, None, now=now, instructions=None).tool_order == (
        "send_sms", "get_phone_number")
