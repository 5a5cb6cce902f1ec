"""Plans from the local model, streamed task by task, and the joiner that answers the user.

    planner = Planner(llm, config=config)
    response = planner.stream_plan(query, tools, examples, emit=emit)
    async for task in response:
        executor.add(task)                 # runs while the model is still writing
    plan = response.plan                   # with errors / warnings; also .text, .prompt, .stats
    result = await planner.join(query, plan, summary, text=response.text)

Each planning call's result is its own `PlanResponse` (simonw/llm's `Response` idea), so
nothing about one call is left on the planner for another caller to read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.events import EventSink, PlanToken, RunSummary, TaskStatus, null_sink
from core.parser import PlanParser
from core.plan import Diagnostic, Plan, Ref, Task, Template
from core.planner import tinyagent_join as tj
from core.planner.grammar import PLANNER_LIMITS, GrammarError, GrammarLimits, limits_for, plan_grammar
from core.planner.llm import GenerationStats, ModelError, PlannerModel, TextStream
from core.planner.profiles import PlannerPrompt, PromptSetup, setup_for
from core.planner.prompt import registry_order
from tools.registry import ToolSpec

_OUTPUT_CHARS = 300  # per task output shown to the joiner / replanner
_PLAN_ROOM = 256  # tokens a plan needs at least after its prompt; less is an error naming planner.context
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
    thought: str = ""  # tinyagent profile: the joiner's Thought (the replanner reads it)
    scratchpad: str = ""  # tinyagent profile: every round's actions and observations so far
    steps: tuple[tj.Step, ...] = ()  # tinyagent profile: this round's tasks as the joiner saw them


def setup_for_llm(llm: PlannerModel | None, config: Config) -> PromptSetup:
    """The prompt profile and chat template for a loaded model (see core/planner/profiles.py)."""
    return setup_for(config, path=llm.model_path, model=llm) if llm is not None else setup_for(config)


class PlanResponse:
    """One planning call: iterate it for the tasks, each the moment its line is complete.

    Afterwards it holds what the call was: `prompt` (the messages and the exact text the
    model received), `setup` (the profile and chat template that made it), `text` (what the
    model wrote), `stats` (llama.cpp's counts and times, None if the model reported none)
    and `plan` (the parsed plan, with a diagnostic saying why when the model failed, hit the
    token limit or was cancelled).
    """

    def __init__(self, prompt: PlannerPrompt, chunks: TextStream | AsyncIterable[str], tools: Sequence[ToolSpec], *,
                 setup: PromptSetup | None = None, emit: EventSink = null_sink, max_tokens: int = 0):
        self.prompt = prompt
        self.setup = setup
        self._chunks = chunks
        self._parser = PlanParser({t.name: t for t in tools})
        self._emit = emit
        self._max_tokens = max_tokens
        self._pieces: list[str] = []
        self._failure: str | None = None
        self._plan: Plan | None = None

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def stats(self) -> GenerationStats | None:
        return self._chunks.stats if isinstance(self._chunks, TextStream) else None  # a scripted source has none

    @property
    def plan(self) -> Plan:
        """The plan (read it once the iteration has ended)."""
        if self._plan is None:
            self._plan = self._close()
        return self._plan

    async def __aiter__(self) -> AsyncIterator[Task]:
        try:
            async for chunk in self._chunks:
                self._pieces.append(chunk)
                self._emit(PlanToken(chunk))
                for task in self._parser.feed(chunk):
                    yield task
        except (ModelError, GrammarError) as exc:
            self._failure = str(exc) or type(exc).__name__
            raise

    def _close(self) -> Plan:
        parser = self._parser
        if self._failure is not None:
            plan = parser.plan()
            return Plan(plan.tasks, False, plan.warnings,
                        plan.errors + (Diagnostic(0, f"planning failed: {self._failure}"),))
        stats = self.stats
        if stats is not None and stats.finish_reason == "length" and not parser.ended:
            # Cut off mid-line: keep the complete tasks, and say why the plan is unfinished.
            plan = parser.plan()
            error = Diagnostic(0, f"the model reached the token limit ({self._max_tokens}, planner.max_tokens) "
                                  "before finishing the plan")
            return Plan(plan.tasks, False, plan.warnings, plan.errors + (error,))
        if stats is not None and stats.finish_reason == "cancelled":
            plan = parser.plan()
            return Plan(plan.tasks, False, plan.warnings, plan.errors + (Diagnostic(0, "planning was cancelled"),))
        return parser.close()


class Planner:
    def __init__(self, llm: PlannerModel | None, *, config: Config, limits: GrammarLimits = PLANNER_LIMITS,
                 setup: PromptSetup | None = None):
        self.llm = llm
        self.config = config
        self.limits = limits_for(config, limits)
        self.setup = setup or setup_for_llm(llm, config)

    @property
    def max_tokens(self) -> int:
        return int(self.config.planner.max_tokens)

    def grammar(self, tools: Sequence[ToolSpec]) -> str | None:
        return plan_grammar(registry_order(tools), **self.limits.as_kwargs())

    def render(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *,
               now: dt.datetime | None = None, instructions: str | None = None, context: str = "") -> PlannerPrompt:
        """The planner call's messages and the exact text the model receives."""
        return self.setup.planner_prompt(
            query, registry_order(tools), examples, now=now or dt.datetime.now(),
            instructions=self.config.instructions if instructions is None else instructions, context=context)

    def stream_plan(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *,
                    emit: EventSink = null_sink, today: dt.date | None = None, now: dt.datetime | None = None,
                    instructions: str | None = None, context: str = "") -> PlanResponse:
        """The planning call; iterate the result for the tasks (see PlanResponse).

        `examples` None means the profile's built-in ones (tinyagent: TinyAgent's default block).
        Nothing reaches the model until the result is iterated.
        """
        if self.llm is None:
            raise ModelError("no planner model is loaded")
        tools = registry_order(tools)
        if now is None and today is not None:
            now = dt.datetime.combine(today, dt.time(9, 0))
        prompt = self.render(query, tools, examples, now=now, instructions=instructions, context=context)
        chunks = self.llm.stream(prompt.text, grammar=self.grammar(tools), max_tokens=self.max_tokens,
                                 temperature=float(self.config.planner.temperature),
                                 stop=list(self.setup.template.stops), special=prompt.templated,
                                 min_room=min(self.max_tokens, _PLAN_ROOM))
        return PlanResponse(prompt, chunks, tools, setup=self.setup, emit=emit, max_tokens=self.max_tokens)

    # -- joiner ----------------------------------------------------------------------------------
    async def join(self, query: str, plan: Plan, summary: RunSummary | None, *, final: bool = False,
                   scratchpad: str = "", on_text: Callable[[str], None] | None = None, text: str = "") -> JoinResult:
        """The answer for the user from the tasks' outputs, or a request to replan.

        tinyagent profile: TinyAgent's joiner prompt over `scratchpad` (the earlier rounds) plus
        this round; `final` is the last round, where the joiner may only finish; `text` is
        what the planner wrote for `plan` (the joiner quotes the line a plan broke on).
        """
        if self.llm is None:
            raise ModelError("no planner model is loaded")
        if not self.setup.tinyagent:
            prompt = join_prompt(query, plan, summary)
            chunks = [_seen(c, on_text) async for c in self.llm.stream(prompt, grammar=_JOIN_GRAMMAR, max_tokens=400,
                                                                     temperature=0.0)]
            return parse_join("".join(chunks), plan, summary)
        steps = tuple(joiner_steps(plan, summary, text))
        pad = tj.add_round(scratchpad, steps)
        text, templated = self.setup.single(tj.joiner_prompt(query, pad, final=final))
        stops = ["<END_OF_RESPONSE>", *self.setup.template.stops]
        chunks = [_seen(c, on_text) async for c in self.llm.stream(text, grammar=tj.joiner_grammar(final=final),
                                                                 max_tokens=400, temperature=0.0, stop=stops,
                                                                 special=templated)]
        said = tj.parse_joiner("".join(chunks), final=final)
        if said.replan:
            answer = deterministic_answer(plan, summary)
        elif said.answer == tj.SUMMARY_RESULT:  # TinyAgent answers with the cached PDF summary
            answer = last_summary(plan, summary) or deterministic_answer(plan, summary)
        else:
            answer = said.answer or deterministic_answer(plan, summary)
        return JoinResult(answer, said.replan, said.thought if said.replan else "", said.thought, pad, steps)


def _seen(chunk: str, on_text: Callable[[str], None] | None) -> str:
    """Pass the joiner's text on as it is written (the pipeline streams the answer part)."""
    if on_text is not None:
        on_text(chunk)
    return chunk


def _resolved(value: Any, outputs: dict[int, Any]) -> Any:
    """An argument with `$N` replaced by task N's output, as TinyAgent's executor passes it."""
    if isinstance(value, Ref):
        return str(outputs[value.task_id]) if value.task_id in outputs else f"${value.task_id}"
    if isinstance(value, Template):
        return "".join(str(_resolved(p, outputs)) for p in value.parts)
    if isinstance(value, (list, tuple)):
        return [_resolved(v, outputs) for v in value]
    return value


def _observation(task_id: int, summary: RunSummary | None) -> str | None:
    status = summary.statuses.get(task_id) if summary else None
    if summary is None or status is None:
        return None
    error = summary.errors.get(task_id, "")
    if status in (TaskStatus.DONE, TaskStatus.DRY_RUN):
        output = summary.outputs.get(task_id)
        return str(output) if output is not None else "Not run: this is a dry run."
    if status is TaskStatus.FAILED:
        return tj.error_observation(error or "the step failed")
    if status is TaskStatus.DENIED:
        return "The user declined this step."
    return f"{status.value.capitalize()}: {error}" if error else status.value.capitalize()


def joiner_steps(plan: Plan, summary: RunSummary | None, text: str = "") -> list[tj.Step]:
    """The run as TinyAgent's joiner sees it; a broken plan ends with the join that carries the error."""
    outputs: dict[int, Any] = {}
    if summary is not None:
        outputs = {i: o for i, o in summary.outputs.items()
                   if summary.statuses.get(i) in (TaskStatus.DONE, TaskStatus.DRY_RUN) and o is not None}
    steps = [tj.Step(t.id, t.tool, tuple(_resolved(a, outputs) for a in t.args), _observation(t.id, summary),
                     t.thought or "") for t in plan.tasks]
    if plan.errors:
        lines = text.splitlines()
        first = plan.errors[0]
        where = lines[first.line - 1].strip() if 0 < first.line <= len(lines) else ""
        message = "; ".join(d.message for d in plan.errors)
        steps.append(tj.Step(max((t.id for t in plan.tasks), default=0) + 1, "join", (),
                             f"The plan generation was stopped due to an error in tool '{where}'! Error: {message}! "
                             "You MUST correct this error and try again!"))
    return steps


def last_summary(plan: Plan, summary: RunSummary | None) -> str:
    """The output of the last summarize_pdf that ran (TinyAgent's `Finish(Summary)`)."""
    for task in reversed(plan.tasks):
        if task.tool == "summarize_pdf" and summary and summary.statuses.get(task.id) is TaskStatus.DONE:
            return str(summary.outputs.get(task.id) or "")
    return ""


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
        if summary is not None and status in (TaskStatus.DONE, TaskStatus.DRY_RUN):
            result = f"result: {_short(summary.outputs.get(task.id))}"
        elif summary is not None and status is not None:
            result = f"{status.value}: {_short(summary.errors.get(task.id, ''))}"
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
        if summary is not None and status is TaskStatus.DONE:
            lines.append(f"- {task.tool}: {_short(summary.outputs.get(task.id), 160)}")
        elif status is TaskStatus.DRY_RUN:
            lines.append(f"- {task.tool}: would run (dry run)")
        elif status is None:
            lines.append(f"- {task.tool}: not run")
        else:
            why = _short(summary.errors.get(task.id, ""), 160) if summary else ""
            lines.append(f"- {task.tool}: {status.value}" + (f" ({why})" if why else ""))
    done = summary.count(TaskStatus.DONE) if summary else 0
    head = f"{done} of {len(plan.tasks)} steps done:"
    tail = [f"Plan problem: {e}" for e in plan.errors]
    return "\n".join([head, *lines, *tail])
