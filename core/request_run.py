"""One request's run: what it was asked with, and what its attempts share.

A request may take several attempts: a plan, its run, and the joiner asking for another plan,
at most `planner.max_replans` times. What the attempts share lives on one `RequestRun` per
request, never on the long-lived `Pipeline`:
- the work done so far (`done_work`): a task of a later plan that does the same work gets
  that outcome instead of running again (a send is never sent twice);
- the work that failed (`failed_work`): it runs again only inside a plan that is new;
- the plans tried (`tried`): a plan the same as one already tried is not run again, not even
  in part, since it would fail the same way;
- the context the next plan is written with, the timings, token counts and joins, and the
  answer so far.

`Attempt` is one plan as it streams: for each task it decides whether it runs now, is
answered from earlier work, or waits until the plan is known to be new. Nothing here needs a
model: the pipeline feeds it tasks and summaries (tests/unit/test_request_run.py does the same).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tinyagent.core.answers import decide, sentence_reason
from tinyagent.core.events import Event, EventSink, RunSummary, TaskFinished, TaskStatus
from tinyagent.core.executor import DryRun
from tinyagent.core.plan import Plan, Ref, Task, Template
from tinyagent.core.planner.joiner import JoinResult
from tinyagent.core.work_ledger import Work, WorkLedger

if TYPE_CHECKING:
    from tinyagent.core.planner.llm import GenerationStats
    from tinyagent.core.planner.profile import PromptProfile
    from tinyagent.core.toolrag.examples import ExamplePool
    from tinyagent.tools.registry import ToolSpec


@dataclass(frozen=True)
class RequestOptions:
    """How one request is run, beside its text: given to `Pipeline.ask`, never kept on the pipeline."""

    dry_run: DryRun = DryRun.OFF
    yes: bool = False  # approve what the approval policy leaves to a person
    use_grammar: bool = True  # False: the model writes plans unconstrained (eval --no-grammar)
    example_pool: ExamplePool | None = None  # pick examples from this pool, not the built-in + user one
    exclude_example: str | None = None  # eval: never show the model the query it is scored on
    now: dt.datetime | None = None  # the date and time the prompt gives; None: the clock's (tests fix it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dry_run", DryRun(self.dry_run))  # "safe" as well as DryRun.SAFE


DEFAULT_OPTIONS = RequestOptions()  # run for real, and ask a person where the approval policy says to


class TaskTarget(Protocol):
    """Where an attempt's tasks go: the executor (or, in tests, a recorder)."""

    def add(self, task: Task) -> None: ...

    def preset(self, task: Task, status: TaskStatus, output: Any = None, error: str | None = None) -> None: ...


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


def worth_another_plan(plan: Plan, summary: RunSummary | None) -> bool:
    """A step failed or the plan was broken (not: the user declined, or the run was stopped)."""
    if summary is not None and summary.cancelled:
        return False
    if plan.errors:
        return True
    return summary is not None and any(s is TaskStatus.FAILED for s in summary.statuses.values())


class Attempt:
    """One plan of a request as it streams in, task by task (`take`), until it ends (`plan_ended`)
    and its run is done (`settle`)."""

    def __init__(self, number: int, done_work: WorkLedger, failed_work: set[Any], tried: list[tuple]):
        self.number = number
        self.earlier = done_work.attempt()  # the executor reads it too: the same change is never made twice
        self._done_work = done_work
        self._failed_work = failed_work
        self._tried = tried
        self.keys: dict[int, Any] = {}  # task id -> its work key
        self.answered: set[int] = set()  # tasks an earlier attempt's work answered (they ran no work now)
        self.held: list[Task] = []  # work that failed before, and what needs it: run only if the plan is new
        # While the plan so far could still be one already tried (its work keys all among that
        # plan's), its new work waits: a repeated plan is not run again, not even in part.
        self.echo: list[Task] = []
        self._tried_work = [Counter(shape) for shape in tried]
        self._so_far: Counter[str] = Counter()
        self.repeated = False  # the same plan as an earlier attempt: its failed work was not run again
        self.args: dict[int, dict[str, Any]] = {}  # resolved arguments per task (from TaskFinished)

    def watch(self, emit: EventSink) -> EventSink:
        """`emit`, keeping each finished task's resolved arguments (dry-run answers quote them)."""

        def sink(event: Event) -> None:
            if isinstance(event, TaskFinished) and event.args is not None:
                self.args[event.task_id] = event.args
            emit(event)

        return sink

    def take(self, task: Task, target: TaskTarget) -> None:
        """A task the moment its line is parsed: run it, answer it from earlier work, or hold it."""
        self.keys[task.id] = key = work_key(task, self.keys)
        self._so_far[repr(key)] += 1
        could_repeat = any(self._so_far <= work for work in self._tried_work)
        if self.echo and not could_repeat:  # it is a new plan after all: what waited goes first
            for waiting in self.echo:
                self._dispatch(waiting, target)
            self.echo.clear()
        ran = self.earlier.take_work(key)  # it already ran in an earlier attempt: never repeat it
        if ran is not None:
            self.answered.add(task.id)
            if ran.done:
                target.preset(task, TaskStatus.DONE, ran.value)
            else:  # never risk doing it twice
                target.preset(task, TaskStatus.UNKNOWN, error=ran.value + " (not repeated)")
        elif could_repeat:
            self.echo.append(task)
        else:
            self._dispatch(task, target)

    def _dispatch(self, task: Task, target: TaskTarget) -> None:
        if self.keys[task.id] in self._failed_work or any(d in {h.id for h in self.held} for d in task.deps):
            self.held.append(task)
        else:
            target.add(task)

    def plan_ended(self, target: TaskTarget) -> bool:
        """The plan is complete: what waited runs if the plan is new, or is skipped if it was
        tried before. True when it was (`repeated`)."""
        shape = tuple(sorted(map(repr, self.keys.values())))
        self.repeated = bool(self.keys) and shape in self._tried
        if not self.repeated:
            for task in self.echo:
                self._dispatch(task, target)
            self.echo.clear()
        for task in self.echo + self.held:  # a plan already tried fails the same way: its work does not run again
            if self.repeated:
                target.preset(task, TaskStatus.SKIPPED)
            else:
                target.add(task)
        self._tried.append(shape)
        return self.repeated

    def settle(self, summary: RunSummary, changes: dict[int, str], reused: set[int]) -> None:
        """Record what this attempt's own work did, for the attempts after it. `changes` and
        `reused` are the executor's: the change each task made, the tasks an earlier change answered."""
        self.answered |= reused
        for task_id, status in summary.statuses.items():
            if task_id not in self.keys or task_id in self.answered:  # counted once, when it ran
                continue
            change = changes.get(task_id)
            if status is TaskStatus.DONE:
                self._done_work.record(Work(self.keys[task_id], change, True, summary.outputs.get(task_id)))
            elif status is TaskStatus.UNKNOWN:
                self._done_work.record(Work(self.keys[task_id], change, False,
                                            summary.errors.get(task_id, "it may have happened")))
            elif status is TaskStatus.FAILED:
                self._failed_work.add(self.keys[task_id])


class RequestRun:
    """One request from its first plan to its answer: the state its attempts share.

    The pipeline drives it: `next_attempt` until it gives None; after each attempt `ran`
    (False: the answer is ready without the joiner), after the joiner `joined` (True: plan
    again), then `replan` sets what the next plan is told.
    """

    def __init__(self, request: str, options: RequestOptions, *, tools: Sequence[ToolSpec],
                 examples: Sequence[Any] | None, profile: PromptProfile, replans: int):
        self.request = request
        self.options = options
        self.tools = list(tools)  # the tools the next plan is offered
        self.examples = examples  # None: the profile's built-in block
        self.profile = profile  # how the next plan is told about this one
        self.rounds = profile.rounds(replans)  # attempts at most
        self.done_work = WorkLedger()  # what succeeded (or may have), one entry per task that ran
        self.failed_work: set[Any] = set()  # work keys of tasks that failed: never run again in this request
        self.tried: list[tuple] = []  # each attempt's plan as sorted work keys
        self.timings: dict[str, float] = {}
        self.attempts = 0
        self.context = ""  # what the next plan is told about the earlier ones
        self.contexts: tuple[str, ...] = ()  # each earlier round's context, as the profile keeps them
        self.result = JoinResult("")
        self.plan: Plan = Plan((), False)
        self.summary: RunSummary | None = None
        self.text = ""  # what the model wrote for the latest plan (the joiner quotes a broken line)
        self.tokens = 0  # prompt tokens over every planning call
        self.evaluated = 0  # of those, the ones the model evaluated (not from its cache)
        self.reason = ""  # why the last plan is being replaced, in a sentence
        self.case = ""  # the answer's case (core/answers.py's JoinCase, or a repeated plan)
        self.joins = 0

    @property
    def final(self) -> bool:
        """This attempt is the last one: its joiner may only finish."""
        return self.attempts >= self.rounds

    @property
    def answer_case(self) -> str:
        return ("joiner: " if self.joins else "no joiner: ") + self.case

    def add_time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def next_attempt(self) -> Attempt | None:
        """The next attempt, or None when every round is used."""
        if self.attempts >= self.rounds:
            return None
        self.attempts += 1
        return Attempt(self.attempts, self.done_work, self.failed_work, self.tried)

    def ran(self, attempt: Attempt, plan: Plan, summary: RunSummary | None, *, text: str = "",
            stats: GenerationStats | None = None) -> bool:
        """An attempt's plan has run: True when the joiner is needed; otherwise `result` is the answer."""
        self.plan, self.summary, self.text = plan, summary, text
        if stats is not None:
            self.tokens += stats.prompt_tokens
            self.evaluated += stats.prompt_tokens_evaluated
        if attempt.repeated:
            self.result = JoinResult(f"{self.reason} The new plan was the same as the one that failed, so it was "
                                     "not run again.", False, "")
            self.case = "the new plan repeats one that failed"
            return False
        decision = decide(self.request, plan, summary, attempt.args)
        self.case = decision.case.value
        if not decision.needs_joiner:
            self.result = JoinResult(decision.answer, False, "")
            return False
        self.joins += 1
        return True

    def joined(self, result: JoinResult) -> bool:
        """The joiner's result: True when another plan should be tried (it asked to, a step
        failed or the plan broke, and a round is left)."""
        self.result = result
        if not (result.replan and worth_another_plan(self.plan, self.summary)) or self.final:
            return False
        self.reason = sentence_reason(result.reason, self.plan, self.summary)
        return True

    def replan(self, every_tool: Callable[[], list[ToolSpec]]) -> None:
        """Set what the next plan is told, and offered, after this one failed (the profile's replan)."""
        step = self.profile.replan(self.plan, self.summary, self.result, self.contexts, self.tools, every_tool)
        self.context, self.contexts, self.tools = step.context, step.rounds, step.tools
