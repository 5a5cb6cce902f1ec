"""Join only when it adds something; replan only when a different plan can exist."""

from __future__ import annotations

import pytest

from tests.support.realmodels import real_model
from tinyagent.core.answers import JoinCase, asks_for_information, decide, sentence_reason
from tinyagent.core.config import Config
from tinyagent.core.events import AnswerReady, PlanStarted, RunSummary, TaskStarted, TaskStatus
from tinyagent.core.executor import DryRun
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.llm import LocalLLM

D, F, S, N = TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.DENIED
SMS = '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'
MEETING = ('1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n'
           '3. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", ["$1", "$2"], "", None)\n'
           '4. join()<END_OF_PLAN>')


def summary(statuses, outputs=None, errors=None, cancelled=False):
    return RunSummary("r", dict(statuses), dict(outputs or {}), dict(errors or {}), 0.1, cancelled)


def test_an_action_only_run_is_answered_from_the_results():
    plan = parse_plan(SMS)
    done = summary({1: D, 2: D}, {1: "+1 415 555 0102", 2: "Sent to Sarah Lindqvist (+1 415 555 0102): 'Running late'"})
    decision = decide("Text Sarah that I'm running late", plan, done)
    assert decision.case is JoinCase.ACTIONS_DONE and not decision.needs_joiner
    assert decision.answer == "Sent to Sarah Lindqvist (+1 415 555 0102): 'Running late'"


def test_a_dry_run_answer_shows_the_resolved_arguments():
    plan = parse_plan(SMS)
    dry = summary({1: D, 2: TaskStatus.DRY_RUN}, {1: "+1 415 555 0102"})
    answer = decide("Text Sarah", plan, dry, {2: {"recipients": ["+1 415 555 0102"], "message": "Running late"}}).answer
    assert "send_sms(recipients=['+1 415 555 0102'], message='Running late')" in answer and "dry run" in answer


def test_information_goes_to_the_joiner():
    lookup = parse_plan('1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>')
    assert decide("Sarah's number", lookup, summary({1: D}, {1: "+1"})).case is JoinCase.INFORMATION
    assert asks_for_information("What is on my calendar?", parse_plan(SMS))
    assert not asks_for_information("Text Sarah that I'm late", parse_plan(SMS))


def test_contacts_the_request_names_that_do_not_exist_end_with_one_answer():
    plan = parse_plan(MEETING)
    run = summary({1: F, 2: F, 3: S}, errors={
        1: "get_email_address: no contact named 'Sid'. Known contacts include: Sarah Lindqvist",
        2: 'No contact named "Lutfi" in Contacts.', 3: "needs tasks 1, 2, which did not succeed"})
    decision = decide("Schedule Sync with Sid and Lutfi at 3pm", plan, run)
    assert decision.case is JoinCase.UNFIXABLE and not decision.needs_joiner
    assert decision.answer == "No contact named Sid or Lutfi: nothing was scheduled."


def test_a_name_the_model_made_up_can_be_fixed_by_another_plan():
    plan = parse_plan(MEETING)
    run = summary({1: F, 2: D, 3: S}, {2: "l@x.com"}, {1: "get_email_address: no contact named 'Sid'."})
    assert decide("Schedule Sync with Sidney and Lutfi", plan, run).case is JoinCase.FIXABLE


def test_declined_and_stopped_runs_need_no_joiner():
    plan = parse_plan(SMS)
    declined = decide("Text Sarah hi", plan, summary({1: D, 2: N}, {1: "+1"}, {2: "declined"}))
    assert declined.case is JoinCase.UNFIXABLE and declined.answer == "You declined the text message: nothing was sent."
    stopped = decide("Text Sarah hi", plan, summary({1: D, 2: TaskStatus.CANCELLED}, {1: "+1"}, cancelled=True))
    assert stopped.case is JoinCase.STOPPED and "stopped" in stopped.answer


def test_replan_reasons_are_whole_sentences():
    plan = parse_plan(SMS)
    run = summary({1: F, 2: S}, errors={1: "get_phone_number: timed out"})
    assert sentence_reason("and a different plan could", plan, run) == \
        "Step 1 (get_phone_number) failed: get_phone_number: timed out."
    assert sentence_reason("the lookup of Sarah failed, try her email", plan, run) == \
        "The lookup of Sarah failed, try her email."


# -- on llama.cpp -----------------------------------------------------------------------------
class CountingLLM(LocalLLM):
    """The real model, counting its generations."""

    calls = 0

    def _generate(self, prompt, **kwargs):
        type(self).calls += 1
        yield from super()._generate(prompt, **kwargs)


class ScriptedLLM(LocalLLM):
    """A real llama.cpp instance whose generations are replaced by the given texts, in turn."""

    def __init__(self, path, texts):
        super().__init__(path, n_ctx=512, n_threads=1)
        self.texts, self.prompts = list(texts), []

    def _generate(self, prompt, **kwargs):
        self.prompts.append(prompt)
        yield self.texts.pop(0)


def sandbox_config(**planner) -> Config:
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.apps = ["contacts", "messages", "calendar", "mail"]
    config.planner.examples = 1
    for key, value in planner.items():
        setattr(config.planner, key, value)
    return config


async def test_a_plan_identical_to_a_failed_one_is_not_run_again(tiny_gguf):
    plan = '1. get_phone_number("Zed")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    llm = ScriptedLLM(tiny_gguf, [plan, "Thought: the lookup failed.\nAction: Replan: Zed may be spelled Zedd.", plan])
    try:
        pipeline = Pipeline(sandbox_config(max_replans=2), llm=llm)
        events = []
        result = await pipeline.ask("Text Zedd hi", emit=events.append, yes=True)
    finally:
        llm.close()
    assert len(llm.prompts) == 3 and result.attempts == 2 and result.joins == 1
    attempts = [e.attempt for e in events if isinstance(e, PlanStarted)]
    started = [e for e in events if isinstance(e, TaskStarted)]
    assert attempts == [1, 2] and [e.task_id for e in started] == [1]  # the lookup ran once, in attempt 1
    assert result.summary.statuses == {1: TaskStatus.SKIPPED, 2: TaskStatus.SKIPPED}
    assert "same as the one that failed" in result.answer


@pytest.fixture(scope="module")
def qwen():
    CountingLLM.calls = 0
    model = CountingLLM(real_model("qwen2.5-coder-0.5b"), n_ctx=4096)
    yield model
    model.close()


@pytest.mark.realmodel
async def test_real_model_action_only_request_makes_one_llm_call(qwen):
    pipeline = Pipeline(sandbox_config(max_replans=2), llm=qwen)
    before = CountingLLM.calls
    events = []
    result = await pipeline.ask("Text Sarah that I'm running 10 minutes late", emit=events.append, yes=True)
    assert result.ok, (result.plan.to_text(), result.summary)
    assert CountingLLM.calls - before == 1 and result.joins == 0 and "join" not in result.timings
    assert "Sent to Sarah Lindqvist" in result.answer
    assert events[-1] == AnswerReady(result.answer, case="no joiner: actions done")


@pytest.mark.realmodel
async def test_real_model_missing_contacts_end_after_one_attempt(qwen):
    pipeline = Pipeline(sandbox_config(max_replans=2), llm=qwen)
    before = CountingLLM.calls
    result = await pipeline.ask("Look up the email addresses of Lutfi and Sid and invite them to a "
                                "calendar event called Sync tomorrow at 3pm",
                                emit=lambda e: None, dry_run=DryRun.SAFE, yes=True)
    assert result.attempts == 1 and CountingLLM.calls - before == 1, result.plan.to_text()
    assert result.answer.startswith("No contact named") and "Lutfi" in result.answer and "Sid" in result.answer
    assert "nothing was scheduled" in result.answer


# -- the answer, streamed ---------------------------------------------------------------------
def test_answer_stream_shows_only_the_answer_as_it_grows():
    from tinyagent.core.answers import AnswerStream

    def run(text, size=3):
        stream = AnswerStream()
        return [p for p in (stream.feed(text[i: i + size]) for i in range(0, len(text), size)) if p]

    parts = run("Thought: I can answer.\nAction: Finish(Sarah's number is (415) 555-0102.)")
    assert "".join(parts) == "Sarah's number is (415) 555-0102." and len(parts) > 3
    assert "".join(run("Thought: ok\nAction: Finish: It is sunny.\n")) == "It is sunny."
    assert run("Thought: a summary.\nAction: Finish(Summary)") == []
    assert run("Thought: no\nAction: Replan") == []


class ChunkedLLM(ScriptedLLM):
    def _generate(self, prompt, **kwargs):
        self.prompts.append(prompt)
        text = self.texts.pop(0)
        yield from (text[i: i + 4] for i in range(0, len(text), 4))


@pytest.mark.parametrize("profile, said", [
    ("compact", "Thought: I have it.\nAction: Finish: Sarah's number is +1 415 555 0102."),
    ("tinyagent", "Thought: I have it.\nAction: Finish(Sarah's number is +1 415 555 0102.)")])
async def test_the_joiners_answer_streams_into_events_and_the_cli(tiny_gguf, profile, said):
    import io

    from tinyagent.core.cli.render import TextRenderer
    from tinyagent.core.events import AnswerToken

    llm = ChunkedLLM(tiny_gguf, ['1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>', said])
    out = io.StringIO()
    renderer = TextRenderer(out, verbose=True)
    events = []
    try:
        result = await Pipeline(sandbox_config(prompt=profile, chat_template="none"), llm=llm).ask(
            "What is Sarah's phone number?", emit=lambda e: (events.append(e), renderer(e)), yes=True)
    finally:
        llm.close()
    tokens = [e.text for e in events if isinstance(e, AnswerToken)]
    assert len(tokens) > 3 and "".join(tokens) == result.answer == "Sarah's number is +1 415 555 0102."
    assert result.joins == 1 and events[-1].case == "joiner: information asked for"
    assert "\nSarah's number is +1 415 555 0102.\n" in out.getvalue()
    assert out.getvalue().count("Sarah's number is") == 1
    assert out.getvalue().endswith("\n  (joiner: information asked for)\n")


async def test_the_chat_shows_the_answer_being_written():
    from textual.app import App

    from tinyagent.tui.widgets.chat import Chat

    class ChatApp(App):
        def compose(self):
            yield Chat()

    async with ChatApp().run_test() as pilot:
        chat = pilot.app.query_one(Chat)
        chat.stream_answer("Sarah's number")
        chat.stream_answer(" is +1 415")
        await pilot.pause()
        assert "Writing the answer…  Sarah's number is +1 415" in chat.text()
        chat.end_answer("Sarah's number is +1 415 555 0102.")
        await pilot.pause()
        assert chat.text().count("Answer:  Sarah's number is +1 415 555 0102.") == 1
        assert "Writing the answer" not in chat.text()
