"""Training rows with their names swapped: the same request and plan about other people, files and places.

The shared plans are few (~770 to train on) and the model learns them by heart within a few
epochs: it starts to tie "John" to get_email_address and "Gift Shop" to maps_open_location.
A swapped row keeps the request's words and the plan's shape and changes what the plan copies
from the request: every argument that the request spells out verbatim (a person, a file, a
place, a folder, a title, an email address, a phone number) is replaced, in the request and
everywhere in the plan (message texts and `$N` templates included), by another value of the same
kind taken from other training rows. A swap that would change the plan's graph, or that the
parser refuses, is not made: the row is used as it is.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from tinyagent.core.dag import plans_isomorphic
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
        try:
            swapped = parse_plan(serialize(_swap_plan(plan, mapping), thoughts=False, comments=False))
        except PlanError:
            return query, plan
        if not swapped.ok or not plans_isomorphic(swapped, plan):
            return query, plan
        return _replace(query, mapping), swapped


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
