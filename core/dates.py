"""The day a request asks for, and a plan's dates set to it.

The tuned planner ignores the date in its prompt (the dates of its training plans were never
relative to the prompt's), so for "tomorrow" it writes some day of 2023 or 2024; other models
slip too. When the request names exactly one day in words ("today", "tomorrow", "next Friday",
"in 3 days"), `request_day` finds it, and `DateAnchor` moves each step's date-and-time
arguments (the parameters a tool marks `when`) to that day, keeping the times the model wrote
and the distance between a start and an end. A request that names a date itself ("March 5",
"2024-05-07") or more than one day is left to the model: nothing is guessed.

"Friday" and "this Friday" are the first Friday from today on, "next Friday" the first after
today; the approval prompt shows the weekday, so the user sees which was meant.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tinyagent.core.plan import Task
from tinyagent.tools.spec import ToolSpec

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = "|".join(WEEKDAYS)

# Phrases about the past say which email or note, not when something happens: they are skipped.
_PAST = re.compile(rf"\b(?:yesterday|last\s+(?:week|month|year|{_DAY_NAMES}))\b")
# A date written out, or a span with no one day: the request is left to the model.
_NO_ONE_DAY = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}\b"
    rf"|\b(?:{'|'.join(_MONTHS)})[a-z]*\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{'|'.join(_MONTHS)})"
    r"|\b(?:next|this|coming|following)\s+(?:week|month|year|weekend)\b|\bweekend\b|\bevery\b")
_PHRASES = re.compile(
    r"\b(?P<after>day\s+after\s+tomorrow)\b"
    r"|\b(?P<tomorrow>tomorrow)\b"
    r"|\b(?P<today>today|tonight|this\s+(?:morning|afternoon|evening))\b"
    rf"|\b(?:(?P<which>this|next|coming)\s+|on\s+)?(?P<weekday>{_DAY_NAMES})\b"
    rf"|\bin\s+(?P<count>\d+|{'|'.join(_COUNTS)})\s+(?P<unit>days?|weeks?)\b")


def request_day(request: str, today: dt.date) -> tuple[dt.date, str] | None:
    """The one day `request` names in words, with the words; None for none, several or a written date."""
    text = _PAST.sub(" ", request.lower().replace("\u2019", "'"))
    if _NO_ONE_DAY.search(text):
        return None
    found: dict[dt.date, str] = {}
    for m in _PHRASES.finditer(text):
        found.setdefault(_day_of(m, today), " ".join(m.group(0).split()))
    if len(found) != 1:
        return None
    return next(iter(found.items()))


def _day_of(m: re.Match[str], today: dt.date) -> dt.date:
    if m["after"]:
        return today + dt.timedelta(days=2)
    if m["tomorrow"]:
        return today + dt.timedelta(days=1)
    if m["today"]:
        return today
    if m["weekday"]:
        ahead = (WEEKDAYS.index(m["weekday"]) - today.weekday()) % 7
        if ahead == 0 and m["which"] == "next":
            ahead = 7
        return today + dt.timedelta(days=ahead)
    count = int(m["count"]) if m["count"].isdigit() else _COUNTS[m["count"]]
    return today + dt.timedelta(days=count * (7 if m["unit"].startswith("week") else 1))


_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})((?:[ T]\d{2}:\d{2}(?::\d{2})?)?)")


@dataclass(frozen=True)
class Moved:
    """A step whose dates were set to the request's day: what it said before, for the notice."""

    task: Task
    before: str
    words: str


class DateAnchor:
    """Sets the date-and-time arguments of a plan's steps to the day the request names.

    Only plain 'YYYY-MM-DD HH:MM:SS' strings move (a `$N` or a template is left as it is), and
    a step's first such argument decides the shift, so an end stays as long after its start.
    """

    def __init__(self, registry: Mapping[str, ToolSpec], request: str, today: dt.date):
        self._when = {name: tuple(i for i, p in enumerate(spec.params) if p.when) for name, spec in registry.items()}
        self._day = request_day(request, today)

    def anchor(self, task: Task) -> Moved | None:
        """The task with its dates on the request's day (None when nothing moves)."""
        if self._day is None:
            return None
        day, words = self._day
        stamps = {i: stamp for i in self._when.get(task.tool, ()) if i < len(task.args)
                  if (stamp := _stamp(task.args[i])) is not None}
        if not stamps:
            return None
        shift = day - next(iter(stamps.values()))[0]
        if not shift:
            return None
        args = list(task.args)
        for i, (date, time) in stamps.items():
            args[i] = (date + shift).isoformat() + time
        first = next(iter(stamps))
        return Moved(replace(task, args=tuple(args)), task.args[first], words)


def _stamp(value: object) -> tuple[dt.date, str] | None:
    """A plain 'YYYY-MM-DD[ HH:MM[:SS]]' argument as (its day, the rest of its text), else None."""
    m = _STAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        return None
    try:
        return dt.date.fromisoformat(m[1]), m[2]
    except ValueError:
        return None


def moved_note(moved: Moved) -> str:
    """The notice for a step whose dates moved."""
    task = moved.task
    return (f"step {task.id} ({task.tool}): dated {moved.before!r} by the model; set to the day the request "
            f"says ({moved.words!r})")
