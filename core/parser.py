"""Read LLMCompiler plans as the model writes them, whole or a chunk at a time.

Feed text in pieces of any size; each task comes out the moment its line is complete, so the
executor can start it while the model is still writing. Arguments are Python literals read
with `ast.literal_eval`: nothing in a plan is ever evaluated as code.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Collection, Mapping

from tinyagent.core.plan import (
    END_OF_PLAN,
    MAX_TASK_ID,
    Diagnostic,
    Plan,
    Ref,
    Task,
    Template,
    Value,
    iter_refs,
    parse_string_value,
)
from tinyagent.tools.registry import BOOL, INT, LIST_STR, REGISTRY, STR, ToolSpec

_NUMBERED = re.compile(r"^\s*(\d+)\s*[.:)]\s*(.*)$")
_CALL_START = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_THOUGHT = re.compile(r"^\s*thought\s*:\s*(.*)$", re.IGNORECASE)
# No two unbounded repeats in a row may match the same character: `\s*;?\s*` once tried every
# split of a run of spaces (n^2 steps: 12 s for one 20 KB line, on every keystroke of the editor).
_JOIN = re.compile(r"^join\s*\(\s*\)\s*(?:;\s*)?(?:#.*)?$")
_MAX_LINE = 20_000  # longer lines are refused rather than parsed
_MARKER_START = len(END_OF_PLAN) - 1  # how much of a line's end may hold the marker's first part
MAX_INT = 2**63 - 1  # what SQLite and JSON readers hold exactly enough; larger numbers are refused


class PlanError(ValueError):
    """A plan that cannot run; `diagnostics` say what is wrong, line by line."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "invalid plan")


class _ArgError(ValueError):
    pass


def _convert(value: object, earlier: Collection[int] | None = None) -> Value:
    if isinstance(value, str):
        if _has_surrogate(value):
            raise _ArgError("a string holds a lone surrogate (like \\ud800), which is not text")
        return parse_string_value(value, earlier)
    if isinstance(value, (list, tuple)):
        return [_convert(v, earlier) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise _ArgError(f"the number {str(value)[:20]}… is too large")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _ArgError("numbers must be finite (not inf or nan; 1e999 is too large)")
        return value
    shown = repr(value)
    raise _ArgError(f"unsupported argument {shown[:60]}{'…' if len(shown) > 60 else ''}: "
                    f"use strings, numbers, True/False, None or lists")


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_literal(node: ast.AST) -> str:
    """What in an argument is not a literal, in words (never `<ast.Call object at 0x...>`)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = sub.func.id if isinstance(sub.func, ast.Name) else "a function"
            return f"a call to {name}(...) is not allowed inside arguments"
        if isinstance(sub, ast.Name):
            return f"the bare name {sub.id!r} is not a value; put text in quotes"
        if isinstance(sub, (ast.BinOp, ast.BoolOp, ast.Compare)):
            return "expressions (like a + b) are not allowed; write the value itself"
        if isinstance(sub, ast.JoinedStr):
            return "f-strings are not allowed; use \"$N\" to insert a task's output"
    return f"{type(node).__name__.lower()} is not a literal"


def _parse_call(text: str, earlier: Collection[int] | None = None) -> tuple[str, tuple[Value, ...], str | None]:
    """`name(args)  # comment` -> (name, args, comment). Raises _ArgError with a reason."""
    code = text.strip()
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" is the plan's business, not stderr's
            warnings.simplefilter("ignore")
            node = ast.parse(code, mode="eval").body
    except SyntaxError as exc:
        raise _ArgError(f"the call is not well formed ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _ArgError(f"the call cannot be read ({type(exc).__name__})") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise _ArgError("expected a single tool call like name(arg, ...)")
    if node.keywords:
        raise _ArgError("write arguments in order, without names (no name=value)")
    values = []
    for a in node.args:
        try:
            values.append(ast.literal_eval(a))
        except (ValueError, TypeError, SyntaxError) as exc:
            why = _not_literal(a) if "malformed node" in str(exc) else str(exc)[:120]
            raise _ArgError(f"arguments must be literals (strings, numbers, lists, None): {why}") from None
        except (RecursionError, MemoryError) as exc:
            raise _ArgError(f"an argument cannot be read ({type(exc).__name__})") from None
    args = tuple(_convert(v, earlier) for v in values)
    # Python's parser skips a trailing `# comment`; keep it for the round trip.
    tail = code.encode("utf-8")[node.end_col_offset :].decode("utf-8", "replace").strip()
    comment = tail[1:].strip() or None if tail.startswith("#") else None
    return node.func.id, args, comment


def _type_error(spec: ToolSpec, index: int, value: Value, produced: Mapping[int, str]) -> str | None:
    """Why `value` does not fit parameter `index` of `spec`, or None when it does."""
    param = spec.params[index]
    where = f"argument {index + 1} ({param.name}) of {spec.name}"
    if value is None:
        return None  # "not given" is allowed everywhere
    if param.type == STR:
        if isinstance(value, (str, Ref, Template)):
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None  # a number where text is expected is harmless
        return f"{where} must be a string, got {_describe(value)}"
    if param.type == LIST_STR:
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, (str, Ref, Template)):
                    return f"{where} must be a list of strings, got an item {_describe(item)}"
            return None
        if isinstance(value, Ref):
            return None  # a task output used as the whole list; resolved to a list when run
        return f'{where} must be a list of strings like ["$1"], got {_describe(value)}'
    if param.type == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        if isinstance(value, Ref):
            return None
        return f"{where} must be an integer, got {_describe(value)}"
    if param.type == BOOL:
        if isinstance(value, bool):
            return None
        return f"{where} must be True or False, got {_describe(value)}"
    return None


def _describe(value: Value) -> str:
    if isinstance(value, Ref):
        return f'the reference "${value.task_id}"'
    if isinstance(value, Template):
        return "a string"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]


class PlanParser:
    """Incremental parser: `feed()` chunks, get finished tasks back, then `close()`.

    With a registry (the default: all 16 tools) each task is validated as it completes;
    invalid tasks are reported in `errors` and not returned. `registry=None` skips checks
    that need tool knowledge (names, arity, types).
    """

    def __init__(self, registry: Mapping[str, ToolSpec] | None = REGISTRY):
        self.registry = registry
        self.tasks: list[Task] = []
        self.warnings: list[Diagnostic] = []
        self.errors: list[Diagnostic] = []
        self.joined = False
        self.ended = False  # <END_OF_PLAN> seen
        self._pending: list[str] = []  # the pieces of the line still being written
        self._tail = ""  # its last characters, where a split END_OF_PLAN may have begun
        self._line_no = 0
        self._thought: str | None = None
        self._ids: set[int] = set()
        self._bad_ids: set[int] = set()
        self._last_id = 0
        self._join_line = 0
        self._ignored_after_end = False

    # -- feeding ----------------------------------------------------------------------------
    def feed(self, chunk: str) -> list[Task]:
        if self.ended:
            self._note_trailing(chunk)
            return []
        # A line still being written is kept in pieces and joined once, when it ends: only the
        # new chunk (and the marker's possible start just before it) can end it. Joining and
        # rescanning the whole line on every chunk made a long line, streamed a token at a
        # time, quadratic; scanning with a moving position keeps many lines linear too.
        window = self._tail + chunk
        if "\n" not in chunk and END_OF_PLAN not in window:
            self._pending.append(chunk)
            self._tail = window[-_MARKER_START:]
            return []
        buffer = "".join(self._pending) + chunk
        self._pending, self._tail = [], ""
        done: list[Task] = []
        pos = 0
        marker = buffer.find(END_OF_PLAN)
        while True:
            newline = buffer.find("\n", pos)
            if marker != -1 and (newline == -1 or marker < newline):
                self._line(buffer[pos:marker], done, end=True)
                self.ended = True
                self._note_trailing(buffer[marker + len(END_OF_PLAN):])
                return done
            if newline == -1:
                break
            self._line(buffer[pos:newline], done)
            pos = newline + 1
        rest = buffer[pos:]
        if rest:
            self._pending, self._tail = [rest], rest[-_MARKER_START:]
        return done

    def close(self) -> Plan:
        if not self.ended:
            rest = "".join(self._pending)
            if rest.strip():
                pending: list[Task] = []
                self._line(rest, pending)
            self._pending, self._tail = [], ""
            if self.joined:
                self.warnings.append(Diagnostic(self._join_line, f"join() is not followed by {END_OF_PLAN}", "warning"))
        if not self.joined:
            self.errors.append(
                Diagnostic(self._line_no, f"the plan must end with join(){END_OF_PLAN} after the last task")
            )
        if not self.tasks and not self.errors:
            self.warnings.append(Diagnostic(0, "the plan has no tasks", "warning"))
        return self.plan()

    def plan(self) -> Plan:
        """The plan as read so far."""
        return Plan(tuple(self.tasks), self.joined, tuple(self.warnings), tuple(self.errors))

    # -- one line ---------------------------------------------------------------------------
    def _note_trailing(self, text: str) -> None:
        if text.strip() and not self._ignored_after_end:
            self._ignored_after_end = True
            self.warnings.append(Diagnostic(self._line_no, f"ignored text after {END_OF_PLAN}", "warning"))

    def _line(self, raw: str, done: list[Task], end: bool = False) -> None:
        self._line_no += 1
        n = self._line_no
        text = raw.replace("\r", " ").strip()  # CRLF endings, and a stray CR Python would read as a line break
        if len(text) > _MAX_LINE:
            self.errors.append(Diagnostic(n, f"line is too long ({len(text)} characters)"))
            return
        if _has_surrogate(text):  # never let it reach JSON output or a terminal
            self.errors.append(Diagnostic(n, "the line holds a lone surrogate (invalid text); remove it"))
            return
        if not text:
            if end and not self.joined:
                self.errors.append(Diagnostic(n, f"{END_OF_PLAN} came before join(); end the plan with join(){END_OF_PLAN}"))
            return
        thought = _THOUGHT.match(text)
        if thought:
            said = thought.group(1).strip()
            # An empty `Thought:` says nothing: no thought, as the writer leaves it out.
            self._thought = f"{self._thought} {said}".strip() if self._thought else (said or None)
            return

        numbered = _NUMBERED.match(text)
        if numbered and len(numbered.group(1)) > len(str(MAX_TASK_ID)):
            self.errors.append(Diagnostic(n, f"task number {numbered.group(1)[:12]}… is too large "
                                             f"(at most {MAX_TASK_ID})"))
            return
        task_id = int(numbered.group(1)) if numbered else None
        body = numbered.group(2).strip() if numbered else text

        if _JOIN.match(body):
            if self.joined:
                self.warnings.append(Diagnostic(n, "a second join() was ignored", "warning"))
            self.joined = True
            self._join_line = n
            return
        if end and not body:
            return
        if not _CALL_START.match(body):
            if numbered and body:
                self.errors.append(Diagnostic(n, f"numbered line {task_id} is not a tool call: {body[:60]!r}"))
            else:
                self.warnings.append(Diagnostic(n, f"skipped a line that is not a task: {text[:60]!r}", "warning"))
            return
        if task_id is None:
            self.errors.append(Diagnostic(n, f"a task must start with its number, like '{self._last_id + 1}. {body[:40]}'"))
            return
        try:
            tool, args, comment = _parse_call(body, self._ids)
        except _ArgError as exc:
            self._bad(n, task_id, f"task {task_id}: {exc}")
            return
        task = Task(task_id, tool, args, line=n, thought=self._thought, comment=comment)
        self._thought = None
        if self._validate(task):
            self.tasks.append(task)
            done.append(task)
        if end:
            self.errors.append(Diagnostic(n, f"{END_OF_PLAN} must come after join(), not after a task"))

    def _bad(self, line: int, task_id: int | None, message: str) -> None:
        self.errors.append(Diagnostic(line, message, task_id=task_id))
        if task_id is not None:
            self._bad_ids.add(task_id)
            self._ids.add(task_id)
            self._last_id = max(self._last_id, task_id)

    def _validate(self, task: Task) -> bool:
        n, problems = task.line, []
        if self.joined:
            problems.append(f"task {task.id} comes after join(); join() must be the last line")
        if task.id in self._ids:
            problems.append(f"task number {task.id} is used twice")
        elif task.id <= self._last_id:
            problems.append(f"task numbers must increase: {task.id} comes after {self._last_id}")
        elif task.id != self._last_id + 1:
            self.warnings.append(Diagnostic(n, f"task numbers skip from {self._last_id} to {task.id}", "warning", task.id))
        spec = self.registry.get(task.tool) if self.registry is not None else None
        if self.registry is not None and spec is None:
            known = ", ".join(self.registry) or "(none: no app or MCP server is enabled)"
            problems.append(f"unknown tool {task.tool!r}; use one of: {known}")
        if spec is not None:
            if not spec.takes(len(task.args)):
                names = ", ".join(p.name + ("?" if p.optional else "") for p in spec.params)
                problems.append(f"{spec.name} takes {spec.arity_words} arguments ({names}) but got {len(task.args)}")
            else:
                for i, value in enumerate(task.args):
                    why = _type_error(spec, i, value, {})
                    if why:
                        problems.append(why)
        for ref in task.deps:
            if ref >= task.id:
                problems.append(f"task {task.id} refers to ${ref}, but a task can only use outputs of earlier tasks")
            elif ref in self._bad_ids:
                problems.append(f"task {task.id} uses ${ref}, but task {ref} has an error")
            elif ref not in self._ids:
                problems.append(f"task {task.id} refers to ${ref}, but there is no task {ref}")
        if problems:
            for p in problems:
                self.errors.append(Diagnostic(n, p, task_id=task.id))
            self._bad_ids.add(task.id)
            self._ids.add(task.id)
            self._last_id = max(self._last_id, task.id)
            return False
        self._ids.add(task.id)
        self._last_id = task.id
        return True


def parse_plan(text: str, registry: Mapping[str, ToolSpec] | None = REGISTRY) -> Plan:
    """Parse a whole plan; problems are in `plan.errors` / `plan.warnings`, never raised."""
    parser = PlanParser(registry)
    parser.feed(text)
    return parser.close()


def load_plan(text: str, registry: Mapping[str, ToolSpec] | None = REGISTRY) -> Plan:
    """Parse a plan that must be valid; raises PlanError naming each bad line."""
    plan = parse_plan(text, registry)
    if plan.errors:
        raise PlanError(plan.errors)
    return plan


__all__ = ["PlanError", "PlanParser", "parse_plan", "load_plan", "iter_refs"]
