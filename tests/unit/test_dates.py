"""The day a request names in words, and a plan's dates set to it (core/dates.py)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tinyagent.core.dates import DateAnchor, request_day
from tinyagent.core.events import Notice
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Ref
from tinyagent.core.planner.planner import PlanResponse
from tinyagent.core.planner.profile import PlannerPrompt
from tinyagent.tools.registry import REGISTRY

MONDAY = dt.date(2026, 12, 7)


@pytest.mark.parametrize("request_text, days, words", [
    ("Remind me tomorrow at 9 to call Sam", 1, "tomorrow"),
    ("Book dinner tonight at Luigi's", 0, "tonight"),
    ("Plan the review for the day after tomorrow", 2, "day after tomorrow"),
    ("Lunch with Ana on Friday", 4, "on friday"),
    ("Set up a call this Wednesday", 2, "this wednesday"),
    ("Meet next Monday at 3", 7, "next monday"),  # today is a Monday: the next one is a week on
    ("Stand-up on Monday", 0, "on monday"),  # ... and "on Monday" is today
    ("Follow up in 3 days", 3, "in 3 days"),
    ("Renew it in two weeks", 14, "in two weeks"),
    ("Reply to yesterday's email and remind me tomorrow", 1, "tomorrow"),  # the past says which email
    ("Tomorrow: the demo. Remind me tomorrow morning", 1, "tomorrow"),  # one day, named twice
])
def test_the_one_day_a_request_names(request_text, days, words):
    assert request_day(request_text, MONDAY) == (MONDAY + dt.timedelta(days=days), words)


@pytest.mark.parametrize("request_text", [
    "Text Sarah I'm running late",  # no day
    "Schedule it today and remind me tomorrow",  # two days
    "Book the room for March 5 tomorrow",  # a written date: the model copies it
    "Book the room for 2024-05-07",
    "Remind me on the 12th of December",
    "Plan a sync next week",  # a week, not a day
    "Every Friday, water the plants",
])
def test_no_day_or_more_than_one_is_left_to_the_model(request_text):
    assert request_day(request_text, MONDAY) is None


def task(text: str):
    plan = parse_plan(text + "\njoin()<END_OF_PLAN>")
    assert plan.ok, plan.errors
    return plan.tasks[-1]


def test_a_step_moves_to_the_day_keeping_its_times_and_length():
    anchor = DateAnchor(REGISTRY, "Schedule a two-day offsite starting tomorrow at 9", MONDAY)
    event = task('1. create_calendar_event("Offsite", "2023-04-10 09:00:00", "2023-04-11 17:00:00", "", [], "", None)')
    moved = anchor.anchor(event)
    assert moved is not None and moved.before == "2023-04-10 09:00:00" and moved.words == "tomorrow"
    assert moved.task.args[1:3] == ("2026-12-08 09:00:00", "2026-12-09 17:00:00")
    assert moved.task.args[0] == "Offsite" and moved.task.id == event.id
    right = task('1. create_calendar_event("Offsite", "2026-12-08 09:00:00", "2026-12-08 17:00:00", "", [], "", None)')
    assert anchor.anchor(right) is None  # already that day
    assert anchor.anchor(task('1. create_reminder("Call", "", "", "", 0, False)')) is None  # no date to move
    assert anchor.anchor(task('1. get_phone_number("Sam")')) is None  # a tool without dates
    assert DateAnchor(REGISTRY, "Schedule an offsite", MONDAY).anchor(event) is None  # no day named


def test_only_plain_dates_move():
    anchor = DateAnchor(REGISTRY, "Send the Zoom link for tomorrow's sync", MONDAY)
    plan = parse_plan('1. get_zoom_meeting_link("Sync", "2024-01-02 10:00:00", 30, [])\n'
                      '2. create_calendar_event("Sync", "$1", "2024-01-02 10:30:00", "", [], "", None)\n'
                      'join()<END_OF_PLAN>')
    assert anchor.anchor(plan.tasks[0]).task.args[1] == "2026-12-08 10:00:00"
    moved = anchor.anchor(plan.tasks[1])  # the `$N` start stays; the plain end moves on its own
    assert moved.task.args[1] == Ref(1) and moved.task.args[2] == "2026-12-08 10:30:00"


MODEL_TEXT = ('1. create_reminder("Call Sam", "2023-04-07 09:00:00", "", "", 0, False)\n'
              '2. get_phone_number("Sam")\njoin()<END_OF_PLAN>')


def stream(today: dt.date | None) -> tuple[list, PlanResponse, list]:
    events: list = []

    async def chunks():
        for start in range(0, len(MODEL_TEXT), 5):
            yield MODEL_TEXT[start:start + 5]

    response = PlanResponse(PlannerPrompt("", "", "", (), False), chunks(), list(REGISTRY.values()),
                            emit=events.append, request="Remind me tomorrow at 9 to call Sam", today=today)

    async def run() -> list:
        return [t async for t in response]

    return asyncio.run(run()), response, events


def test_streamed_steps_carry_the_day_and_say_so():
    tasks, response, events = stream(MONDAY)
    assert tasks[0].args[1] == "2026-12-08 09:00:00" and tuple(tasks) == response.plan.tasks
    assert response.text == MODEL_TEXT  # the record keeps what the model wrote
    said = [e.message for e in events if isinstance(e, Notice)]
    assert said == ["step 1 (create_reminder): dated '2023-04-07 09:00:00' by the model; set to the day the "
                    "request says ('tomorrow')"]
    tasks, response, events = stream(None)  # planner.anchor_dates off
    assert tasks[0].args[1] == "2023-04-07 09:00:00" and response.plan == parse_plan(MODEL_TEXT)
    assert not any(isinstance(e, Notice) for e in events)
