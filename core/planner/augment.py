"""Training rows made anew: names swapped (Swapper), or two requests asked as one (Combiner).

Swapping: the same request and plan about other people, files and places.

The shared plans are few (~770 to train on) and the model learns them by heart within a few
epochs: it starts to tie "John" to get_email_address and "Gift Shop" to maps_open_location.
A swapped row keeps the request's words and the plan's shape and changes what the plan copies
from the request: every argument that the request spells out verbatim (a person, a file, a
place, a folder, a title, an email address, a phone number) is replaced, in the request and
everywhere in the plan (message texts and `$N` templates included), by another value of the same
kind taken from other training rows. A swap that would change the plan's graph, or that the
parser refuses, is not made: the row is used as it is.

Combining: the model's misses on held-out requests are structural (a clause left out, a
lookup too few or of the wrong kind), and it knows each training plan whole by heart. A
combined row asks two training requests in one ("..., then ..."): its plan is the first plan
followed by the second, renumbered, a person looked up in both looked up once (as TinyAgent's
plans do). So a plan must be built clause by clause, in combinations no row shows.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from tinyagent.core.dag import plans_isomorphic
from tinyagent.core.lookup_steps import lookup_of, renumbered
from tinyagent.core.parser import PlanError, parse_plan
from tinyagent.core.plan import Plan, Ref, Task, Template, serialize
from tinyagent.tools.registry import REGISTRY

# (tool, parameter) -> kind; a value is only ever replaced by one of its own kind.
KINDS: Mapping[tuple[str, str], str] = {
    ("get_phone_number", "name"): "person",
    ("get_email_address", "name"): "person",
    ("open_and_get_file_path", "file_name"): "file",
    ("maps_open_location", "location"): "place",
    ("maps_show_directions", "start_location"): "place",
    ("maps_show_directions", "end_location"): "place",
    ("create_calendar_event", "location"): "place",
    ("create_note", "folder"): "folder",
    ("append_note_content", "folder"): "folder",
    ("create_reminder", "list_name"): "folder",
    ("create_note", "name"): "title",
    ("append_note_content", "name"): "title",
    ("create_reminder", "name"): "title",
    ("create_calendar_event", "title"): "title",
    ("compose_new_email", "subject"): "title",
    ("get_zoom_meeting_link", "topic"): "title",
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?[\d() -]{7,}")
MIN_LENGTH = 2  # a one-letter value would be found inside other words


def _entities(query: str, plan: Plan) -> dict[str, str]:
    """value -> kind, for each plain-string argument of a known kind the request spells out."""
    found: dict[str, str] = {}
    for task in plan.tasks:
        spec = REGISTRY.get(task.tool)
        names = [p.name for p in spec.params] if spec is not None else []
        for name, value in zip(names, task.args, strict=False):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if not isinstance(item, str) or len(item) < MIN_LENGTH or item in found:
                    continue
                kind = KINDS.get((task.tool, name))
                if kind is None and isinstance(value, list):
                    kind = "email" if _EMAIL.fullmatch(item) else "phone" if _PHONE.fullmatch(item) else None
                if kind == "person" and not item[0].isupper():
                    kind = None  # "invitees", "team": words standing in for people, not names
                if kind and _words(item).search(query):
                    found[item] = kind
    return found


def _words(*values: str) -> re.Pattern[str]:
    """Any of `values` as whole words (longer first, so "John Doe" wins over "John")."""
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


class Swapper:
    """Pools of values by kind, gathered from training rows only."""

    def __init__(self, rows: Iterable[tuple[str, Plan]]):
        """`rows`: (request, plan) pairs."""
        pools: dict[str, set[str]] = defaultdict(set)
        for query, plan in rows:
            for value, kind in _entities(query, plan).items():
                pools[kind].add(value)
        self.pools = {kind: sorted(values) for kind, values in pools.items()}

    def swap(self, query: str, plan: Plan, rng: random.Random) -> tuple[str, Plan]:
        """The request and plan with each verbatim value replaced; as given if no swap holds."""
        found = _entities(query, plan)
        if not found:
            return query, plan
        mapping: dict[str, str] = {}
        taken = set(found)
        for value in sorted(found, key=len, reverse=True):  # longer first: "John Doe" before "John"
            pool = [v for v in self.pools.get(found[value], ()) if v not in taken and v not in query]
            if not pool:
                continue
            mapping[value] = rng.choice(pool)
            taken.add(mapping[value])
        if not mapping:
            return query, plan
        swapped = reparsed(_swap_plan(plan, mapping))
        if swapped is None or not plans_isomorphic(swapped, plan):
            return query, plan
        return _replace(query, mapping), swapped


def reparsed(plan: Plan) -> Plan | None:
    """`plan` as the parser reads it back (what training writes as the target), None if refused."""
    try:
        again = parse_plan(serialize(plan, thoughts=False, comments=False))
    except PlanError:
        return None
    return again if again.ok else None


def _replace(text: str, mapping: Mapping[str, str]) -> str:
    return _words(*mapping).sub(lambda m: mapping[m.group(0)], text)


def _swap_value(value: object, mapping: Mapping[str, str]) -> object:
    if isinstance(value, str):
        return _replace(value, mapping)
    if isinstance(value, list):
        return [_swap_value(v, mapping) for v in value]
    if isinstance(value, Template):
        return Template(tuple(p if isinstance(p, Ref) else _replace(p, mapping) for p in value.parts))
    return value


def _swap_plan(plan: Plan, mapping: Mapping[str, str]) -> Plan:
    tasks = tuple(Task(t.id, t.tool, tuple(_swap_value(a, mapping) for a in t.args)) for t in plan.tasks)
    return Plan(tasks=tasks, joined=plan.joined)


# -- two requests as one ------------------------------------------------------------------------
JOINERS = ("Also, ", "Then, ", "Additionally, ", "After that, ")
MAX_COMBINED_TASKS = 8  # the longest plan in the shared data: longer ones teach a length never asked for
_VERB = re.compile(r"(?:add|append|check|compose|create|email|find|forward|get|look|open|please|remind|reply|"
                   r"schedule|send|set|share|show|summarize|text|update)\b", re.IGNORECASE)


def combined_plan(first: Plan, second: Plan) -> Plan:
    """`first`'s tasks, then `second`'s renumbered after them; a lookup both make is made once."""
    tasks = list(first.tasks)
    lookups = {key: t.id for t in tasks if (key := lookup_of(t)) is not None}
    ids: dict[int, int] = {}
    for task in second.tasks:
        key = lookup_of(task)
        if key is not None and key in lookups:
            ids[task.id] = lookups[key]
            continue
        ids[task.id] = len(tasks) + 1
        tasks.append(Task(ids[task.id], task.tool, tuple(renumbered(a, ids) for a in task.args)))
        if key is not None:
            lookups[key] = ids[task.id]
    return Plan(tasks=tuple(tasks), joined=True)


def combined_request(first: str, second: str, joiner: str) -> str:
    first = first.rstrip()
    if first and first[-1] not in ".!?":
        first += "."
    second = second.strip()
    if _VERB.match(second):  # "Also, send ..." but "Also, John's email ..." keeps its capital
        second = second[0].lower() + second[1:]
    return f"{first} {joiner}{second}"


class Combiner:
    """Pairs a row with another training row whose plan fits beside it (MAX_COMBINED_TASKS)."""

    def __init__(self, rows: Iterable[tuple[str, Plan]]):
        self.rows = list(rows)

    def combine(self, query: str, plan: Plan, rng: random.Random) -> tuple[str, Plan]:
        """The row asked together with another; as given when no other row fits beside it."""
        room = MAX_COMBINED_TASKS - len(plan.tasks)
        partners = [(q, p) for q, p in self.rows if len(p.tasks) <= room and q != query]
        if not partners:
            return query, plan
        other_query, other_plan = rng.choice(partners)
        merged = reparsed(combined_plan(plan, other_plan))
        if merged is None:
            return query, plan
        return combined_request(query, other_query, rng.choice(JOINERS)), merged
