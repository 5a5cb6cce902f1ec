"""The one request pipeline every front end uses:

    request -> ToolRAG -> prompt -> streamed plan -> parser -> executor -> join -> answer

Tasks go to the executor the moment their line is parsed, so the first tool runs while the
model is still writing the plan. After the run the same model writes the answer (or asks to
replan, at most `planner.max_replans` times, carrying over every task that already
succeeded). Blocking work (loading models, ToolRAG, example picking) runs off the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.answers import AnswerStream, decide, sentence_reason
from core.approval import ApprovalPolicy, Approver, deny_all
from core.backends import make_backend
from core.config import Config, ConfigError
from core.events import (
    AnswerReady,
    AnswerToken,
    Event,
    EventSink,
    Notice,
    Replanning,
    RequestStarted,
    RunSummary,
    StageTiming,
    TaskFinished,
    TaskStatus,
    ToolsSelected,
)
from core.executor import DryRun, Executor
from core.plan import Plan, Ref, Task, Template
from core.planner.grammar import PLANNER_LIMITS, GrammarError, GrammarLimits
from core.planner.joiner import JoinResult, deterministic_answer
from core.planner.llm import GenerationStats, LocalLLM, ModelError, PlannerModel, ServerError
from core.planner.planner import Planner, PlanResponse, setup_for_llm
from core.planner.profile import ExampleSource
from core.planner.server import ServerLLM
from core.planner.writer import ModelWriter
from core.toolrag import Selection, ToolRAG, ToolRAGError
from core.toolrag.examples import ExamplePool, user_examples_file
from core.work_ledger import AttemptLedger, Work, WorkLedger
from tools.backend import Backend, ForRequest
from tools.registry import TOOLS, ToolSpec, tools_for_apps


@dataclass(frozen=True)
class AllTools:
    """The selection used when ToolRAG is not available: every enabled tool."""

    probabilities: dict[str, float]
    selected: tuple[str, ...]
    threshold: float = 0.5
    seconds: float = 0.0
    added_by_rules: tuple[str, ...] = ()


ToolChoice = Selection | AllTools  # ToolRAG's answer, or every enabled tool without it


@dataclass
class PipelineResult:
    answer: str
    plan: Plan
    summary: RunSummary | None
    selection: ToolChoice | None  # None: a plan run without a request
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 1
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    joins: int = 0  # joiner calls (0 when the answer came from the results)

    @property
    def ok(self) -> bool:
        return self.plan.ok and self.summary is not None and self.summary.all_done


class Pipeline:
    def __init__(self, config: Config, *, backend: Backend | None = None, llm: PlannerModel | None = None,
                 toolrag: ToolRAG | None = None,
                 model_override: str | None = None, limits: GrammarLimits = PLANNER_LIMITS):
        self.config = config
        self.limits = limits
        self.backend = backend
        self._own_backend = False  # made by us (so we may make it again with the model's writer)
        self._backend_has_model = False
        self.llm = llm
        self.toolrag = toolrag
        self.model_override = model_override
        self._toolrag_failed = False
        self._degraded: list[str] = []  # what fell back (ToolRAG, examples): said once, as a Notice
        self._owns_llm = llm is None
        self.exclude_example: str | None = None  # eval: never show the model the query it is scored on
        self.example_pool: ExamplePool | None = None  # an ExamplePool to pick from instead of the built-in + user one
        self.use_grammar = True  # False: the model writes plans unconstrained (eval --no-grammar)
        self._pool_cache: tuple[int | None, ExamplePool] | None = None  # (user file's mtime, the pool)

    # -- parts -------------------------------------------------------------------------------
    async def load_model(self, emit: EventSink | None = None) -> PlannerModel:
        """The planner model (loaded once, off the event loop): in-process, or on `planner.server`.
        Raises ModelLoadError, or ServerError for a server that cannot be used."""
        if self.llm is None:
            factory = ServerLLM.from_config if self.config.planner.server else LocalLLM.from_config
            llm: PlannerModel = await asyncio.to_thread(factory, self.config, self.model_override)
            self.llm = llm
            notice = getattr(llm, "model_notice", None)
            if notice and emit is not None:  # another planner stands in for a missing default
                emit(Notice("info", notice))
            for level, text in getattr(llm, "notices", ()):  # e.g. a server over plain http
                if emit is not None:
                    emit(Notice(level, text))
            return llm
        return self.llm

    def _get_backend(self) -> Backend:
        # A backend we made before the model was loaded (a plan run first) writes email bodies
        # and summaries without it: make it again once the model is there, so it writes them.
        stale = self._own_backend and self.llm is not None and not self._backend_has_model
        if self.backend is None or stale:
            writer = None
            if self.llm is not None:
                writer = ModelWriter(self.llm, timeout=max(1.0, self.config.timeouts.task * 0.7),
                                     template=setup_for_llm(self.llm, self.config).template,
                                     instructions=self.config.instructions)
            self.backend = make_backend(self.config, writer)
            self._own_backend, self._backend_has_model = True, self.llm is not None
        return self.backend

    def _select_sync(self, request: str) -> ToolChoice:
        if self.toolrag is None and not self._toolrag_failed and self.config.toolrag.enabled:
            try:
                self.toolrag = ToolRAG.from_config(self.config)
            except ToolRAGError as exc:  # a missing or broken model: plan with every enabled tool
                self._toolrag_unavailable(exc)
        if self.toolrag is not None:
            try:
                return self.toolrag.select(request)
            except ToolRAGError as exc:  # it loaded but cannot score this request (a vocab without [UNK])
                self._toolrag_unavailable(exc)
        enabled = self._enabled_tools()
        return AllTools({t.name: 1.0 for t in enabled}, tuple(t.name for t in enabled))

    def _enabled_tools(self) -> list[ToolSpec]:
        """The tools of the apps config enables; none enabled is a settings problem, said before planning
        (an empty list once meant every tool)."""
        tools = list(tools_for_apps(set(self.config.apps)))
        if not tools:
            raise ConfigError(self.config.source, "apps", None, "no app is enabled, so a request has no tool to "
                              "plan with; list the apps it may use (e.g. apps: [contacts, messages])")
        return tools

    def _toolrag_unavailable(self, exc: ToolRAGError) -> None:
        """From now on the planner gets every enabled tool, and the next events say why, once."""
        self.toolrag, self._toolrag_failed = None, True
        self._degraded.append(f"ToolRAG is not available ({exc}); the planner gets every enabled tool")

    async def select_tools(self, request: str, emit: EventSink) -> tuple[list[ToolSpec], ToolChoice]:
        self._enabled_tools()
        started = time.perf_counter()
        selection = await asyncio.to_thread(self._select_sync, request)
        seconds = time.perf_counter() - started
        self._say_degraded(emit)
        names = set(selection.selected)
        tools = [t for t in TOOLS if t.name in names]
        if not tools:  # a plan needs at least one tool; let the model choose among all enabled
            tools = self._enabled_tools()
            emit(Notice("warning", "no tool looked relevant; the planner may use any enabled tool"))
        emit(ToolsSelected(dict(selection.probabilities), tuple(t.name for t in tools), selection.threshold,
                           selection.seconds or seconds))
        emit(StageTiming("toolrag", seconds))
        return tools, selection

    # -- requests ------------------------------------------------------------------------------
    async def plan_only(self, request: str, *, emit: EventSink) -> PlanResponse:
        """The streamed plan for a request, nothing run: its `plan`, `prompt`, `text` and `stats`."""
        emit(RequestStarted(request, True))
        tools, selection, llm = await self._prepare(request, emit)
        planner = self._new_planner(llm)
        tools = self._offered(planner, tools)
        examples = await asyncio.to_thread(self._examples, planner, request, tools, selection)
        self._say_degraded(emit)
        started = time.perf_counter()
        first = None
        response = planner.stream_plan(request, tools, examples, emit=emit)
        try:
            async for _task in response:
                first = first or time.perf_counter() - started
        except ServerError:  # the server is gone or broke off: one line, not a half plan
            raise
        except (ModelError, GrammarError) as exc:
            emit(Notice("error", f"planning failed: {exc}"))
        self._emit_plan_timings(emit, response.stats, started, first)
        return response

    async def ask(self, request: str, *, emit: EventSink, approver: Approver = deny_all,
                  dry_run: DryRun | str = DryRun.OFF, yes: bool = False) -> PipelineResult:
        dry_run = DryRun(dry_run)
        began = time.perf_counter()
        emit(RequestStarted(request, dry_run is not DryRun.OFF))
        tools, selection, llm = await self._prepare(request, emit)
        planner = self._new_planner(llm)
        tools = self._offered(planner, tools)
        backend, examples = await asyncio.gather(asyncio.to_thread(self._get_backend), asyncio.to_thread(
            self._examples, planner, request, tools, selection))
        self._say_degraded(emit)
        profile = planner.setup.strategy
        done_work = WorkLedger()  # what succeeded (or may have), one entry per task that ran
        failed_work: set[Any] = set()  # work keys of tasks that failed: never run again in this request
        tried: list[tuple] = []  # each attempt's plan as sorted work keys
        timings: dict[str, float] = {}
        context, attempts = "", 0
        contexts: tuple[str, ...] = ()  # each round's replan context, as the profile keeps them
        result = JoinResult("")
        plan, summary = Plan((), False), None
        tokens, evaluated = 0, 0
        reason, case, joins = "", "", 0
        replans = max(0, int(self.config.planner.max_replans))
        rounds = profile.rounds(replans)
        for attempt in range(1, rounds + 1):
            attempts = attempt
            run = await self._attempt(planner, request, tools, examples, context, backend, done_work,
                                      emit=emit, approver=approver, dry_run=dry_run, yes=yes,
                                      attempt=attempt, timings=timings, failed_work=failed_work, tried=tried)
            plan, summary = run.plan, run.summary
            if run.stats is not None:
                tokens += run.stats.prompt_tokens
                evaluated += run.stats.prompt_tokens_evaluated
            if run.repeated:
                result = JoinResult(f"{reason} The new plan was the same as the one that failed, so it was not "
                                    "run again.", False, "")
                case = "the new plan repeats one that failed"
                break
            decision = decide(request, plan, summary, run.args)
            case = decision.case.value
            if not decision.needs_joiner:
                result = JoinResult(decision.answer, False, "")
                break
            joins += 1
            started = time.perf_counter()
            result = await self._join(planner, request, plan, summary, emit, final=attempt == rounds,
                                      scratchpad=result.scratchpad, text=run.text)
            timings["join"] = timings.get("join", 0.0) + time.perf_counter() - started
            emit(StageTiming("join", time.perf_counter() - started, {"attempt": attempt}))
            if not (result.replan and _failed(plan, summary)) or attempt >= rounds:
                break
            reason = sentence_reason(result.reason, plan, summary)
            emit(Replanning(attempt + 1, reason))
            step = profile.replan(plan, summary, result, contexts, tools, self._enabled_tools())
            context, contexts, tools = step.context, step.rounds, step.tools
        timings["total"] = time.perf_counter() - began
        emit(AnswerReady(result.answer, case=("joiner: " if joins else "no joiner: ") + case))
        return PipelineResult(result.answer, plan, summary, selection, timings, attempts, tokens, evaluated, joins)

    def _offered(self, planner: Planner, tools: list[ToolSpec]) -> list[ToolSpec]:
        """The tools the prompt describes: the profile's choice between ToolRAG's and every enabled tool."""
        return planner.setup.strategy.offered(tools, list(tools_for_apps(set(self.config.apps))) or list(TOOLS))

    async def _prepare(self, request: str, emit: EventSink) -> tuple[list[ToolSpec], ToolChoice, PlannerModel]:
        """ToolRAG and the model load side by side: a cold request pays the longer, not the sum."""
        self._enabled_tools()  # before a model loads for nothing
        model = asyncio.ensure_future(self.load_model(emit))
        try:
            tools, selection = await self.select_tools(request, emit)
            llm = await model
        except BaseException:
            if not model.done():
                model.cancel()
            await asyncio.gather(model, return_exceptions=True)
            raise
        return tools, selection, llm

    async def _attempt(self, planner: Planner, request: str, tools: Sequence[ToolSpec], examples: Sequence[Any],
                       context: str, backend: Backend, done_work: WorkLedger, *, emit: EventSink,
                       approver: Approver, dry_run: DryRun, yes: bool, attempt: int,
                       timings: dict[str, float], failed_work: set[Any] | None = None,
                       tried: list[tuple] | None = None) -> _Attempt:
        args: dict[int, dict[str, Any]] = {}

        def sink(event: Event) -> None:
            if isinstance(event, TaskFinished) and event.args is not None:
                args[event.task_id] = event.args
            emit(event)

        earlier = done_work.attempt()
        executor = self._executor(backend, sink, approver, dry_run, yes, attempt, request, earlier)
        failed_work = set() if failed_work is None else failed_work
        keys: dict[int, Any] = {}
        answered: set[int] = set()  # tasks an earlier attempt's work answered (they ran no work now)
        held: list[Task] = []  # work that failed before, and what needs it: run only if the plan is new
        # While the plan so far could still be one already tried (its work keys all among that
        # plan's), its new work waits: a repeated plan is not run again, not even in part.
        tried_work = [Counter(shape) for shape in tried or ()]
        so_far: Counter[str] = Counter()
        echo: list[Task] = []

        def dispatch(task: Task) -> None:
            if keys[task.id] in failed_work or any(d in {h.id for h in held} for d in task.deps):
                held.append(task)
            else:
                executor.add(task)

        started = time.perf_counter()
        first = None
        response = planner.stream_plan(request, tools, examples, emit=emit, context=context)
        try:
            async for task in response:
                if first is None:
                    first = time.perf_counter() - started
                keys[task.id] = key = work_key(task, keys)
                so_far[repr(key)] += 1
                could_repeat = any(so_far <= work for work in tried_work)
                if echo and not could_repeat:  # it is a new plan after all: what waited goes first
                    for waiting in echo:
                        dispatch(waiting)
                    echo.clear()
                ran = earlier.take_work(key)  # it already ran in an earlier attempt: never repeat it
                if ran is not None:
                    answered.add(task.id)
                    if ran.done:
                        executor.preset(task, TaskStatus.DONE, ran.value)
                    else:  # never risk doing it twice
                        executor.preset(task, TaskStatus.UNKNOWN, error=ran.value + " (not repeated)")
                elif could_repeat:
                    echo.append(task)
                else:
                    dispatch(task)
        except ServerError:  # a server that broke off is a broken stream (below), not a plan to join or replan
            executor.cancel()
            await executor.finish()
            raise
        except (ModelError, GrammarError) as exc:
            emit(Notice("error", f"planning failed: {exc}"))
        except BaseException:  # cancelled, or llama.cpp or a sink broke: no task outlives the request
            executor.cancel()
            await executor.finish()
            raise
        plan = response.plan
        self._emit_plan_timings(emit, response.stats, started, first, timings)
        shape = tuple(sorted(map(repr, keys.values())))
        repeated = bool(keys) and tried is not None and shape in tried
        if not repeated:
            for task in echo:
                dispatch(task)
            echo.clear()
        for task in echo + held:  # a plan already tried fails the same way: its work does not run again
            if repeated:
                executor.preset(task, TaskStatus.SKIPPED)
            else:
                executor.add(task)
        if tried is not None:
            tried.append(shape)
        exec_started = time.perf_counter()
        summary = await executor.finish()
        timings["execution"] = timings.get("execution", 0.0) + time.perf_counter() - exec_started
        emit(StageTiming("execution", time.perf_counter() - exec_started, {"attempt": attempt}))
        answered |= executor.reused
        for task_id, status in summary.statuses.items():
            if task_id not in keys or task_id in answered:  # counted once, when it ran
                continue
            change = executor.changes.get(task_id)
            if status is TaskStatus.DONE:
                done_work.record(Work(keys[task_id], change, True, summary.outputs.get(task_id)))
            elif status is TaskStatus.UNKNOWN:
                done_work.record(Work(keys[task_id], change, False,
                                      summary.errors.get(task_id, "it may have happened")))
            elif status is TaskStatus.FAILED:
                failed_work.add(keys[task_id])
        return _Attempt(plan, summary, args, repeated, response.text, response.stats)

    def _examples(self, planner: Planner, request: str, tools: Sequence[ToolSpec],
                  selection: ToolChoice) -> list[Any] | None:
        """In-context examples for the profile; None asks for the profile's built-in block."""
        return planner.setup.strategy.examples(request, tools, ExampleSource(
            lambda: self.example_pool or self._user_pool(), self.config.planner.examples, self.exclude_example,
            builtin=isinstance(selection, AllTools) and self.example_pool is None))

    def _user_pool(self) -> ExamplePool:
        """The built-in + user example pool, read again only when the user's file changed (~0.1 s a read)."""
        path = user_examples_file()
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:  # no user file (or none we may read: then loading says so)
            stamp = None
        if self._pool_cache is None or self._pool_cache[0] != stamp:
            pool, problem = ExamplePool.load_for_planning()
            self._pool_cache = (stamp, pool)
            if problem:  # once per version of the file
                self._degraded.append(problem)
        return self._pool_cache[1]

    def _say_degraded(self, emit: EventSink) -> None:
        """A warning for each thing that fell back, once: ToolRAG fails once, a file version once."""
        while self._degraded:
            emit(Notice("warning", self._degraded.pop(0)))

    async def _join(self, planner: Planner, request: str, plan: Plan, summary: RunSummary | None,
                    emit: EventSink, *, final: bool = False, scratchpad: str = "", text: str = "") -> JoinResult:
        if not planner.setup.strategy.asks_joiner(plan):
            return JoinResult(deterministic_answer(plan, summary), bool(plan.errors), "the plan could not be used",
                              scratchpad=scratchpad)
        try:
            stream = AnswerStream()

            def on_text(chunk: str) -> None:
                shown = stream.feed(chunk)
                if shown:
                    emit(AnswerToken(shown))

            return await planner.join(request, plan, summary, final=final, scratchpad=scratchpad, on_text=on_text,
                                      text=text)
        except asyncio.CancelledError:
            raise
        except (ModelError, ValueError) as exc:  # grammar or template errors too: the answer must still come
            emit(Notice("warning", f"the model could not write the answer ({exc}); showing what ran"))
            return JoinResult(deterministic_answer(plan, summary), False, "")

    async def run_plan(self, plan: Plan, *, emit: EventSink, approver: Approver = deny_all,
                       dry_run: DryRun | str = DryRun.OFF, yes: bool = False) -> RunSummary:
        """Run a finished plan (no model needed): the plan editor and run-plan flows."""
        backend = await asyncio.to_thread(self._get_backend)
        executor = self._executor(backend, emit, approver, DryRun(dry_run), yes, 1)
        return await executor.run(plan.tasks)

    def close(self) -> None:
        if self.llm is not None and self._owns_llm:
            self.llm.close()
            self.llm = None

    # -- helpers ---------------------------------------------------------------------------------
    def _new_planner(self, llm: PlannerModel) -> Planner:
        cls = Planner if self.use_grammar else _UnconstrainedPlanner
        return cls(llm, config=self.config, limits=self.limits)

    def _executor(self, backend: Backend, emit: EventSink, approver: Approver, dry_run: DryRun, yes: bool,
                  attempt: int, request: str = "", earlier: AttemptLedger | None = None) -> Executor:
        if request:  # the writer drafts from the request where the plan left the text empty
            backend = ForRequest(backend, request)
        return Executor(backend, emit=emit, approver=approver, policy=ApprovalPolicy(self.config.approval, yes=yes),
                        dry_run=dry_run, task_timeout=self.config.timeouts.task, attempt=attempt,
                        plan_timeout=self.config.timeouts.plan, earlier=earlier)

    @staticmethod
    def _emit_plan_timings(emit: EventSink, stats: GenerationStats | None, started: float, first: float | None,
                           timings: dict[str, float] | None = None) -> None:
        complete = time.perf_counter() - started
        values = {"plan_complete": complete}
        if stats is not None:
            values["prompt"] = stats.prompt_seconds
            emit(StageTiming("prompt", stats.prompt_seconds, {
                "prompt_tokens": stats.prompt_tokens, "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
                "cached_tokens": stats.cached_tokens}))
        if first is not None:
            values["first_dispatch"] = first
            emit(StageTiming("first_dispatch", first))
        emit(StageTiming("plan_complete", complete, {"generated_tokens": stats.generated_tokens if stats else 0}))
        if timings is not None:
            for name, value in values.items():
                timings[name] = timings.get(name, 0.0) + value


@dataclass
class _Attempt:
    plan: Plan
    summary: RunSummary
    args: dict[int, dict[str, Any]]  # resolved arguments per task (from TaskFinished)
    repeated: bool = False  # the same plan as an earlier attempt: its failed work was not run again
    text: str = ""  # what the model wrote (the joiner quotes the line a broken plan stopped on)
    stats: GenerationStats | None = None


class _UnconstrainedPlanner(Planner):
    """A planner sampling without the plan grammar (to measure what the grammar does)."""

    def grammar(self, tools: Sequence[ToolSpec]) -> str | None:
        return None


def work_key(task: Task, keys: dict[int, Any]) -> Any:
    """What a task does, with `$N` replaced by what task N did: equal keys mean equal work."""

    def value(v: Any) -> Any:
        if isinstance(v, Ref):
            return ("$", keys.get(v.task_id, v.task_id))
        if isinstance(v, Template):
            return ("T",) + tuple(value(p) for p in v.parts)
        if isinstance(v, (list, tuple)):
            return ("L",) + tuple(value(x) for x in v)
        return v

    return (task.tool,) + tuple(value(a) for a in task.args)


def _failed(plan: Plan, summary: RunSummary | None) -> bool:
    """Worth another plan: a step failed or the plan was broken (not: the user declined)."""
    if summary is not None and summary.cancelled:
        return False
    if plan.errors:
        return True
    return summary is not None and any(s is TaskStatus.FAILED for s in summary.statuses.values())
