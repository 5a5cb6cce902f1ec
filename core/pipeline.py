"""The one request pipeline every front end uses:

    request -> ToolRAG -> prompt -> streamed plan -> parser -> executor -> join -> answer

Tasks go to the executor the moment their line is parsed, so the first tool runs while the
model is still writing the plan. After the run the same model writes the answer (or asks to
replan, at most `planner.max_replans` times, carrying over every task that already
succeeded). Blocking work (loading models, ToolRAG, example picking) runs off the loop.

The pipeline keeps only what outlives a request: the model, ToolRAG, the tool backend and the
example pool. How one request is run (dry run, approvals, grammar, examples) comes with it as
`RequestOptions`; what its attempts share lives on its `RequestRun` (core/request_run.py), and
the answer is written by core/answers.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tinyagent.core.answers import Joiner
from tinyagent.core.approval import ApprovalPolicy, Approver, deny_all
from tinyagent.core.backends import make_backend
from tinyagent.core.config import Config, ConfigError
from tinyagent.core.events import (
    AnswerReady,
    Event,
    EventSink,
    Notice,
    Replanning,
    RequestStarted,
    RunSummary,
    StageTiming,
    ToolsSelected,
)
from tinyagent.core.executor import DryRun, Executor
from tinyagent.core.plan import Plan
from tinyagent.core.planner.grammar import PLANNER_LIMITS, GrammarError, GrammarLimits
from tinyagent.core.planner.llm import GenerationStats, ModelError, PlannerModel, ServerError
from tinyagent.core.planner.planner import Planner, PlanResponse, setup_for_llm
from tinyagent.core.planner.profile import ExampleSource
from tinyagent.core.planner.writer import ModelWriter
from tinyagent.core.planner_model import load_planner
from tinyagent.core.request_run import DEFAULT_OPTIONS, Attempt, RequestOptions, RequestRun
from tinyagent.core.toolbox import Toolbox
from tinyagent.core.toolrag import Selection, ToolRAG, ToolRAGError
from tinyagent.core.toolrag.examples import ExamplePool, user_examples_file
from tinyagent.core.toolrag.similarity import SimilarTools
from tinyagent.core.work_ledger import AttemptLedger
from tinyagent.tools.backend import Backend, ForRequest
from tinyagent.tools.registry import TOOLS, ToolSpec, tools_for_apps


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
        self._pool_cache: tuple[int | None, ExamplePool] | None = None  # (user file's mtime, the pool)
        self.toolbox = Toolbox(config, note=self._degraded.append)  # built-in and MCP tools
        self._said_left_out = False  # a profile that leaves MCP tools out says so once a session

    # -- parts -------------------------------------------------------------------------------
    async def load_model(self, emit: EventSink | None = None) -> PlannerModel:
        """The planner model (loaded once, off the event loop): in-process, or on `planner.server`.
        Raises ModelLoadError, or ServerError for a server that cannot be used."""
        if self.llm is None:
            llm: PlannerModel = await asyncio.to_thread(load_planner, self.config, self.model_override)
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

    def registry(self) -> Mapping[str, ToolSpec]:
        """Every tool a plan may call, MCP servers' included (core/toolbox.py; blocks on first use)."""
        return self.toolbox.registry()

    def mcp_tools(self) -> list[ToolSpec]:
        return self.toolbox.mcp_tools()

    def say_notices(self, emit: EventSink) -> None:
        """What fell back or was left out since the last events (ToolRAG, examples, MCP servers)."""
        self._say_degraded(emit)

    def _toolrag_unavailable(self, exc: ToolRAGError) -> None:
        """From now on the planner gets every enabled tool, and the next events say why, once."""
        self.toolrag, self._toolrag_failed = None, True
        self._degraded.append(f"ToolRAG is not available ({exc}); the planner gets every enabled tool")

    def _choose_sync(self, request: str) -> tuple[ToolChoice, list[ToolSpec], SimilarTools | None]:
        """ToolRAG's choice of built-in tools, then the MCP tools offered (ranked when ToolRAG ran)."""
        selection = self._select_sync(request)
        return selection, *self.toolbox.offered_mcp(request, rank=not isinstance(selection, AllTools))

    async def select_tools(self, request: str, emit: EventSink) -> tuple[list[ToolSpec], ToolChoice]:
        self._enabled_tools()
        started = time.perf_counter()
        selection, similar_tools, similar = await asyncio.to_thread(self._choose_sync, request)
        seconds = time.perf_counter() - started
        self._say_degraded(emit)
        names = set(selection.selected)
        tools = [t for t in TOOLS if t.name in names] + similar_tools
        if not tools:  # a plan needs at least one tool; let the model choose among all enabled
            tools = self._enabled_tools() + self.mcp_tools()
            emit(Notice("warning", "no tool looked relevant; the planner may use any enabled tool"))
        emit(ToolsSelected(dict(selection.probabilities), tuple(t.name for t in tools), selection.threshold,
                           selection.seconds or seconds, similarities=dict(similar.similarities) if similar else {},
                           similarity_threshold=similar.threshold if similar else 0.0))
        emit(StageTiming("toolrag", seconds))
        return tools, selection

    # -- requests ------------------------------------------------------------------------------
    async def plan_only(self, request: str, *, emit: EventSink, options: RequestOptions = DEFAULT_OPTIONS
                        ) -> PlanResponse:
        """The streamed plan for a request, nothing run: its `plan`, `prompt`, `text` and `stats`."""
        emit(RequestStarted(request, True))
        tools, selection, llm = await self._prepare(request, emit)
        planner = self._new_planner(llm, options)
        tools = self._offered(planner, tools, emit)
        examples = await asyncio.to_thread(self._examples, planner, request, tools, selection, options)
        self._say_degraded(emit)
        started = time.perf_counter()
        first = None
        response = planner.stream_plan(request, tools, examples, emit=emit, now=options.now)
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
                  options: RequestOptions = DEFAULT_OPTIONS, dry_run: DryRun | str | None = None,
                  yes: bool | None = None) -> PipelineResult:
        """Plan, run and answer one request. `dry_run` and `yes`, when given, stand for the same
        fields of `options` (the way the CLI and the TUI ask)."""
        options = _with(options, dry_run, yes)
        began = time.perf_counter()
        emit(RequestStarted(request, options.dry_run is not DryRun.OFF))
        tools, selection, llm = await self._prepare(request, emit)
        planner = self._new_planner(llm, options)
        tools = self._offered(planner, tools, emit)
        backend, examples, registry = await asyncio.gather(
            asyncio.to_thread(self._get_backend),
            asyncio.to_thread(self._examples, planner, request, tools, selection, options),
            asyncio.to_thread(self.registry))
        self._say_degraded(emit)
        run = RequestRun(request, options, tools=tools, examples=examples, profile=planner.setup.strategy,
                         replans=max(0, int(self.config.planner.max_replans)))
        joiner = Joiner(llm, planner.setup)
        while (attempt := run.next_attempt()) is not None:
            response, summary = await self._attempt(planner, run, attempt, backend, emit, approver, registry=registry)
            if not run.ran(attempt, response.plan, summary, text=response.text, stats=response.stats):
                break
            started = time.perf_counter()
            result = await joiner.answer(request, run.plan, run.summary, emit, final=run.final,
                                         scratchpad=run.result.scratchpad, text=run.text)
            seconds = time.perf_counter() - started
            run.add_time("join", seconds)
            emit(StageTiming("join", seconds, {"attempt": attempt.number}))
            if not run.joined(result):
                break
            emit(Replanning(attempt.number + 1, run.reason))
            run.replan(self._enabled_tools)
        run.timings["total"] = time.perf_counter() - began
        emit(AnswerReady(run.result.answer, case=run.answer_case))
        return PipelineResult(run.result.answer, run.plan, run.summary, selection, run.timings, run.attempts,
                              run.tokens, run.evaluated, run.joins)

    def _offered(self, planner: Planner, tools: list[ToolSpec], emit: EventSink) -> list[ToolSpec]:
        """The tools the prompt describes: the profile's choice between ToolRAG's and every enabled tool.
        A profile that leaves MCP tools out says so once a session; were they all ToolRAG chose,
        it plans with every enabled built-in tool."""
        strategy, enabled = planner.setup.strategy, self._enabled_tools()
        offered = strategy.offered(tools, enabled)
        if strategy.leaves_out_mcp and not self._said_left_out:
            count = len(self.mcp_tools())  # listed already by select_tools
            if count:
                self._said_left_out = True
                emit(Notice("info", f"the {strategy.name} prompt leaves out the {count} MCP tool"
                                    f"{'' if count == 1 else 's'} of your servers: {strategy.leaves_out_mcp}"))
        return offered or strategy.offered(enabled, enabled)

    async def _prepare(self, request: str, emit: EventSink) -> tuple[list[ToolSpec], ToolChoice, PlannerModel]:
        """ToolRAG and the model load side by side: a cold request pays the longer, not the sum.

        While llama-cpp-python builds a model it points the whole process's stdout and stderr
        (file descriptors 1 and 2, and sys.stdout/sys.stderr) at /dev/null, so what a sink
        printed meanwhile (`ask --json`'s tools_selected) was lost: the events of the two are
        held until the model is loaded, then passed on in order."""
        self._enabled_tools()  # before a model loads for nothing
        held: list[Event] | None = [] if self.llm is None else None
        hold: EventSink = held.append if held is not None else emit
        model = asyncio.ensure_future(self.load_model(hold))
        try:
            tools, selection = await self.select_tools(request, hold)
            llm = await model
        except BaseException:
            if not model.done():
                model.cancel()
            await asyncio.gather(model, return_exceptions=True)
            raise
        finally:
            for event in held or ():
                emit(event)
        return tools, selection, llm

    async def _attempt(self, planner: Planner, run: RequestRun, attempt: Attempt, backend: Backend,
                       emit: EventSink, approver: Approver, *, registry: Mapping[str, ToolSpec] | None = None
                       ) -> tuple[PlanResponse, RunSummary]:
        """One plan, streamed into the executor task by task (`attempt` says which task runs,
        which an earlier attempt answered, which waits), and its run."""
        if registry is None:
            registry = await asyncio.to_thread(self.registry)
        executor = self._executor(backend, registry, attempt.watch(emit), approver, run.options, attempt.number,
                                  request=run.request, earlier=attempt.earlier)
        started = time.perf_counter()
        first = None
        response = planner.stream_plan(run.request, run.tools, run.examples, emit=emit, context=run.context,
                                       now=run.options.now)
        try:
            async for task in response:
                if first is None:
                    first = time.perf_counter() - started
                attempt.take(task, executor)
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
        self._emit_plan_timings(emit, response.stats, started, first, run.timings)
        attempt.plan_ended(executor)
        exec_started = time.perf_counter()
        summary = await executor.finish()
        seconds = time.perf_counter() - exec_started
        run.add_time("execution", seconds)
        emit(StageTiming("execution", seconds, {"attempt": attempt.number}))
        attempt.settle(summary, executor.changes, executor.reused)
        return response, summary

    def _examples(self, planner: Planner, request: str, tools: Sequence[ToolSpec],
                  selection: ToolChoice, options: RequestOptions) -> list[Any] | None:
        """In-context examples for the profile; None asks for the profile's built-in block."""
        return planner.setup.strategy.examples(request, tools, ExampleSource(
            lambda: options.example_pool or self._user_pool(), self.config.planner.examples, options.exclude_example,
            builtin=isinstance(selection, AllTools) and options.example_pool is None))

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

    async def run_plan(self, plan: Plan, *, emit: EventSink, approver: Approver = deny_all,
                       dry_run: DryRun | str = DryRun.OFF, yes: bool = False) -> RunSummary:
        """Run a finished plan (no model needed): the plan editor and run-plan flows. Parse it
        with `registry()`, which knows the MCP servers' tools."""
        backend, registry = await asyncio.gather(asyncio.to_thread(self._get_backend), asyncio.to_thread(self.registry))
        self._say_degraded(emit)
        executor = self._executor(backend, registry, emit, approver, RequestOptions(DryRun(dry_run), yes), 1)
        return await executor.run(plan.tasks)

    def close(self) -> None:
        """Free the model and stop the MCP servers (the CLI and the app call this on exit)."""
        if self.llm is not None and self._owns_llm:
            self.llm.close()
            self.llm = None
        self.toolbox.close()

    # -- helpers ---------------------------------------------------------------------------------
    def _new_planner(self, llm: PlannerModel, options: RequestOptions) -> Planner:
        cls = Planner if options.use_grammar else _UnconstrainedPlanner
        return cls(llm, config=self.config, limits=self.limits)

    def _executor(self, backend: Backend, registry: Mapping[str, ToolSpec], emit: EventSink, approver: Approver,
                  options: RequestOptions, attempt: int, *, request: str = "",
                  earlier: AttemptLedger | None = None) -> Executor:
        if request:  # the writer drafts from the request where the plan left the text empty
            backend = ForRequest(backend, request)
        return Executor(backend, emit=emit, approver=approver,
                        policy=ApprovalPolicy(self.config.approval, yes=options.yes), dry_run=options.dry_run,
                        task_timeout=self.config.timeouts.task, attempt=attempt, registry=registry,
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


class _UnconstrainedPlanner(Planner):
    """A planner sampling without the plan grammar (to measure what the grammar does)."""

    def grammar(self, tools: Sequence[ToolSpec]) -> str | None:
        return None


def _with(options: RequestOptions, dry_run: DryRun | str | None, yes: bool | None) -> RequestOptions:
    """`options` with the fields a caller gave as keywords of `ask`."""
    given: dict[str, Any] = {}
    if dry_run is not None:
        given["dry_run"] = DryRun(dry_run)
    if yes is not None:
        given["yes"] = yes
    return replace(options, **given) if given else options
