"""Plans from the local model, streamed task by task, and the joiner that answers the user.

    planner = Planner(llm, config=config)
    async for task in planner.stream_plan(query, tools, examples, emit=emit):
        executor.add(task)                 # runs while the model is still writing
    plan = planner.plan                    # with errors / warnings
    result = await planner.join(query, plan, summary)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

from core.events import EventSink, PlanToken, RunSummary, TaskStatus, null_sink
from core.parser import PlanParser
from core.plan import Diagnostic, Plan, Task
from core.planner.grammar import PLANNER_LIMITS, GrammarLimits, max_plan_bytes, plan_grammar
from core.planner.llm import GenerationStats
from core.planner.prompt import build_prompt, registry_order
from tools.registry import ToolSpec

_OUTPUT_CHARS = 300  # per task output shown to the joiner / replanner
_ANSWER_CHARS = 600
_JOIN_GRAMMAR = f"""root ::= "Thought: " [^\\n]{{0,200}} "\\nAction: " (finish | replan)
finish ::= "Finish: " [^\\n]{{1,{_ANSWER_CHARS}}}
replan ::= "Replan: " [^\\n]{{1,200}}
"""
_JOIN_RULES = """You have run a plan for the user's request. Read each step's result and decide:
- if the results answer the request, write "Action: Finish: " and a short answer for the user, in one line;
- if a step failed and a different plan could still do what was asked, write "Action: Replan: " and what went wrong.
Start with "Thought: " and one line of reasoning.
"""


@dataclass(frozen=True)
class JoinResult:
    answer: str
    replan: bool = False
    reason: str = ""


class Planner:
    def __init__(self, llm: Any, *, config: Any, limits: GrammarLimits = PLANNER_LIMITS):
        self.llm = llm
        self.config = config
        self.limits = limits
        self.plan: Plan | None = None  # the last plan, once stream_plan has finished
        self.text = ""  # what the model wrote for it
        self.prompt = ""
        self.stats: GenerationStats | None = None

    @property
    def max_tokens(self) -> int:
        return int(self.config.planner.max_tokens)

    def grammar(self, tools: Sequence[ToolSpec]) -> str:
        return plan_grammar(registry_order(tools), **self.limits.as_kwargs())

    def worst_case_tokens(self, tools: Sequence[ToolSpec]) -> int:
        """An upper bound on the tokens a plan can take under the grammar (see max_plan_bytes)."""
        return max_plan_bytes(registry_order(tools), **self.limits.as_kwargs())

    async def stream_plan(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any], *,
                          emit: EventSink = null_sink, today: dt.date | None = None,
                          instructions: str | None = None, context: str = "") -> AsyncIterator[Task]:
        """Yield each task the moment its line is complete; `self.plan` holds the result after."""
        tools = registry_order(tools)
        self.plan, self.text, self.stats = None, "", None
        self.prompt = build_prompt(query, tools, examples, today=today or dt.date.today(),
                                   instructions=self.config.instructions if instructions is None else instructions,
                                   context=context)
        parser = PlanParser({t.name: t for t in tools})
        chunks: list[str] = []
        failure: str | None = None
        try:
            async for chunk in self.llm.stream(self.prompt, grammar=self.grammar(tools), max_tokens=self.max_tokens,
                                               temperature=float(self.config.planner.temperature)):
                chunks.append(chunk)
                emit(PlanToken(chunk))
                for task in parser.feed(chunk):
                    yield task
        except Exception as exc:
            failure = str(exc) or type(exc).__name__
            raise
        finally:
            self.text = "".join(chunks)
            self.stats = getattr(self.llm, "last_stats", None)
            self.plan = self._close(parser, failure)

    def _close(self, parser: PlanParser, failure: str | None = None) -> Plan:
        if failure is not None:
            plan = parser.plan()
            return Plan(plan.tasks, False, plan.warnings, plan.errors + (Diagnostic(0, f"planning failed: {failure}"),))
        stats = self.stats
        if stats is not None and stats.finish_reason == "length" and not parser.ended:
            # Cut off mid-line: keep the complete tasks, and say why the plan is unfinished.
            plan = parser.plan()
            error = Diagnostic(0, f"the model reached the token limit ({self.max_tokens}, planner.max_tokens) "
                                  "before finishing the plan")
            return Plan(plan.tasks, False, plan.warnings, plan.errors + (error,))
        if stats is not None and stats.finish_reason == "cancelled":
            plan = parser.plan()
            return Plan(plan.tasks, False, plan.warnings, plan.errors + (Diagnostic(0, "planning was cancelled"),))
        return parser.close()

    # -- joiner ----------------------------------------------------------------------------------
    async def join(self, query: str, plan: Plan, summary: RunSummary | None) -> JoinResult:
        """The answer for the user from the tasks' outputs, or a request to replan."""
        prompt = join_prompt(query, plan, summary)
        chunks = [c async for c in self.llm.stream(prompt, grammar=_JOIN_GRAMMAR, max_tokens=400, temperature=0.0)]
        return parse_join("".join(chunks), plan, summary)


def join_prompt(query: str, plan: Plan, summary: RunSummary | None) -> str:
    """The joiner's prompt: fixed rules first, so consecutive joins share them in the KV cache."""
    return f"{_JOIN_RULES}\nQuestion: {' '.join(query.split())}\n{observations(plan, summary)}\n"


def parse_join(text: str, plan: Plan, summary: RunSummary | None) -> JoinResult:
    match = re.search(r"Action:\s*(Finish|Replan):\s*(.*)", text)
    if not match or not match.group(2).strip():
        return JoinResult(deterministic_answer(plan, summary), False, "the model gave no answer")
    kind, said = match.group(1), match.group(2).strip()
    if kind == "Replan":
        return JoinResult(deterministic_answer(plan, summary), True, said)
    return JoinResult(said, False, "")


def _short(value: Any, width: int = _OUTPUT_CHARS) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def observations(plan: Plan, summary: RunSummary | None) -> str:
    """The plan with what each step did: the joiner's and the replanner's view of a run."""
    lines = ["Plan and results:"]
    for task in plan.tasks:
        status = summary.statuses.get(task.id) if summary else None
        if status in (TaskStatus.DONE, TaskStatus.DRY_RUN):
            result = f"result: {_short(summary.outputs.get(task.id))}"  # type: ignore[union-attr]
        elif status is not None:
            result = f"{status.value}: {_short(summary.errors.get(task.id, ''))}"  # type: ignore[union-attr]
        else:
            result = "not run"
        lines.append(f"{task.to_text()}\n   {result}")
    for error in plan.errors:
        lines.append(f"Plan problem: {error}")
    return "\n".join(lines)


def deterministic_answer(plan: Plan, summary: RunSummary | None) -> str:
    """What ran and what came of it, without a model: always correct, never invented."""
    if not plan.tasks:
        problems = "; ".join(str(e) for e in plan.errors) or "the plan had no steps"
        return f"Nothing was run: {problems}."
    lines: list[str] = []
    for task in plan.tasks:
        status = summary.statuses.get(task.id) if summary else None
        if status is TaskStatus.DONE:
            lines.append(f"- {task.tool}: {_short(summary.outputs.get(task.id), 160)}")  # type: ignore[union-attr]
        elif status is TaskStatus.DRY_RUN:
            lines.append(f"- {task.tool}: would run (dry run)")
        elif status is None:
            lines.append(f"- {task.tool}: not run")
        else:
            why = _short(summary.errors.get(task.id, ""), 160) if summary else ""  # type: ignore[union-attr]
            lines.append(f"- {task.tool}: {status.value}" + (f" ({why})" if why else ""))
    done = summary.count(TaskStatus.DONE) if summary else 0
    head = f"{done} of {len(plan.tasks)} steps done:"
    tail = [f"Plan problem: {e}" for e in plan.errors]
    return "\n".join([head, *lines, *tail])
