"""get_zoom_meeting_link: a Zoom meeting through Zoom's API (the sandbox makes one up without a token)."""

from __future__ import annotations

import json

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolError, begin_effect
from tinyagent.tools.base import BaseBackend, date_text
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text
from tinyagent.tools.spec import EMAIL, INT, LIST_STR, STR, Args, Effect, Extras, Param, ToolSpec
from tinyagent.tools.zoom import local_meeting

_NAME = "get_zoom_meeting_link"


def _check(a: Args) -> None:
    a["topic"] = a["topic"] or "Zoom meeting"
    a["start_time"] = A.parse_optional_date(a["start_time"], f"{_NAME}: start_time")
    duration = 60 if a["duration"] is None else a["duration"]
    if not 1 <= duration <= 24 * 60:
        raise ToolError(f"{_NAME}: duration must be between 1 and 1440 minutes, not {duration}")
    a["duration"] = duration
    A.check_emails(a["meeting_invitees"], f"{_NAME}: meeting_invitees")


def _summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    when = A.human_date(a["start_time"]) if a["start_time"] else "now"
    who = f", inviting {b.who(a['meeting_invitees'])}" if a["meeting_invitees"] else ""
    mode = f" ({b.zoom_mode()})" if b.zoom_mode() else ""
    return f"Create a Zoom meeting '{A.quote(a['topic'])}', {when}, {a['duration']} min{who}{mode}"


def _sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    make = b.zoom.create_meeting if b.zoom else local_meeting
    if b.zoom:
        begin_effect()  # the real API call is itself the change
    meeting = make(a["topic"], a["start_time"], a["duration"], a["meeting_invitees"])
    with b.store.write() as conn:
        conn.execute(
            "INSERT INTO zoom_meetings (meeting_id, topic, start_time, duration, invitees, join_url, source, "
            "created_at) VALUES (?,?,?,?,?,?,?,?)",
            (meeting.meeting_id, a["topic"], date_text(a["start_time"]), a["duration"],
             json.dumps(a["meeting_invitees"]), meeting.join_url, meeting.source, now_text()))
    return meeting.join_url


def _mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    if b.zoom is None:
        raise ToolError(f"{_NAME}: Zoom is not set up. Add an OAuth access token as zoom.token "
                        f"in config.yaml (a made-up link would be sent to real people)")
    return b.zoom.create_meeting(a["topic"], a["start_time"], a["duration"], a["meeting_invitees"]).join_url


GET_ZOOM_MEETING_LINK = ToolSpec(
    _NAME, "zoom", Effect.NETWORK,
    "Creates a Zoom meeting and returns its join link.",
    (
        Param("topic", STR, "the meeting topic"),
        Param("start_time", STR, "start, date and time as 'YYYY-MM-DD HH:MM:SS'", when=True),
        Param("duration", INT, "length in minutes"),
        Param("meeting_invitees", LIST_STR, "email addresses of people to invite", resolve=EMAIL),
    ),
    "the meeting's join link",
    companions=("get_email_address",),
    undone="created", what="the Zoom meeting",
    hint="creates a Zoom meeting of duration minutes; returns its link",
    check=_check, describe=_summary, sandbox=_sandbox, applescript=_mac,
)
