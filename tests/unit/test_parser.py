"""The plan language: whole and incremental parsing, noise, validation messages, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent.core.parser import PlanError, PlanParser, load_plan, parse_plan
from tinyagent.core.plan import Plan, Ref, Task, Template, serialize

PLAN = (
    '1. get_email_address("Sid")\n'
    '2. get_email_address("Lutfi")\n'
    '3. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", ["$1", "$2"], "", None)\n'
    "4. join()<END_OF_PLAN>"
)


def test_whole_plan_reads_tasks_refs_and_none():
    plan = load_plan(PLAN)
    assert [t.tool for t in plan.tasks] == ["get_email_address", "get_email_address", "create_calendar_event"]
    event = plan.tasks[2]
    assert event.args[4] == [Ref(1), Ref(2)]
    assert event.args[6] is None
    assert event.deps == (1, 2)
    assert plan.joined and not plan.errors and not plan.warnings


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 10_000])
def test_incremental_feeding_yields_each_task_when_its_line_completes(size):
    parser = PlanParser()
    seen_at: dict[int, int] = {}
    for start in range(0, len(PLAN), size):
        for task in parser.feed(PLAN[start : start + size]):
            seen_at[task.id] = start + size
    plan = parser.close()
    assert plan == load_plan(PLAN)
    # a task is complete at its newline, never later than the chunk containing it
    for task in plan.tasks:
        newline = [i for i, ch in enumerate(PLAN) if ch == "\n"][task.id - 1]
        assert seen_at[task.id] - size <= newline < seen_at[task.id]


def test_task_is_not_released_before_its_newline():
    parser = PlanParser()
    assert parser.feed('1. get_phone_number("Ann")') == []
    assert [t.id for t in parser.feed("\n")] == [1]


def test_end_marker_completes_the_plan_without_newline_even_when_split():
    parser = PlanParser()
    parser.feed('1. get_phone_number("Ann")\n2. join()<END_OF')
    assert not parser.ended
    parser.feed("_PLAN>")
    assert parser.ended and parser.joined
    assert parser.close().ok


def test_strings_with_escapes_and_interpolated_refs():
    text = ('1. get_zoom_meeting_link("Q\\"3\\" review", "2024-01-02 10:00:00", 30, [])\n'
            '2. send_sms(["+1 555 0100"], "Join: $1 or ${1}0 \\\\ done")\n3. join()<END_OF_PLAN>')
    plan = load_plan(text)
    assert plan.tasks[0].args[0] == 'Q"3" review'
    message = plan.tasks[1].args[1]
    assert isinstance(message, Template)
    assert message.parts == ("Join: ", Ref(1), " or ", Ref(1), "0 \\ done")
    assert parse_plan(serialize(plan)) == plan


def test_real_model_noise_is_taken_as_it_is():
    text = (
        "Thought: first find Sid\r\n"
        '1. get_email_address("Sid")  # contact lookup\r\n'
        "\r\n"
        "I will now send the email.\r\n"
        '2. compose_new_email(["$1"], [], "Hi", "Hello #1 fan", [])\r\n'
        "3. join()\r\n"
        "<END_OF_PLAN>"
    )
    plan = parse_plan(text)
    assert plan.ok, plan.errors
    assert plan.tasks[0].thought == "first find Sid"
    assert plan.tasks[0].comment == "contact lookup"
    assert plan.tasks[1].args[3] == "Hello #1 fan"  # '#' inside a string is not a comment
    assert [w.line for w in plan.warnings] == [4]
    assert "not a task" in plan.warnings[0].message
    assert parse_plan(serialize(plan)) == plan


def test_a_stray_carriage_return_in_a_comment_or_string_is_not_a_line_break():
    plan = parse_plan('1. get_email_address("Ann\rLee")  # look up\r her address\n2. join()<END_OF_PLAN>')
    assert plan.ok, plan.errors
    assert plan.tasks[0].args == ("Ann Lee",) and plan.tasks[0].comment == "look up  her address"


@pytest.mark.parametrize(
    "text, line, words",
    [
        ('1. find_friend("Sid")\n2. join()<END_OF_PLAN>', 1, "unknown tool 'find_friend'"),
        ('1. get_phone_number("Sid", "x")\n2. join()<END_OF_PLAN>', 1, "takes 1 arguments (name) but got 2"),
        ('1. create_reminder("x", "", "", "", "high", False)\n2. join()<END_OF_PLAN>', 1,
         "priority) of create_reminder must be an integer"),
        ('1. send_sms("$2", "hi")\n2. join()<END_OF_PLAN>', 1, "only use outputs of earlier tasks"),
        ('1. send_sms(["$7"], "hi")\n2. join()<END_OF_PLAN>', 1, "refers to $7"),
        ('1. get_phone_number("a")\n1. get_phone_number("b")\n3. join()<END_OF_PLAN>', 2, "used twice"),
        ('2. get_phone_number("a")\n1. get_phone_number("b")\n3. join()<END_OF_PLAN>', 2, "must increase"),
        ('1. get_phone_number("a")\n', 1, "must end with join()"),
        ('1. join()\n2. get_phone_number("a")\n3. join()<END_OF_PLAN>', 2, "comes after join()"),
        ('1. get_phone_number(name="a")\n2. join()<END_OF_PLAN>', 1, "without names"),
        ('1. get_phone_number(open("x"))\n2. join()<END_OF_PLAN>', 1, "must be literals"),
        ('1. send_sms(["a"], "b"\n2. join()<END_OF_PLAN>', 1, "not well formed"),
        ('get_phone_number("a")\n2. join()<END_OF_PLAN>', 1, "must start with its number"),
    ],
)
def test_errors_name_the_line_and_say_what_is_wrong(text, line, words):
    plan = parse_plan(text)
    assert not plan.ok
    assert any(d.line == line and words in d.message for d in plan.errors), [str(d) for d in plan.errors]
    with pytest.raises(PlanError) as info:
        load_plan(text)
    assert f"line {line}" in str(info.value)


def test_dependents_of_an_invalid_task_say_why():
    plan = parse_plan('1. get_phone_nmber("a")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')
    assert any("task 1 has an error" in d.message for d in plan.errors)


def test_code_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    text = f'1. get_phone_number(__import__("os").system("touch {marker}"))\n2. join()<END_OF_PLAN>'
    assert not parse_plan(text).ok
    assert not marker.exists()


def test_serialize_is_canonical_and_round_trips():
    plan = Plan((Task(1, "get_phone_number", ("Ann",)), Task(2, "send_sms", ([Ref(1)], "a\nb \"q\""))))
    text = serialize(plan)
    assert text == '1. get_phone_number("Ann")\n2. send_sms(["$1"], "a\\nb \\"q\\"")\n3. join()<END_OF_PLAN>\n'
    assert parse_plan(text) == plan


def test_without_registry_unknown_tools_pass():
    plan = parse_plan('1. anything(1, [2], "x")\n2. join()<END_OF_PLAN>', registry=None)
    assert plan.ok and plan.tasks[0].tool == "anything"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes(text):
    plan = parse_plan(text)
    assert isinstance(plan, Plan)


plan_alphabet = st.sampled_from(list('0123456789.()[]"$,# \n\\join<END_OF_PLAN>get_phone_number send_sms Thought:'))


@settings(max_examples=300, deadline=None)
@given(st.lists(plan_alphabet, max_size=300).map("".join), st.integers(1, 20))
def test_plan_like_text_parses_the_same_in_any_chunking(text, size):
    whole = parse_plan(text)
    parser = PlanParser()
    for start in range(0, len(text), size):
        parser.feed(text[start : start + size])
    chunked = parser.close()
    assert chunked == whole
    assert [str(d) for d in chunked.errors] == [str(d) for d in whole.errors]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3000))
def test_pathological_nesting_is_refused_quickly(depth):
    parse_plan("1. send_sms(" + "[" * depth + "]" * depth + ', "x")\n2. join()<END_OF_PLAN>')
