"""The offline planner as shipped: Qwen2.5-Coder-0.5B (PyPI) + the LoRA adapter in models/planner-lora/,
planning multi-step requests of the TinyAgent kind in the tuned profile.

The references below were written for these tests (sandbox contacts: Sarah Lindqvist, John
Carter, Lisa Tanaka); success is the paper's metric (same tools, same dependencies; arguments
do not count). Greedy decoding, one model load for the module, one thread (see test_realmodel.py).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.realmodels import ONE_DAY, real_model
from tinyagent.core import modelstore
from tinyagent.core.config import Config
from tinyagent.core.dag import plans_isomorphic
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import serialize

pytestmark = pytest.mark.realmodel
TUNED = "qwen2.5-coder-0.5b-tinyagent"

CASES = {
    "text and email": (
        "Text Sarah that I'm running late and email John the agenda for tomorrow",
        '1. get_phone_number("Sarah")\n2. get_email_address("John")\n3. send_sms(["$1"], "I\'m running late")\n'
        '4. compose_new_email(["$2"], [], "Agenda", "The agenda for tomorrow", [])\n5. join()<END_OF_PLAN>'),
    "event with two": (
        "Create a calendar event called Design review tomorrow at 3pm and invite John and Lisa",
        '1. get_email_address("John")\n2. get_email_address("Lisa")\n'
        '3. create_calendar_event("Design review", "2026-12-07 15:00:00", "2026-12-07 16:00:00", "", ["$1", "$2"], "", None)\n'
        '4. join()<END_OF_PLAN>'),
    "summarize and send": (
        "Summarize the file budget.pdf and email the summary to Lisa",
        '1. open_and_get_file_path("budget.pdf")\n2. summarize_pdf("$1")\n3. get_email_address("Lisa")\n'
        '4. compose_new_email(["$3"], [], "Budget summary", "$2", [])\n5. join()<END_OF_PLAN>'),
    "directions by text": (
        "Text Sarah the directions to the airport",
        '1. maps_show_directions("", "the airport", "d")\n2. get_phone_number("Sarah")\n'
        '3. send_sms(["$2"], "Directions to the airport: $1")\n4. join()<END_OF_PLAN>'),
    "zoom link": (
        "Set up a Zoom meeting about the launch tomorrow at 10am for 30 minutes and text the link to John",
        '1. get_zoom_meeting_link("Launch", "2026-12-07 10:00:00", 30, [])\n2. get_phone_number("John")\n'
        '3. send_sms(["$2"], "Zoom link: $1")\n4. join()<END_OF_PLAN>'),
    "note": ("Make a note called Groceries with eggs and milk",
             '1. create_note("Groceries", "eggs and milk", "")\n2. join()<END_OF_PLAN>'),
}


# Plans the fourth sitting missed (a clause dropped, a lookup skipped). The seventh sitting
# (--graph-weight 4) and the eighth (--order just-in-time, shipped 2026-12-07) plan all six
# right here (AMD EPYC); these three stay non-strict because they were near the edge before:
# greedy decoding can differ between CPUs and a day's change once flipped "directions by text".
# `-rxX` lists them (XPASS: right).
MISSES = {
    "text and email": "the fourth sitting texted Sarah and did not email John the agenda",
    "zoom link": "the fourth sitting put John in the invitees instead of looking up his number",
    "directions by text": "right on the fixed day since lookups as steps; a day later it once texted the name",
}




def real_config() -> Config:
    config = Config(backend="sandbox")
    config.planner.threads = 1
    return config


@pytest.fixture(scope="module")
def tuned_llm():
    from tinyagent.core.planner.llm import LocalLLM

    adapter = modelstore.adapter_path(modelstore.find(TUNED))
    llm = LocalLLM(real_model("qwen2.5-coder-0.5b"), n_ctx=4096, n_threads=1, adapter=adapter)
    yield llm
    llm.close()


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(reason=MISSES[c], strict=False))
                                  if c in MISSES else c for c in CASES])
def test_the_tuned_planner_plans_multi_step_requests_like_the_reference(tuned_llm, case):
    from tinyagent.core.pipeline import Pipeline

    request, reference = CASES[case]
    pipeline = Pipeline(real_config(), llm=tuned_llm)
    response = asyncio.run(pipeline.plan_only(request, emit=lambda _: None, options=ONE_DAY))
    assert response.setup.profile == "tuned", response.setup.why  # chosen by the manifest: file + adapter
    assert len(response.prompt.tool_order) == 16  # every enabled tool: one cached prefix, none left out
    assert response.plan.ok, f"invalid plan for {request!r}:\n{response.text}"
    assert plans_isomorphic(response.plan, parse_plan(reference)), f"{request!r} planned as:\n{serialize(response.plan)}"


def test_the_tuned_prompt_is_shorter_than_the_compact_one(tuned_llm):
    """What the tuned planner reads per request, in Qwen's own tokens, against the compact profile's."""
    from tinyagent.core.planner.profiles import PromptSetup
    from tinyagent.core.planner.prompt import pick_examples
    from tinyagent.core.toolrag.examples import ExamplePool
    from tinyagent.tools.registry import REGISTRY

    request = CASES["text and email"][0]
    selected = [REGISTRY[n] for n in ("get_phone_number", "get_email_address", "send_sms", "compose_new_email")]
    now = ONE_DAY.now
    examples = pick_examples(request, selected, 3, ExamplePool.load_for_planning()[0])

    def tokens(profile: str, tools, shown) -> int:
        from tinyagent.core.planner.chat import choose, gguf_tokens

        bos, eos = gguf_tokens(tuned_llm)
        setup = PromptSetup(profile, "test", choose("auto", metadata=tuned_llm.metadata, bos_token=bos, eos_token=eos))
        prompt = setup.planner_prompt(request, tools, shown, now=now, instructions=None)
        return len(tuned_llm.tokenize(prompt.text, special=True))

    # As each is used: tuned describes every tool (a constant, cached prefix), compact ToolRAG's
    # selection and 3 in-context examples. The eval on 60 held-out requests: 567 vs 745 tokens.
    tuned, compact = tokens("tuned", list(REGISTRY.values()), None), tokens("compact", selected, examples)
    assert tuned < compact, (tuned, compact)
