import pytest

from tinyagent.core.dag import just_in_time, plans_isomorphic, renumber
from tinyagent.core.parser import load_plan
from tinyagent.core.planner.request_order import asked_at, request_order

# The reference writes the reply last, though the request asks for it first.
QUERY = ('Reply to the email from John with a confirmation, text Ana that I am late, and open the note '
         '"Trip" in the "Travel" folder.')
PLAN = load_plan('1. open_note("Trip", "Travel")\n2. get_phone_number("Ana")\n3. send_sms(["$2"], "late")\n'
                 '4. reply_to_email([], "Confirmed", [])\n5. join()<END_OF_PLAN>')


def test_the_requests_actions_come_in_the_order_it_asks_for_them_each_with_its_lookups():
    order = request_order(QUERY, PLAN)
    assert order == [4, 2, 3, 1]
    moved = renumber(PLAN, order)
    assert [t.tool for t in moved.tasks] == ["reply_to_email", "get_phone_number", "send_sms", "open_note"]
    assert plans_isomorphic(moved, PLAN)  # the same graph, written in one order


def test_where_a_step_is_asked_for_quoted_arguments_then_app_words_then_what_it_needs():
    by_id = {t.id: t for t in PLAN.tasks}
    query = QUERY.lower()
    assert asked_at(QUERY, by_id[1], by_id) == query.index('"trip"')  # quoted: its title
    assert asked_at(QUERY, by_id[4], by_id) == query.index("reply")  # the app's word
    # "message" is not said: the SMS is found by the person its lookup names.
    sms = load_plan('1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')
    found = {t.id: t for t in sms.tasks}
    assert asked_at("Let Ana know", found[2], found) == 4
    # An unquoted title that echoes an earlier clause loses to the app's own word.
    query = "Forward the team event email to Bo, then add a calendar entry for it"
    event = load_plan('1. create_calendar_event("Team Event", "2024-01-01 10:00:00", "2024-01-01 11:00:00", '
                      '"", [], "", None)\n2. join()<END_OF_PLAN>')
    found = {t.id: t for t in event.tasks}
    assert asked_at(query, found[1], found) == query.index("calendar")


def test_a_step_the_request_never_mentions_stays_after_the_one_written_before_it():
    plan = load_plan('1. create_note("Zed", "", "")\n2. maps_open_location("Park")\n3. get_zoom_meeting_link('
                     '"x", "2024-01-01 10:00:00", 30, [])\n4. join()<END_OF_PLAN>')
    # The meeting link is never mentioned: it follows the map, written before it.
    assert request_order('Show the Park on a map and make a note "Zed"', plan) == [2, 3, 1]
    assert request_order("nothing said", plan) == [1, 2, 3]  # none found: as written


def test_just_in_time_takes_the_order_of_the_steps_nothing_needs():
    assert just_in_time(PLAN, [4, 1, 3]) == [4, 1, 2, 3]
    with pytest.raises(ValueError, match="sinks"):
        just_in_time(PLAN, [4, 3])
