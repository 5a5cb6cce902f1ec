"""create_calendar_event: adding an event to Calendar."""

from __future__ import annotations

import json
from datetime import timedelta

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolError
from tinyagent.tools.base import BaseBackend, date_text
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text, pick_named
from tinyagent.tools.spec import EMAIL, LIST_STR, STR, Args, Effect, Extras, Param, ToolSpec

_NAME = "create_calendar_event"
_NONE_WORDS = {"none", "null", "default"}


def _check(a: Args) -> None:
    A.require(a["title"], _NAME, "a title")
    A.require(a["start_date"], _NAME, "start_date ('YYYY-MM-DD HH:MM:SS')")
    a["start_date"] = A.parse_date(a["start_date"], f"{_NAME}: start_date")
    end = A.parse_optional_date(a["end_date"], f"{_NAME}: end_date")
    a["end_date"] = end or a["start_date"] + timedelta(hours=1)
    if a["end_date"] <= a["start_date"]:
        raise ToolError(f"{_NAME}: end_date {A.format_date(a['end_date'])} is not after start_date "
                        f"{A.format_date(a['start_date'])}")
    A.check_emails(a["invitees"], f"{_NAME}: invitees")
    if a["calendar"].lower() in _NONE_WORDS:
        a["calendar"] = ""


def _summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    where = f" at {a['location']}" if a["location"] else ""
    who = f", inviting {b.who(a['invitees'])}" if a["invitees"] else ""
    cal = a["calendar"] or "the default"
    return (f"Add '{A.quote(a['title'])}' to {cal} calendar, {A.human_date(a['start_date'])} to "
            f"{A.human_date(a['end_date'])}{where}{who}")


def _sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        calendar = pick_named(conn, "calendars", a["calendar"], False, "calendar", _NAME)
        conn.execute(
            "INSERT INTO events (calendar, title, start, end, location, invitees, notes, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (calendar, a["title"], date_text(a["start_date"]), date_text(a["end_date"]), a["location"],
             json.dumps(a["invitees"]), a["notes"], now_text()))
    where = f" at {a['location']}" if a["location"] else ""
    who = f"; invited {', '.join(a['invitees'])}" if a["invitees"] else ""
    return (f"Created '{a['title']}' in the {calendar} calendar, {A.human_date(a['start_date'])} to "
            f"{A.human_date(a['end_date'])}{where}{who}")


def _mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(CREATE_CALENDAR_EVENT, a["title"], a["start_date"], a["end_date"], a["location"],
                        a["invitees"], a["notes"], a["calendar"])


_DATE = "date and time as 'YYYY-MM-DD HH:MM:SS'"

CREATE_CALENDAR_EVENT = ToolSpec(
    _NAME, "calendar", Effect.WRITE,
    "Adds an event to the calendar, optionally inviting people by email address.",
    (
        Param("title", STR, "the event title"),
        Param("start_date", STR, f"start, {_DATE}", when=True),
        Param("end_date", STR, f"end, {_DATE}; one hour after the start if unknown", when=True),
        Param("location", STR, "where it happens, or an empty string"),
        Param("invitees", LIST_STR, "email addresses of people to invite", resolve=EMAIL),
        Param("notes", STR, "notes for the event, or an empty string"),
        Param("calendar", STR, "calendar name, or None for the default calendar"),
    ),
    "a confirmation with the event's details",
    companions=("get_email_address",),
    undone="scheduled", what="the calendar event",
    hint="adds a calendar event; invitees are email addresses; calendar None for the default",
    check=_check, describe=_summary, sandbox=_sandbox, applescript=_mac, script="create_calendar_event",
)
