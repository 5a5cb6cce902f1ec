"""One request's replan state, without a model: what each attempt runs, what it is answered
from, what waits, and what the next plan is told (core/request_run.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tinyagent.core.events import RunSummary, TaskFinished, TaskStatus
from tinyagent.core.executor import DryRun
from tinyagent.core.pipeline import _with
from tinyagent.core.plan import Plan, Ref, Task
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner.joiner import JoinResult
from tinyagent.core.planner.llm import GenerationStats
from tinyagent.core.planner.profile_names import COMPACT, TINYAGENT
from tinyagent.core.planner.profile_tinyagent import joiner_steps
from tinyagent.core.planner.profiles import PROFILE_TABLE
from tinyagent.core.request_run import RequestOptions, RequestRun
from tinyagent.tools.registry import REGISTRY, TOOLS

D, F, U, S, N = TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.UNKNOWN, TaskStatus.SKIPPED, TaskStatus.DENIED
LOOKUP = Task(1, "get_phone_number", ("Zed",))
SEND = Task(2, "send_sms", ([Ref(1)], "hi"))


class Target:
    """Stands in for the executor: which tasks were run, which were answered without running."""

    def __init__(self) -> None:
        self.ran: list[int] = []
        self.answered: dict[int, tuple[TaskStatus, object, str | None]] = {}

    def add(self, task: Task) -> None:
        self.ran.append(task.id)

    def preset(self, task: Task, status: TaskStatus, output: object = None, error: str | None = None) -> None:
        self.answered[task.id] = (status, output, error)


def new_run(rounds: int = 3, *, tinyagent: bool = False, request: str = "Text Zed hi") -> RequestRun:
    """A run with the compact profile (`rounds` plans at most), or TinyAgent's (2 at most)."""
    profile = PROFILE_TABLE[TINYAGENT if tinyagent else COMPACT]
    return RequestRun(request, RequestOptions(yes=True), tools=[REGISTRY["get_phone_number"], REGISTRY["send_sms"]],
                      examples=[], profile=profile, replans=rounds - 1)


def summary(statuses, outputs=None, errors=None, cancelled=False) -> RunSummary:
    return RunSummary("r", dict(statuses), dict(outputs or {}), dict(errors or {}), 0.1, cancelled)


def attempt_with(run: RequestRun, tasks, statuses, outputs=None, errors=None, changes=None):
    """One whole attempt: its tasks streamed in, the plan ended, the run's outcome recorded."""
    attempt = run.next_attempt()
    assert attempt is not None
    target = Target()
    for task in tasks:
        attempt.take(task, target)
    attempt.plan_ended(target)
    result = summary(statuses, outputs, errors)
    attempt.settle(result, changes or {}, set())
    return attempt, target, result


def test_work_done_before_is_answered_and_failed_work_runs_only_in_a_new_plan():
    run = new_run()
    first, target, _ = attempt_with(run, [LOOKUP, SEND], {1: D, 2: F}, {1: "+1 415 555 0199"},
                                    {2: "the carrier refused it"})
    assert first.number == 1 and target.ran == [1, 2] and not first.repeated
    second = run.next_attempt()
    assert second is not None and second.number == 2
    target = Target()
    email = Task(1, "get_email_address", ("Zed",))
    second.take(email, target)  # new work: runs at once
    second.take(Task(2, "get_phone_number", ("Zed",)), target)  # done before: its outcome, not run again
    second.take(Task(3, "send_sms", ([Ref(2)], "hi")), target)  # the send that failed: waits
    assert target.ran == [1] and target.answered == {2: (D, "+1 415 555 0199", None)}
    assert not second.plan_ended(target)
    assert target.ran == [1, 3]  # the plan is new, so the failed send is tried once more, last


def test_a_change_whose_outcome_is_unknown_is_never_made_again():
    run = new_run()
    send = Task(1, "send_sms", (["+1 415 555 0199"], "hi"))
    attempt_with(run, [send], {1: U}, errors={1: "the send timed out"}, changes={1: "send_sms +1 415 555 0199 hi"})
    assert [w.done for w in run.done_work.entries] == [False]
    _, target, _ = attempt_with(run, [Task(1, "get_phone_number", ("Ann",)), Task(2, "send_sms", (["+1 415 555 0199"],
                                                                                               "hi"))], {})
    assert target.ran == [1] and target.answered == {2: (U, None, "the send timed out (not repeated)")}


def test_work_answered_from_earlier_attempts_is_recorded_once():
    run = new_run()
    attempt_with(run, [LOOKUP], {1: D}, {1: "+1 415 555 0199"})
    attempt_with(run, [LOOKUP, SEND], {1: D, 2: D}, {1: "+1 415 555 0199", 2: "Sent."}, changes={2: "sms"})
    assert [w.key[0] for w in run.done_work.entries] == ["get_phone_number", "send_sms"]


def test_a_plan_the_same_as_a_failed_one_is_not_run_again_not_even_in_part():
    run = new_run()
    first, _, result = attempt_with(run, [LOOKUP, SEND], {1: F, 2: S}, errors={1: "the lookup timed out"})
    plan = Plan((LOOKUP, SEND))
    assert run.ran(first, plan, result)  # a failure another plan may fix: the joiner decides
    assert run.joined(JoinResult("", True, "Zed may be spelled Zedd"))
    assert run.reason == "Zed may be spelled Zedd."
    second = run.next_attempt()
    assert second is not None
    target = Target()
    second.take(LOOKUP, target)
    second.take(SEND, target)
    assert target.ran == [] and target.answered == {}  # it may still be the same plan: nothing runs yet
    assert second.plan_ended(target) and second.repeated
    assert target.ran == [] and target.answered == {1: (S, None, None), 2: (S, None, None)}
    assert not run.ran(second, plan, summary({1: S, 2: S}))
    assert run.result.answer == ("Zed may be spelled Zedd. The new plan was the same as the one that failed, "
                                 "so it was not run again.")
    assert run.answer_case == "joiner: the new plan repeats one that failed" and run.joins == 1


def test_the_start_of_a_tried_plan_waits_until_the_plan_turns_out_new():
    run = new_run()
    email = Task(2, "get_email_address", ("Zed",))
    attempt_with(run, [LOOKUP, email], {1: F, 2: TaskStatus.CANCELLED}, errors={1: "timed out"})
    second = run.next_attempt()
    assert second is not None
    target = Target()
    second.take(Task(1, "get_email_address", ("Zed",)), target)
    assert target.ran == [] and [t.id for t in second.echo] == [1]  # the old plan's first step, so far
    second.take(Task(2, "create_reminder", ("Call Zed",)), target)
    assert target.ran == [1, 2] and not second.echo  # new after all: what waited went first


def test_a_new_plan_retries_failed_work_after_its_new_work():
    run = new_run()
    attempt_with(run, [LOOKUP, SEND], {1: F, 2: S}, errors={1: "timed out"})
    _, target, _ = attempt_with(run, [LOOKUP, SEND, Task(3, "create_reminder", ("Call Zed",))], {})
    assert target.ran == [3, 1, 2]


def test_the_last_round_and_a_declined_step_end_the_request():
    run = new_run(rounds=1)
    only, _, result = attempt_with(run, [LOOKUP], {1: F}, errors={1: "timed out"})
    assert run.final and run.ran(only, Plan((LOOKUP,)), result)
    assert not run.joined(JoinResult("Zed's number could not be found.", True, "try again"))
    assert run.next_attempt() is None and run.attempts == 1
    assert run.result.answer == "Zed's number could not be found."
    declined = new_run()
    attempt, _, result = attempt_with(declined, [LOOKUP, SEND], {1: D, 2: N}, {1: "+1 415 555 0199"})
    declined.ran(attempt, Plan((LOOKUP, SEND)), result)
    assert not declined.joined(JoinResult("You declined the text.", True, "the user declined"))


def test_a_run_that_only_does_things_is_answered_without_the_joiner():
    run = new_run()
    attempt, _, result = attempt_with(run, [LOOKUP, SEND], {1: D, 2: D},
                                      {1: "+1 415 555 0199", 2: "Sent to Zed (+1 415 555 0199): 'hi'"})
    stats = GenerationStats(prompt_tokens=120, prompt_tokens_evaluated=20)
    assert not run.ran(attempt, Plan((LOOKUP, SEND)), result, text="1. ...", stats=stats)
    assert run.result.answer == "Sent to Zed (+1 415 555 0199): 'hi'"
    assert run.answer_case == "no joiner: actions done" and run.joins == 0
    assert (run.tokens, run.evaluated, run.text) == (120, 20, "1. ...")


def test_a_dry_run_answer_quotes_the_arguments_the_attempt_saw():
    run = new_run()
    attempt = run.next_attempt()
    assert attempt is not None
    seen: list = []
    sink = attempt.watch(seen.append)
    event = TaskFinished(2, "send_sms", TaskStatus.DRY_RUN, args={"recipients": ["+1 415 555 0199"], "message": "hi"})
    sink(event)
    assert seen == [event] and attempt.args == {2: {"recipients": ["+1 415 555 0199"], "message": "hi"}}
    attempt.plan_ended(Target())
    run.ran(attempt, Plan((LOOKUP, SEND)), summary({1: D, 2: TaskStatus.DRY_RUN}, {1: "+1 415 555 0199"}))
    assert "send_sms(recipients=['+1 415 555 0199'], message='hi')" in run.result.answer


def test_the_compact_replan_tells_the_next_plan_what_happened():
    run = new_run()
    attempt, _, result = attempt_with(run, [LOOKUP, SEND], {1: F, 2: S}, errors={1: "timed out"})
    run.ran(attempt, Plan((LOOKUP, SEND)), result)
    assert run.joined(JoinResult("", True, "the lookup timed out"))
    run.replan(lambda: pytest.fail("the compact profile keeps its tools"))
    assert run.context.startswith("\nA previous plan for this question did not fully work.\n")
    assert '1. get_phone_number("Zed")\n   failed: timed out' in run.context
    assert [t.name for t in run.tools] == ["get_phone_number", "send_sms"]


def test_the_tinyagent_replan_offers_every_tool_and_keeps_every_previous_plan():
    run = new_run(tinyagent=True)
    assert run.rounds == 2  # TinyAgent's planner gets one replan at most
    lookup = Task(1, "get_phone_number", ("Zed",))
    attempt, _, result = attempt_with(run, [lookup], {1: F}, errors={1: "no number for Zed"})
    assert run.ran(attempt, Plan((lookup,)), result)
    steps = tuple(joiner_steps(Plan((lookup,)), result))
    assert run.joined(JoinResult("", True, "lookup failed", "Zed has no number", "", steps))
    run.replan(lambda: list(TOOLS))
    first = tj.replan_context(steps, "Zed has no number")
    assert run.context == tj.format_contexts([first]) and run.tools == list(TOOLS)
    # A later round lists every earlier one (the profile keeps them; the run hands them back).
    later = run.profile.replan(Plan((lookup,)), result, JoinResult("", True, "again", "still none", "", steps),
                               run.contexts, run.tools, lambda: list(TOOLS))
    assert later.context == tj.format_contexts([first, tj.replan_context(steps, "still none")])


def test_request_options_are_one_frozen_value():
    options = RequestOptions(dry_run="safe")  # type: ignore[arg-type]
    assert options.dry_run is DryRun.SAFE and options.use_grammar and options.example_pool is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.yes = True  # type: ignore[misc]
    given = _with(RequestOptions(use_grammar=False, exclude_example="q"), "strict", True)
    assert given == RequestOptions(DryRun.STRICT, True, False, None, "q")
    assert _with(options, None, None) is options


def test_an_attempt_never_outlives_its_rounds():
    run = new_run(rounds=2)
    assert [a.number for a in iter(run.next_attempt, None)] == [1, 2]
    assert run.next_attempt() is None and run.attempts == 2 and run.final
