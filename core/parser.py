"""Read LLMCompiler plans as the model writes them, whole or a chunk at a time.

Feed text in pieces of any size; each task comes out the moment its line is complete, so the
executor can start it while the model is still writing. Arguments are Python literals read
with `ast.literal_eval`: nothing in a plan is ever evaluated as code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from core.plan import END_OF_PLAN, Diagnostic, Plan, Ref, Task, Template, Value, iter_refs, parse_string_value
from tools.registry import BOOL, INT, LIST_STR, REGISTRY, STR, ToolSpec

_NUMBERED = re.compile(r"^\s*(\d+)\s*[.:)]\s*(.*)$")
_CALL_START = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_THOUGHT = re.compile(r"^\s*thought\s*:\s*(.*)$", re.IGNORECASE)
_JOIN = re.compile(r"^join\s*\(\s*\)\s*;?\s*(#.*)?$")
_MAX_LINE = 20_000  # longer lines are refused rather than parsed


class PlanError(ValueError):
    """A plan that cannot run; `diagnostics` say what is wrong, line by line."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "invalid plan")


class _ArgError(ValueError):
    pass


def _convert(value: object) -> Value:
    if isinstance(value, str):
        return parse_string_value(value)
    if isinstance(value, (list, tuple)):
        return [_convert(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise _ArgError(f"unsupported argument {value!r}: use strings, numbers, True/False, None or lists")


def _parse_call(text: str) -> tuple[str, tuple[Value, ...], str | None]:
    """`name(args)  # comment` -> (name, args, comment). Raises _ArgError with a reason."""
    code = text.strip()
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError as exc:
        raise _ArgError(f"the call is not well formed ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _ArgError(f"the call cannot be read ({type(exc).__name__})") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise _ArgError("expected a single tool call like name(arg, ...)")
    if node.keywords:
        raise _ArgError("write arguments in order, without names (no name=value)")
    try:
        args = tuple(_convert(ast.literal_eval(a)) for a in node.args)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
        raise _ArgError(f"arguments must be literals (strings, numbers, lists, None): {exc}") from None
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
        self._buffer = ""
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
        self._buffer += chunk
        done: list[Task] = []
        while not self.ended:
            newline = self._buffer.find("\n")
            marker = self._buffer.find(END_OF_PLAN)
            if marker != -1 and (newline == -1 or marker < newline):
                line, rest = self._buffer[:marker], self._buffer[marker + len(END_OF_PLAN) :]
                self._buffer = ""
                self._line(line, done, end=True)
                self.ended = True
                self._note_trailing(rest)
            elif newline != -1:
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
                self._line(line, done)
            else:
                break
        return done

    def close(self) -> Plan:
        if not self.ended:
            if self._buffer.strip():
                pending: list[Task] = []
                self._line(self._buffer, pending)
            self._buffer = ""
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
        if not text:
            if end and not self.joined:
                self.errors.append(Diagnostic(n, f"{END_OF_PLAN} came before join(); end the plan with join(){END_OF_PLAN}"))
            return
        if len(text) > _MAX_LINE:
            self.errors.append(Diagnostic(n, f"line is too long ({len(text)} characters)"))
            return
        thought = _THOUGHT.match(text)
        if thought:
            said = thought.group(1).strip()
            self._thought = f"{self._thought} {said}".strip() if self._thought else said
            return

        numbered = _NUMBERED.match(text)
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
            tool, args, comment = _parse_call(body)
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
            known = ", ".join(self.registry)
            problems.append(f"unknown tool {task.tool!r}; use one of: {known}")
        if spec is not None:
            if len(task.args) != spec.arity:
                names = ", ".join(p.name for p in spec.params)
                problems.append(f"{spec.name} takes {spec.arity} arguments ({names}) but got {len(task.args)}")
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
