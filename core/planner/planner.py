"""Plans from the local model, streamed task by task.

    planner = Planner(llm, config=config)
    response = planner.stream_plan(query, tools, examples, emit=emit)
    async for task in response:
        executor.add(task)                 # runs while the model is still writing
    plan = response.plan                   # with errors / warnings; also .text, .prompt, .stats

Each planning call's result is its own `PlanResponse` (simonw/llm's `Response` idea), so
nothing about one call is left on the planner for another caller to read. The answer the
user gets from a run (the joiner) is written by `core/answers.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from tinyagent.core.config import Config
from tinyagent.core.dates import DateAnchor, moved_note
from tinyagent.core.events import EventSink, Notice, PlanToken, null_sink
from tinyagent.core.lookup_steps import LookupSteps, added_note, unnamed_note, unnamed_person
from tinyagent.core.parser import PlanParser
from tinyagent.core.plan import Diagnostic, Plan, Task
from tinyagent.core.planner.grammar import PLANNER_LIMITS, GrammarError, GrammarLimits, limits_for, plan_grammar
from tinyagent.core.planner.llm import GenerationStats, ModelError, PlannerModel, TextStream
from tinyagent.core.planner.profiles import PlannerPrompt, PromptSetup, setup_for
from tinyagent.core.planner.prompt import registry_order
from tinyagent.tools.registry import ToolSpec

_PLAN_ROOM = 256  # tokens a plan needs at least after its prompt; less is an error naming planner.context


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

    With `lookup_steps` (planner.lookup_steps), a name the model wrote where an address, a
    number or a path belongs becomes a lookup step of its own (core/lookup_steps.py): the
    tasks and `plan` are numbered with those steps in, `text` stays what the model wrote.
    Given the `request`, a contact lookup of someone it never names is told as a warning.
    With `today` (planner.anchor_dates), a step dated otherwise than the one day the request
    names in words is set to that day (core/dates.py), and a notice says so.
    """

    def __init__(self, prompt: PlannerPrompt, chunks: TextStream | AsyncIterable[str], tools: Sequence[ToolSpec], *,
                 setup: PromptSetup | None = None, emit: EventSink = null_sink, max_tokens: int = 0,
                 lookup_steps: bool = False, request: str = "", today: dt.date | None = None):
        self.prompt = prompt
        self.setup = setup
        self._chunks = chunks
        self._registry = {t.name: t for t in tools}
        self._parser = PlanParser(self._registry)
        self._steps = LookupSteps(self._registry) if lookup_steps else None
        self._dates = DateAnchor(self._registry, request, today) if today is not None else None
        self._emit = emit
        self._request = request
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
            plan = self._close()
            if self._dates is not None:
                plan = Plan(tuple(self._dated(t) for t in plan.tasks), plan.joined, plan.warnings, plan.errors)
            if self._steps is not None:  # replayed whole: close() may have read a last line no one iterated
                plan = Plan(LookupSteps(self._registry).feed_all(plan.tasks), plan.joined, plan.warnings, plan.errors)
            self._plan = plan
        return self._plan

    @property
    def lookups_added(self) -> int:
        """Lookup steps added to what the model wrote (0 without planner.lookup_steps)."""
        if self._steps is None:
            return 0
        return len(self.plan.tasks) - len(self._parser.tasks)

    async def __aiter__(self) -> AsyncIterator[Task]:
        try:
            async for chunk in self._chunks:
                self._pieces.append(chunk)
                self._emit(PlanToken(chunk))
                for task in self._parser.feed(chunk):
                    task = self._dated(task, emit=True)
                    if self._steps is None:
                        self._check_named(task)
                        yield task
                    else:
                        *added, task = self._steps.feed(task)
                        for step in added:
                            self._emit(Notice("info", added_note(step, task)))
                            self._check_named(step)
                            yield step
                        self._check_named(task)
                        yield task
        except (ModelError, GrammarError) as exc:
            self._failure = str(exc) or type(exc).__name__
            raise

    def _dated(self, task: Task, *, emit: bool = False) -> Task:
        moved = self._dates.anchor(task) if self._dates is not None else None
        if moved is None:
            return task
        if emit:
            self._emit(Notice("info", moved_note(moved)))
        return moved.task

    def _check_named(self, task: Task) -> None:
        name = unnamed_person(task, self._request)
        if name is not None:
            self._emit(Notice("warning", unnamed_note(task, name)))

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
        if now is None:
            now = dt.datetime.combine(today, dt.time(9, 0)) if today is not None else dt.datetime.now()
        prompt = self.render(query, tools, examples, now=now, instructions=instructions, context=context)
        chunks = self.llm.stream(prompt.text, grammar=self.grammar(tools), max_tokens=self.max_tokens,
                                 temperature=float(self.config.planner.temperature),
                                 stop=list(self.setup.template.stops), special=prompt.templated,
                                 min_room=min(self.max_tokens, _PLAN_ROOM))
        return PlanResponse(prompt, chunks, tools, setup=self.setup, emit=emit, max_tokens=self.max_tokens,
                            lookup_steps=bool(self.config.planner.lookup_steps), request=query,
                            today=now.date() if self.config.planner.anchor_dates else None)
