"""Lookups as steps of their own: a name where an address, a number or a path belongs.

A planner sometimes writes `compose_new_email(["John"], ...)`. The tools look such a name up
when they run (Param.resolve, as TinyAgent's own tools do), so the call works, but the plan
hides a step: the graph shows no contact lookup, it cannot run beside the others, and the
plan is not the one TinyAgent's plans are written as (in the 1,106 shared plans a name stands
in such a place 6 times, a `$N` of a lookup ~2,600 times). `LookupSteps` makes the hidden
step explicit, as the plan streams: `get_email_address("John")` comes in as a step of its own
right before the call that needs it (or an earlier lookup of the same name is reused), the
call takes its `$N`, and the model's later steps are renumbered to match. Nothing else of the
plan changes; the text the model wrote stays as it wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from tinyagent.core.plan import Ref, Task, Template, Value
from tinyagent.tools.args import looks_like_email
from tinyagent.tools.spec import EMAIL, LIST_STR, PATH, PHONE, STR, ToolSpec

# The step that turns a name into what the parameter needs, and when a value needs none.
LOOKUP_TOOL: Mapping[str, str] = {EMAIL: "get_email_address", PHONE: "get_phone_number", PATH: "open_and_get_file_path"}
_WHAT = {EMAIL: "an email address", PHONE: "a phone number", PATH: "a file path"}
_WORD = re.compile(r"[^\W\d_]+")  # a word of letters, any script
_ALREADY = {
    EMAIL: looks_like_email,
    PHONE: lambda text: any(c.isdigit() for c in text),  # TinyAgent's test for "already a number"
    PATH: lambda text: text.startswith(("/", "~")),
}


class LookupSteps:
    """Feed it a plan's tasks in order; it returns them renumbered, with lookup steps added.

    Only where the lookup tool is in `registry` (the tools the plan may use).
    """

    def __init__(self, registry: Mapping[str, ToolSpec]):
        self.registry = registry
        self.tasks: list[Task] = []  # what came out so far
        self._ids: dict[int, int] = {}  # the model's step number -> ours
        self._lookups: dict[tuple[str, str], int] = {}  # (lookup tool, name) -> our step number

    def feed(self, task: Task) -> list[Task]:
        out: list[Task] = []
        args = tuple(renumbered(a, self._ids) for a in task.args)
        spec = self.registry.get(task.tool)
        if spec is not None:
            args = tuple(self._explicit(param.resolve, param.type, value, out)
                         for param, value in zip(spec.params, args, strict=False)) + args[len(spec.params):]
        new = Task(len(self.tasks) + len(out) + 1, task.tool, args, line=task.line, thought=task.thought,
                   comment=task.comment)
        self._ids[task.id] = new.id
        key = lookup_of(new)
        if key is not None:
            self._lookups.setdefault(key, new.id)
        out.append(new)
        self.tasks.extend(out)
        return out

    def feed_all(self, tasks: Iterable[Task]) -> tuple[Task, ...]:
        for task in tasks:
            self.feed(task)
        return tuple(self.tasks)

    def _explicit(self, resolve: str, kind: str, value: Value, out: list[Task]) -> Value:
        tool = LOOKUP_TOOL.get(resolve)
        if tool is None or tool not in self.registry:
            return value
        if kind == LIST_STR and isinstance(value, list):
            return [self._step_for(tool, resolve, item, out) for item in value]
        if kind == STR:
            return self._step_for(tool, resolve, value, out)
        return value

    def _step_for(self, tool: str, resolve: str, value: Value, out: list[Task]) -> Value:
        if not isinstance(value, str) or not value.strip() or _ALREADY[resolve](value.strip()):
            return value  # a reference, a template, nothing, or already an address/number/path
        name = value.strip()
        if (tool, name) not in self._lookups:
            step = Task(len(self.tasks) + len(out) + 1, tool, (name,))
            out.append(step)
            self._lookups[(tool, name)] = step.id
        return Ref(self._lookups[(tool, name)])


def lookup_of(task: Task) -> tuple[str, str] | None:
    """(lookup tool, name) where `task` looks a name up, else None."""
    if task.tool in LOOKUP_TOOL.values() and len(task.args) == 1 and isinstance(task.args[0], str):
        return task.tool, task.args[0].strip()
    return None


def unnamed_person(task: Task, request: str) -> str | None:
    """The name a contact lookup looks up where the request never names that person, else None.

    A small planner sometimes invents someone ("John Doe", a name from its training plans):
    the lookup then finds a real contact of that name, and a message would go to them. Any word
    of the name in the request counts as named ("John" for "John Carter", "team", "Alice's")."""
    key = lookup_of(task)
    if key is None or key[0] == LOOKUP_TOOL[PATH] or not request:
        return None
    said = set(_WORD.findall(request.lower()))
    words = [w for w in _WORD.findall(key[1].lower()) if len(w) > 1]
    return None if not words or any(w in said for w in words) else key[1]


def unnamed_note(step: Task, name: str) -> str:
    """What the user is told of a lookup of someone the request does not name."""
    return f"step {step.id} looks up {name!r}, whom the request does not name: check who it reaches before approving"


def added_note(step: Task, for_task: Task) -> str:
    """What the user is told of a lookup step the model did not write."""
    kind = next(k for k, tool in LOOKUP_TOOL.items() if tool == step.tool)
    return (f"step {step.id} added: {step.to_text().split('. ', 1)[1]}, as step {for_task.id} ({for_task.tool}) "
            f"names {step.args[0]!r} where {_WHAT[kind]} belongs (planner.lookup_steps)")


def renumbered(value: Value, ids: Mapping[int, int]) -> Value:
    """`value` with its references to task k pointing at ids[k] (others as they are)."""
    if isinstance(value, Ref):
        return Ref(ids.get(value.task_id, value.task_id))
    if isinstance(value, Template):
        return Template(tuple(Ref(ids.get(p.task_id, p.task_id)) if isinstance(p, Ref) else p for p in value.parts))
    if isinstance(value, list):
        return [renumbered(v, ids) for v in value]
    return value
