"""LLMCompiler plans: tasks whose arguments may refer to earlier tasks' outputs.

    1. get_email_address("Sid")
    2. create_calendar_event("Sync", "2024-06-07 15:00:00", "", "", ["$1"], "", None)
    3. join()<END_OF_PLAN>

`"$1"` alone is a `Ref` (the typed output of task 1); `"Link: $2"` is a `Template`
(the output interpolated as text). Parsing lives in `core.parser`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

END_OF_PLAN = "<END_OF_PLAN>"
JOIN = "join()"


@dataclass(frozen=True)
class Ref:
    """A whole argument (or list item) that is the output of task `task_id`."""

    task_id: int


@dataclass(frozen=True)
class Template:
    """A string with `$N` references inside it, interpolated as text."""

    parts: tuple[str | Ref, ...]


Value = Any  # str | int | float | bool | None | Ref | Template | list[Value]

MAX_TASK_ID = 999_999  # task numbers have at most 6 digits: longer ones are errors, not huge ints
_WHOLE_REF_RE = re.compile(r"\$\{(\d{1,6})\}|\$(\d{1,6})")
_IN_TEXT_RE = re.compile(r"\$\$|\$\{(\d{1,6})\}|\$(\d{1,6})(?!\d)")


def parse_string_value(s: str, earlier: Collection[int] | None = None) -> str | Ref | Template:
    """Turn a string literal into a plain string, a Ref or a Template.

    A whole argument `"$N"` is always the output of task N. Inside longer text, `${N}` always
    refers to task N, while a bare `$N` does only when N is one of the `earlier` tasks of the
    plan (None: any N); otherwise it is text, so "Lunch was $2 each" keeps its price when no
    task 2 comes before it. `$$` is a literal dollar sign wherever it appears.
    """
    if "$" not in s:
        return s
    whole = _WHOLE_REF_RE.fullmatch(s)
    if whole:
        return Ref(int(whole.group(1) or whole.group(2)))
    parts: list[str | Ref] = []
    text: list[str] = []
    pos = 0
    for m in _IN_TEXT_RE.finditer(s):
        text.append(s[pos : m.start()])
        pos = m.end()
        braced, bare = m.group(1), m.group(2)
        if braced is None and (bare is None or (earlier is not None and int(bare) not in earlier)):
            text.append("$" if bare is None else m.group(0))  # `$$`, or a `$N` that is just text
            continue
        if text and "".join(text):
            parts.append("".join(text))
        text = []
        parts.append(Ref(int(braced or bare)))
    text.append(s[pos:])
    if "".join(text):
        parts.append("".join(text))
    if not any(isinstance(p, Ref) for p in parts):
        return "".join(p for p in parts if isinstance(p, str))
    return Template(tuple(parts))


def escape_dollars(text: str, ref_follows: bool = False) -> str:
    """Text written so that parse_string_value reads it back as the same text (`$2` -> `$$2`).

    `ref_follows`: a reference is written right after this text, so a `$` at its very end is
    doubled too ("C$" then task 1's output is `C$$$1`, never `C$$1`, the literal text `$1`).
    """
    if "$" not in text:
        return text
    return re.sub(r"\$(?=[\d{$]|\Z)" if ref_follows else r"\$(?=[\d{$])", "$$", text)


def iter_refs(value: Value) -> Iterator[int]:
    if isinstance(value, Ref):
        yield value.task_id
    elif isinstance(value, Template):
        for part in value.parts:
            if isinstance(part, Ref):
                yield part.task_id
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_refs(item)


@dataclass(frozen=True)
class Task:
    id: int
    tool: str
    args: tuple[Value, ...]
    line: int = field(default=0, compare=False)  # 1-based line in the source text
    thought: str | None = None  # the model's `Thought:` before this task
    comment: str | None = None  # a trailing `# ...` the model wrote

    @property
    def deps(self) -> tuple[int, ...]:
        """Ids of the tasks this one needs, in order of first use, without repeats."""
        return tuple(dict.fromkeys(r for a in self.args for r in iter_refs(a)))

    def to_text(self) -> str:
        return f"{self.id}. {self.tool}({', '.join(format_value(a) for a in self.args)})"


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in a plan: `line` is 1-based (0 when it concerns the whole plan)."""

    line: int
    message: str
    severity: str = "error"  # "error" or "warning"
    task_id: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "plan"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Plan:
    tasks: tuple[Task, ...]
    joined: bool = True  # ended with join()
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)
    errors: tuple[Diagnostic, ...] = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def task(self, task_id: int) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    @property
    def tools(self) -> list[str]:
        return [t.tool for t in self.tasks]

    def to_text(self) -> str:
        return serialize(self)


def _format_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    # The parser ends a plan at the marker wherever it stands, inside a string too.
    return "".join(out).replace(END_OF_PLAN, "\\x3c" + END_OF_PLAN[1:])


def format_value(value: Value) -> str:
    """Write a value as the model writes it: double-quoted strings, `$N` for references."""
    if isinstance(value, Ref):
        return f'"${value.task_id}"'
    if isinstance(value, Template):
        pieces = []
        for part, after in zip(value.parts, (*value.parts[1:], None)):
            if isinstance(part, Ref):  # ${N} keeps the reference unambiguous when digits follow it
                pieces.append(f"${{{part.task_id}}}" if str(after or "")[:1].isdigit() else f"${part.task_id}")
            else:
                pieces.append(escape_dollars(part, ref_follows=isinstance(after, Ref)))
        return _format_str("".join(pieces))
    if isinstance(value, str):
        return _format_str(escape_dollars(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"cannot write a plan argument of type {type(value).__name__}")


def serialize(plan: Plan, *, thoughts: bool = True, comments: bool = True) -> str:
    """The plan as text; `core.parser.parse_plan(serialize(p)) == p`."""
    lines: list[str] = []
    for task in plan.tasks:
        if thoughts and task.thought:
            lines.append(f"Thought: {task.thought}")
        line = task.to_text()
        if comments and task.comment:
            line += f"  # {task.comment}"
        lines.append(line)
    if plan.joined:
        next_id = (plan.tasks[-1].id + 1) if plan.tasks else 1
        lines.append(f"{next_id}. {JOIN}{END_OF_PLAN}")
    return "\n".join(lines) + "\n"
