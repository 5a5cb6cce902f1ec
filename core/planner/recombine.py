"""Training rows made anew from clauses of other rows (Recombiner).

The model learns the 772 training plans by heart: a training request, seen whole, recalls its
whole plan, and what it misses on held-out requests is structure (a clause left out, a lookup
too few). TinyAgent's requests are lists of clauses ("Open the note ..., reply to ..., and send
an SMS to ..."), and a plan falls into pieces joined by `$N`, one piece per clause. Where a row
splits cleanly that way, its clauses become units (the clause's words and its piece of the
plan), and a recombined row asks 2-4 units of different rows in one request, as TinyAgent's
requests do, with the plan their pieces make, renumbered, a person looked up by two units looked
up once. No whole request is ever seen again as it was, so the model has to plan clause by clause.

A row splits only where nothing is in doubt: as many clauses as pieces, each piece's actions
asked (core/planner/request_order.py) inside one clause of its own, in order, every clause
starting with a verb ("After sending the email, forward ..." does not split) and naming its
piece's actions itself. Quoted text is
never cut.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tinyagent.core.dag import final_steps, plan_graph, renumber
from tinyagent.core.plan import Plan, Task
from tinyagent.core.planner.augment import MAX_COMBINED_TASKS, combined_plan, reparsed
from tinyagent.core.planner.request_order import STEP_WORDS, asked_at, plain_strings

# Where one clause ends and the next begins: a comma or semicolon (with "and", "then", "also"
# after it), a sentence break (with "Then,", "Also,", "Finally," ...), or a bare "and then"/"then".
_BREAK = re.compile(
    r"(?:[,;]\s*(?:and\s+)?(?:then\s+)?(?:also\s+)?"
    r"|\.\s+(?:(?:Then|Also|After that|Finally|Additionally|Lastly|Next),?\s+)?"
    r"|\s+and\s+then\s+|\s+then\s+)(?=[A-Za-z])")
_QUOTED = re.compile(r'"[^"]*"')
_VERB = re.compile(r"(?:add|append|check|compose|create|draft|email|find|forward|generate|get|look|make|message|"
                   r"open|please|remind|reply|respond|schedule|send|set|share|show|summarize|text|update|write)\b",
                   re.IGNORECASE)
# Between two units, and before the last one: the ways TinyAgent's requests join their clauses.
GAPS = (", ", ", then ", ". Also, ", ". Then, ", ". After that, ")
LAST_GAPS = (", and ", ", and then ", ". Finally, ", ". Additionally, ", " and ")


@dataclass(frozen=True)
class Unit:
    """One clause of a request and the piece of its plan that the clause asks for."""

    text: str
    plan: Plan  # the piece alone, numbered 1..n
    row: int  # which training row it came from: a recombined request never asks two of one row


def clause_spans(query: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of `query`, cut at _BREAK outside quoted text."""
    quoted = [m.span() for m in _QUOTED.finditer(query)]
    cuts = [m for m in _BREAK.finditer(query) if not any(a <= m.start() < b for a, b in quoted)]
    spans, start = [], 0
    for cut in cuts:
        spans.append((start, cut.start()))
        start = cut.end()
    spans.append((start, len(query)))
    return [(a, b) for a, b in spans if query[a:b].strip(" .")]


def pieces(plan: Plan) -> list[list[int]]:
    """The plan's steps in groups joined by `$N` (weakly connected), in the order they start."""
    import networkx as nx  # here, as in core/dag.py: the CLI's --help must not load it

    groups = nx.weakly_connected_components(plan_graph(plan))
    return sorted((sorted(group) for group in groups), key=lambda group: group[0])


def units_of(query: str, plan: Plan, row: int = 0) -> list[Unit] | None:
    """The request's clauses with their pieces of the plan, in the request's order, or None
    where the request does not split cleanly (see the module's docstring)."""
    spans = clause_spans(query)
    groups = pieces(plan)
    if len(spans) != len(groups):
        return None
    by_id = {t.id: t for t in plan.tasks}
    sinks = set(final_steps(plan))
    clause_of_group: list[int] = []
    for group in groups:
        where = set()
        for task_id in group:
            if task_id not in sinks:
                continue
            at = asked_at(query, by_id[task_id], by_id)
            if at is None:
                return None
            where.add(next((i for i, (a, b) in enumerate(spans) if a <= at < b), -1))
        if len(where) != 1:
            return None
        clause_of_group.append(where.pop())
    if sorted(clause_of_group) != list(range(len(spans))):
        return None
    units: list[Unit | None] = [None] * len(spans)
    for group, clause in zip(groups, clause_of_group):
        a, b = spans[clause]
        text = query[a:b].strip(" .")
        if not _VERB.match(text) or not all(_names(text, by_id[i]) for i in group if i in sinks):
            return None
        piece = Plan(tasks=tuple(by_id[i] for i in group), joined=True)
        units[clause] = Unit(text, renumber(piece, group), row)
    return [u for u in units if u is not None]


def _names(clause: str, task: Task) -> bool:
    """Whether the clause itself names the step: its app's word or one of its own arguments
    ("find John's phone number" asks for a lookup, not for the text message that uses it)."""
    clause = clause.lower()
    own = (s.lower() for s in plain_strings(task.args) if len(s) >= 3)
    return any(w in clause for w in STEP_WORDS.get(task.tool, ())) or any(s in clause for s in own)


def recombined_request(texts: list[str], rng: random.Random) -> str:
    """The clauses asked as one request: "A, B, and C." with the gaps drawn from GAPS/LAST_GAPS."""
    parts = [texts[0][0].upper() + texts[0][1:]]
    for i, text in enumerate(texts[1:], start=1):
        gap = rng.choice(LAST_GAPS if i == len(texts) - 1 else GAPS)
        parts.append(gap + (text[0].lower() + text[1:] if _VERB.match(text) else text))  # "Also, send ..."
    return "".join(parts) + "."


class Recombiner:
    """Draws requests made of clauses of different training rows, with their plans."""

    def __init__(self, rows: Iterable[tuple[str, Plan]]):
        self.units = [u for row, (query, plan) in enumerate(rows) for u in (units_of(query, plan, row) or [])]

    def recombine(self, query: str, plan: Plan, rng: random.Random) -> tuple[str, Plan]:
        """A request of as many clauses as this row's plan has pieces (2-4), no two of one row;
        the row as given when none can be drawn."""
        if len(self.units) < 8:  # a pool this small would mostly repeat its own rows
            return query, plan
        wanted = min(max(len(pieces(plan)), 2), 4)
        chosen: list[Unit] = []
        for _ in range(40):  # draws that clash (a row twice, too many steps) are drawn again
            unit = rng.choice(self.units)
            steps = sum(len(u.plan.tasks) for u in chosen) + len(unit.plan.tasks)
            if unit.row in {u.row for u in chosen} or steps > MAX_COMBINED_TASKS:
                continue
            chosen.append(unit)
            if len(chosen) == wanted:
                break
        if len(chosen) < 2:
            return query, plan
        merged = chosen[0].plan
        for unit in chosen[1:]:
            merged = combined_plan(merged, unit.plan)
        again = reparsed(merged)
        if again is None:
            return query, plan
        return recombined_request([u.text for u in chosen], rng), again

