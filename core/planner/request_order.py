"""A training plan's steps in the order its request asks for them.

TinyAgent's references write the steps nothing needs (the request's actions: a message, a note,
an event) mostly in the order the request asks for them, but about one plan in four moves one:
a reply written last though the request asks for it first, a map opened before the email it
was asked after. The graph is the same either way, so the model cannot tell which order a plan
will take and learns both. Written in the request's order, with each lookup right before the
first step that needs it (core.dag.just_in_time), a plan has one order, read off the request.

Where the request asks for a step is found in its words: the first place it spells out one of
the step's own arguments in quotes (a title, a file), else the most telling word for the step's
app ("reply", "note", "directions"), else one of its arguments unquoted, else one of the
arguments of the steps it needs (the person looked up). A step found nowhere keeps its place
after the step written before it. The words are a heuristic, right for most plans, and a plan it
misorders is still the same graph.

Measured (README, "Our own planner"): a sitting trained so wrote 179 of 217 test plans in the
request's order against 158 and planned 105 of them right against 109 with just-in-time alone,
so it is an option (`--order request`), not the shipped recipe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tinyagent.core.dag import final_steps, just_in_time
from tinyagent.core.plan import Plan, Task

MIN_LENGTH = 3  # shorter arguments ("", "d", "w") are not words of the request

# Words a request uses for a step's app, the most telling first: checked when the request quotes
# none of the step's arguments. (bench_toolrag.py's APP_WORDS are per app, for another question.)
STEP_WORDS: Mapping[str, tuple[str, ...]] = {
    "send_sms": ("sms", "text message", "message", "text"),  # "message" also says email, seldom
    "compose_new_email": ("email", "mail"),
    "reply_to_email": ("reply", "respond"),
    "forward_email": ("forward",),
    "create_note": ("note",),
    "append_note_content": ("append", "note"),
    "open_note": ("note",),
    "create_reminder": ("remind",),
    "create_calendar_event": ("calendar", "invite", "schedule", "meeting", "event"),
    "maps_show_directions": ("direction", "route"),
    "maps_open_location": ("map", "location"),
    "get_zoom_meeting_link": ("zoom",),
    "summarize_pdf": ("summar",),
    "open_and_get_file_path": ("file", "open"),
    "get_email_address": ("email",),
    "get_phone_number": ("phone", "number"),
}


def plain_strings(value: object) -> Iterator[str]:
    """The plain strings among a step's arguments (a `$N` template is the model's text, not the request's)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from plain_strings(item)


def _first(query: str, words: Iterator[str], before: str = "") -> int | None:
    """The earliest place `query` (lower case) says one of `words`, each preceded by `before`.
    With `before='"'` only a quoted argument counts ("Gift Ideas"): a title or file said once,
    where it is asked for; an unquoted one may echo an earlier clause ("the team event ... an event")."""
    found = [query.find(before + w) for w in (w.strip().lower() for w in words) if len(w) >= MIN_LENGTH]
    found = [at for at in found if at >= 0]
    return min(found) if found else None


def _app_word(query: str, tool: str) -> int | None:
    """Where the request first uses the most telling word for the step's app that it uses at all."""
    for word in STEP_WORDS.get(tool, ()):
        at = query.find(word)
        if at >= 0:
            return at
    return None


def asked_at(query: str, task: Task, by_id: Mapping[int, Task]) -> int | None:
    """Where `query` asks for `task`: an offset into it, or None where it says nothing of it."""
    query = query.lower()
    for at in (_first(query, plain_strings(task.args), before='"'), _app_word(query, task.tool),
               _first(query, plain_strings(task.args)),
               _first(query, (s for dep in task.deps if dep in by_id for s in plain_strings(by_id[dep].args)))):
        if at is not None:
            return at
    return None


def request_order(query: str, plan: Plan) -> list[int]:
    """Task ids: the steps nothing needs in the order `query` asks for them (ties and steps it
    does not mention keep their written order), each preceded by what it needs, just in time."""
    by_id = {t.id: t for t in plan.tasks}
    keyed: list[tuple[int, int, int]] = []
    last = -1
    for index, task_id in enumerate(final_steps(plan)):
        at = asked_at(query, by_id[task_id], by_id)
        last = last if at is None else at
        keyed.append((last, index, task_id))
    return just_in_time(plan, [task_id for _, _, task_id in sorted(keyed)])
