"""A name where an address, a number or a path belongs becomes a lookup step (core/lookup_steps.py)."""

from __future__ import annotations

import asyncio

from tinyagent.core.dag import plans_isomorphic
from tinyagent.core.events import Notice
from tinyagent.core.lookup_steps import LookupSteps
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Plan
from tinyagent.core.planner.planner import PlanResponse
from tinyagent.core.planner.profile import PlannerPrompt
from tinyagent.tools.registry import REGISTRY


def explicit(text: str, registry=REGISTRY) -> Plan:
    plan = parse_plan(text)
    assert plan.ok, plan.errors
    return Plan(LookupSteps(registry).feed_all(plan.tasks), plan.joined)


def test_names_become_lookups_right_before_the_call_and_later_steps_are_renumbered():
    plan = explicit('1. maps_open_location("Library")\n'
                    '2. compose_new_email(["John", "Emily"], [], "Study", "Map: $1", [])\n'
                    '3. create_calendar_event("Study", None, None, "Library", ["John", "Emily"], "", None)\n'
                    '4. create_note("Sent", "$2", "")\n'
                    'join()<END_OF_PLAN>')
    assert plan.to_text() == (
        '1. maps_open_location("Library")\n'
        '2. get_email_address("John")\n'
        '3. get_email_address("Emily")\n'
        '4. compose_new_email(["$2", "$3"], [], "Study", "Map: $1", [])\n'
        '5. create_calendar_event("Study", None, None, "Library", ["$2", "$3"], "", None)\n'  # the same lookups
        '6. create_note("Sent", "$4", "")\n'  # was $2: the email, renumbered
        '7. join()<END_OF_PLAN>\n')


def test_a_lookup_the_model_wrote_is_reused():
    plan = explicit('1. get_phone_number("Mom")\n2. send_sms(["$1"], "hi")\n3. send_sms(["Mom"], "again")\n'
                    'join()<END_OF_PLAN>')
    assert [t.tool for t in plan.tasks] == ["get_phone_number", "send_sms", "send_sms"]
    assert plan.tasks[2].args[0] == plan.tasks[1].args[0]


def test_each_kind_gets_its_own_lookup():
    plan = explicit('1. send_sms(["Ann"], "hi")\n2. forward_email(["Ann"], [], "fyi", ["notes.pdf"])\n'
                    '3. summarize_pdf("report.pdf")\njoin()<END_OF_PLAN>')
    assert [t.tool for t in plan.tasks] == ["get_phone_number", "send_sms", "get_email_address",
                                            "open_and_get_file_path", "forward_email", "open_and_get_file_path",
                                            "summarize_pdf"]
    assert plan.tasks[2].args == ("Ann",) and plan.tasks[3].args == ("notes.pdf",)


def test_addresses_numbers_paths_references_and_texts_stay():
    text = ('1. get_email_address("Ann")\n'
            '2. compose_new_email(["$1", "bob@example.com"], [], "Hi", "text with John in it", ["/tmp/a.pdf"])\n'
            '3. send_sms(["+1 555 0100"], "See $2")\n'
            '4. summarize_pdf("")\n'
            '5. create_calendar_event("Party", None, None, "Home", [], "", None)\n'
            'join()<END_OF_PLAN>')
    assert explicit(text) == parse_plan(text)


def test_without_the_lookup_tool_nothing_is_added():
    registry = {name: spec for name, spec in REGISTRY.items() if name != "get_email_address"}
    text = '1. compose_new_email(["John"], [], "Hi", "text", [])\njoin()<END_OF_PLAN>'
    assert explicit(text, registry) == parse_plan(text)


def test_the_repaired_plan_has_the_reference_graph():
    reference = parse_plan('1. get_email_address("John")\n2. compose_new_email(["$1"], [], "Hi", "x", [])\n'
                           'join()<END_OF_PLAN>')
    written = '1. compose_new_email(["John"], [], "Hi", "x", [])\njoin()<END_OF_PLAN>'
    assert not plans_isomorphic(parse_plan(written), reference)
    assert plans_isomorphic(explicit(written), reference)


# -- as the plan streams ------------------------------------------------------------------------
MODEL_TEXT = ('1. open_and_get_file_path("a.pdf")\n2. send_sms(["Sid"], "Got $1")\n'
              '3. forward_email(["Sid"], [], "fyi", ["$1"])\njoin()<END_OF_PLAN>')


EVENTS: list = []


def stream(lookup_steps: bool, text: str = MODEL_TEXT, request: str = "") -> tuple[list, PlanResponse]:
    EVENTS.clear()
    async def chunks():
        for start in range(0, len(text), 7):
            yield text[start:start + 7]

    tools = list(REGISTRY.values())
    response = PlanResponse(PlannerPrompt("", "", "", (), False), chunks(), tools, lookup_steps=lookup_steps,
                            emit=EVENTS.append, request=request)

    async def run() -> list:
        return [task async for task in response]

    return asyncio.run(run()), response


def test_streamed_tasks_are_the_plan_with_lookups_and_the_text_is_the_models():
    tasks, response = stream(True)
    assert [(t.id, t.tool) for t in tasks] == [(1, "open_and_get_file_path"), (2, "get_phone_number"),
                                               (3, "send_sms"), (4, "get_email_address"), (5, "forward_email")]
    assert tuple(tasks) == response.plan.tasks and response.plan.ok
    assert response.lookups_added == 2
    assert response.text == MODEL_TEXT
    said = [e.message for e in EVENTS if isinstance(e, Notice)]  # the user is told what the model did not write
    assert said == ['step 2 added: get_phone_number("Sid"), as step 3 (send_sms) names \'Sid\' where a phone number '
                    'belongs (planner.lookup_steps)',
                    'step 4 added: get_email_address("Sid"), as step 5 (forward_email) names \'Sid\' where an email '
                    'address belongs (planner.lookup_steps)']
    assert str(tasks[2].args[1].parts[-1]) == "Ref(task_id=1)"  # "Got $1" still means the file


def test_off_the_plan_is_what_the_model_wrote():
    tasks, response = stream(False)
    assert response.plan == parse_plan(MODEL_TEXT) and tuple(tasks) == response.plan.tasks
    assert response.lookups_added == 0 and not any(isinstance(e, Notice) for e in EVENTS)


def test_a_last_line_read_only_at_close_is_repaired_too():
    text = '1. send_sms(["Sid"], "hi")\njoin()'  # no <END_OF_PLAN>: close() reads the join line
    tasks, response = stream(True, text)
    assert [t.tool for t in response.plan.tasks] == ["get_phone_number", "send_sms"]
    assert tuple(tasks) == response.plan.tasks


def test_a_lookup_of_someone_the_request_never_names_is_a_warning():
    text = ('1. get_phone_number("John Doe")\n2. get_email_address("Alice Carter")\n'
            '3. send_sms(["$1", "Lutfi"], "hi")\n4. open_and_get_file_path("minutes.pdf")\njoin()<END_OF_PLAN>')
    for steps in (True, False):
        tasks, response = stream(steps, text, request="Text the team and Alice's mother the minutes")
        warned = [e.message for e in EVENTS if isinstance(e, Notice) and e.level == "warning"]
        assert warned[0] == ("step 1 looks up 'John Doe', whom the request does not name: check who it reaches "
                             "before approving")
        if steps:  # the name the model put in the recipients became a lookup step of its own, warned of too
            assert len(warned) == 2 and warned[1].startswith("step 3 looks up 'Lutfi'")
            assert [t.tool for t in tasks][:4] == ["get_phone_number", "get_email_address", "get_phone_number", "send_sms"]
        else:
            assert len(warned) == 1
            assert response.plan == parse_plan(text)  # a warning changes nothing in the plan


def test_named_people_and_files_are_not_warned_of():
    text = ('1. get_phone_number("Sarah")\n2. get_email_address("team")\n3. get_email_address("Zoë")\n'
            '4. open_and_get_file_path("quarterly report")\njoin()<END_OF_PLAN>')
    stream(True, text, request="Text SARAH's phone, email the team and zoë the report")
    assert not [e for e in EVENTS if isinstance(e, Notice) and e.level == "warning"]
    stream(True, text)  # no request given (a scripted plan): nothing to check against
    assert not [e for e in EVENTS if isinstance(e, Notice) and e.level == "warning"]
