"""create_reminder: a reminder in Reminders, with an optional due date, list and priority."""

from __future__ import annotations

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.base import BaseBackend, date_text
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text, pick_named
from tinyagent.tools.spec import BOOL, INT, STR, Args, Effect, Extras, Param, ToolSpec

_NAME = "create_reminder"


def _check(a: Args) -> None:
    A.require(a["name"], _NAME, "what to be reminded of")
    day_only = A.is_day_only(a["due_date"])  # "2024-06-01": the model's way of saying all day
    a["due_date"] = A.parse_optional_date(a["due_date"], f"{_NAME}: due_date", day_only_ok=True)
    a["priority"] = A.check_priority(a["priority"])
    a["all_day"] = (a["all_day"] or day_only) and a["due_date"] is not None  # all-day needs a day


def _summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    due = f", due {A.human_date(a['due_date'], day_only=a['all_day'])}" if a["due_date"] else ""
    if a["due_date"] and a["all_day"]:  # stored as the day alone, as the confirmation must say
        due += " (all day)"
    prio = A.priority_word(a["priority"])
    return (f"Add the reminder '{A.quote(a['name'])}' to {a['list_name'] or 'the default'} list"
            f"{due}{', ' + prio + ' priority' if prio else ''}")


def _sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    due = a["due_date"]
    due_text = due.strftime("%Y-%m-%d") if due and a["all_day"] else date_text(due)
    with b.store.write() as conn:
        list_name = pick_named(conn, "reminder_lists", a["list_name"], True, "list", _NAME)
        conn.execute(
            "INSERT INTO reminders (list, name, due_date, notes, priority, all_day, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (list_name, a["name"], due_text, a["notes"], a["priority"], int(a["all_day"]), now_text()))
    due_words = f", due {due_text}" if due_text else ""
    return f"Created the reminder '{a['name']}' in {list_name}{due_words}"


def _mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(CREATE_REMINDER, a["name"], a["due_date"], a["notes"], a["list_name"], a["priority"],
                        a["all_day"])


CREATE_REMINDER = ToolSpec(
    _NAME, "reminders", Effect.WRITE,
    "Creates a reminder, optionally with a due date, notes, list and priority.",
    (
        Param("name", STR, "what to be reminded of"),
        Param("due_date", STR, "when it is due, date and time as 'YYYY-MM-DD HH:MM:SS', or an empty string", when=True),
        Param("notes", STR, "extra notes, or an empty string"),
        Param("list_name", STR, "reminder list name, or an empty string for the default list"),
        Param("priority", INT, "0 none, 1 high, 5 medium, 9 low"),
        Param("all_day", BOOL, "True for an all-day reminder"),
    ),
    "a confirmation of the reminder",
    undone="added", what="the reminder",
    hint="creates a reminder; priority 0 none, 1 high, 5 medium, 9 low",
    check=_check, describe=_summary, sandbox=_sandbox, applescript=_mac, script="create_reminder",
)
