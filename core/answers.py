"""The answer the user gets, all of it: whether a run needs the model's joiner, the joiner
itself, and the answers written without a model.

Every LLM call costs seconds on a laptop CPU, so the joiner runs only when it adds something:
- every step is done and the user asked for nothing back (sends, creates, opens): the answer
  is what the tools report they did, at once;
- the user asked for information (a number, an address, a note, a summary): the joiner writes it;
- a step failed and another plan might work: the joiner answers or asks to replan;
- a failure no plan can fix (a contact or file the request names does not exist, the user
  declined a step, the run was stopped): one answer naming what is missing, no joiner.

When the joiner cannot answer (the model fails, the plan had no step), the answer is what ran
(`deterministic_answer`): always correct, never invented.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tinyagent.core.events import AnswerToken, EventSink, Notice, RunSummary, TaskStatus
from tinyagent.core.plan import Plan, Task
from tinyagent.core.planner.joiner import JoinResult, deterministic_answer
from tinyagent.core.planner.llm import ModelError, PlannerModel
from tinyagent.core.planner.profiles import PromptSetup
from tinyagent.tools.registry import REGISTRY, TOOLS
from tinyagent.tools.spec import Effect

_OK = (TaskStatus.DONE, TaskStatus.DRY_RUN)
# Tools that only fetch something: their output is the answer when nothing else uses it.
LOOKUPS = frozenset(t.name for t in TOOLS if t.effect is Effect.READ)
_QUESTION = re.compile(r"\?|^\s*(what|when|where|who|whom|whose|which|how|is|are|do|does|did|can you tell|"
                       r"tell me|show me what|find out|read|summari[sz]e|give me)\b", re.IGNORECASE)


def _undone(tool: str) -> str:
    """What did not happen when a step of this tool did not run ("scheduled"); "" if unsaid."""
    spec = REGISTRY.get(tool)
    return spec.undone if spec else ""


def _what(tool: str) -> str:
    spec = REGISTRY.get(tool)
    return (spec.what if spec else "") or tool


_NO_CONTACT = re.compile(r"no contact named ['\"“]?([^'\"”]+?)['\"”]?(?:[.;]| in Contacts|$)", re.IGNORECASE)
_NO_FILE = re.compile(r"no file matches ['\"“]?([^'\"”]+?)['\"”]?(?:[.;]|$)", re.IGNORECASE)


class JoinCase(str, Enum):
    ACTIONS_DONE = "actions done"  # answered from the results, no joiner
    INFORMATION = "information asked for"  # the joiner writes the answer
    FIXABLE = "a step failed; another plan might work"  # the joiner answers or asks to replan
    UNFIXABLE = "a failure no plan can fix"  # answered by us, no joiner, no replan
    STOPPED = "the run was stopped"


@dataclass(frozen=True)
class JoinDecision:
    case: JoinCase
    answer: str = ""  # set when no joiner is needed

    @property
    def needs_joiner(self) -> bool:
        return self.case in (JoinCase.INFORMATION, JoinCase.FIXABLE)


def asks_for_information(request: str, plan: Plan) -> bool:
    """The user wants something reported back: a question, or a lookup nothing else consumes."""
    if _QUESTION.search(request):
        return True
    used = {dep for task in plan.tasks for dep in task.deps}
    return any(t.tool in LOOKUPS and t.id not in used for t in plan.tasks)


def decide(request: str, plan: Plan, summary: RunSummary | None,
           args: dict[int, dict[str, Any]] | None = None) -> JoinDecision:
    """The case this run is in, with the answer ready when the joiner is not needed.

    `args` are the resolved arguments of each task (from TaskFinished), for dry-run answers.
    """
    if summary is None or not plan.tasks or plan.errors:
        return JoinDecision(JoinCase.FIXABLE)
    if summary.cancelled:
        return JoinDecision(JoinCase.STOPPED, _with_done("The run was stopped", plan, summary))
    statuses = [summary.statuses.get(t.id) for t in plan.tasks]
    if all(s in _OK for s in statuses):
        if asks_for_information(request, plan):
            return JoinDecision(JoinCase.INFORMATION)
        return JoinDecision(JoinCase.ACTIONS_DONE, actions_answer(plan, summary, args or {}))
    missing = missing_things(request, plan, summary)
    failed = [t for t in plan.tasks if summary.statuses.get(t.id) is TaskStatus.FAILED]
    denied = [t for t in plan.tasks if summary.statuses.get(t.id) is TaskStatus.DENIED]
    fixable = [t for t in failed if not _is_missing(t, summary, missing)]
    if fixable:
        return JoinDecision(JoinCase.FIXABLE)
    problems = []
    if missing["contact"]:
        problems.append(f"No contact named {_or(missing['contact'])}")
    if missing["file"]:
        problems.append(f"No file matching {_or(missing['file'])}")
    if denied:
        problems.append("You declined " + _and(_unique(_what(t.tool) for t in denied)))
    return JoinDecision(JoinCase.UNFIXABLE, _with_done("; ".join(problems) or "Some steps did not run", plan, summary))


def missing_things(request: str, plan: Plan, summary: RunSummary) -> dict[str, list[str]]:
    """Contacts and files the request itself names that do not exist (no plan can conjure them)."""
    found: dict[str, list[str]] = {"contact": [], "file": []}
    words = " ".join(request.split()).lower()
    for task in plan.tasks:
        if summary.statuses.get(task.id) is not TaskStatus.FAILED:
            continue
        error = summary.errors.get(task.id, "")
        for kind, pattern in (("contact", _NO_CONTACT), ("file", _NO_FILE)):
            match = pattern.search(error)
            name = match.group(1).strip() if match else ""
            named = name and re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", words)
            if named and name not in found[kind]:
                found[kind].append(name)
    return found


def _is_missing(task: Task, summary: RunSummary, missing: dict[str, list[str]]) -> bool:
    error = summary.errors.get(task.id, "")
    return any(m.group(1).strip() in missing[kind] for kind, pattern in (("contact", _NO_CONTACT), ("file", _NO_FILE))
               for m in [pattern.search(error)] if m)


def actions_answer(plan: Plan, summary: RunSummary, args: dict[int, dict[str, Any]]) -> str:
    """What was done, in the tools' own words (they name the resolved recipients and titles)."""
    used = {dep for task in plan.tasks for dep in task.deps}
    lines = []
    for task in plan.tasks:
        if task.tool in LOOKUPS and task.id in used:
            continue  # a lookup that fed another step: its result shows in that step's report
        if summary.statuses.get(task.id) is TaskStatus.DRY_RUN:
            shown = ", ".join(f"{k}={_brief(v)}" for k, v in (args.get(task.id) or {}).items())
            lines.append(f"Would run {task.tool}({shown}) (dry run: nothing was changed).")
        else:
            lines.append(_sentence(str(summary.outputs.get(task.id, "")) or f"{task.tool} is done"))
    return "\n".join(lines) or "Done."


def _with_done(head: str, plan: Plan, summary: RunSummary) -> str:
    # A step whose outcome is unknown may have happened: it is never counted as not done.
    unknown = [t for t in plan.tasks if summary.statuses.get(t.id) is TaskStatus.UNKNOWN and t.tool not in LOOKUPS]
    not_done = [t for t in plan.tasks if summary.statuses.get(t.id) not in (*_OK, TaskStatus.UNKNOWN)
                and _undone(t.tool)]
    done = [t for t in plan.tasks if summary.statuses.get(t.id) is TaskStatus.DONE and t.tool not in LOOKUPS]
    verbs = _unique(_undone(t.tool) for t in not_done)
    text = head + (f": nothing was {_or(verbs)}." if verbs and not done and not unknown else ".")
    if done:
        text += " Done: " + " ".join(_sentence(str(summary.outputs.get(t.id, ""))) for t in done)
    if verbs and (done or unknown):
        text += f" Not {_or(verbs)}: " + ", ".join(_what(t.tool) for t in not_done) + "."
    if unknown:
        text += (" It is not known whether this happened, so check before trying again: "
                 + ", ".join(_what(t.tool) for t in unknown) + ".")
    return text


def sentence_reason(said: str, plan: Plan, summary: RunSummary | None) -> str:
    """A replan reason the user can read: the joiner's words when they make a sentence, else ours."""
    text = " ".join((said or "").split()).strip(" .")
    if len(text.split()) >= 4 and text[:1].isalpha() and not text.lower().startswith(("and ", "or ", "but ")):
        return _sentence(text[0].upper() + text[1:])
    for task in plan.tasks:
        status = summary.statuses.get(task.id) if summary else None
        if status is TaskStatus.FAILED:
            error = " ".join(summary.errors.get(task.id, "").split())  # type: ignore[union-attr]
            return _sentence(f"Step {task.id} ({task.tool}) failed: {error}" if error else f"Step {task.id} failed")
    if plan.errors:
        return _sentence(f"The plan could not be used: {plan.errors[0]}")
    return "A step did not work."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…'\"”)" else text + "."  # a quoted message ends it already


def _brief(value: Any, width: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- the joiner --------------------------------------------------------------------------------
class Joiner:
    """The model's answer for the user from a run's results, or its request to replan.

    `setup` is the prompt profile and chat template the plan was written with: the joiner
    speaks the same layout (PromptProfile.join_call; tinyagent: TinyAgent's joiner prompt and
    scratchpad). It asks the base model: a planner adapter was trained to write plans, not
    answers (`use_adapter=False`; moot for models without one).
    """

    def __init__(self, llm: PlannerModel | None, setup: PromptSetup):
        self.llm = llm
        self.setup = setup

    async def answer(self, query: str, plan: Plan, summary: RunSummary | None, emit: EventSink, *,
                     final: bool = False, scratchpad: str = "", text: str = "") -> JoinResult:
        """`join`, with the answer streamed as AnswerToken events as it is written; a model that
        cannot write it (or a plan the profile's joiner does not read) gets the answer from what ran instead."""
        if not self.setup.strategy.asks_joiner(plan):
            return JoinResult(deterministic_answer(plan, summary), bool(plan.errors), "the plan could not be used",
                              scratchpad=scratchpad)
        try:
            stream = AnswerStream()

            def on_text(chunk: str) -> None:
                shown = stream.feed(chunk)
                if shown:
                    emit(AnswerToken(shown))

            return await self.join(query, plan, summary, final=final, scratchpad=scratchpad, on_text=on_text,
                                   text=text)
        except asyncio.CancelledError:
            raise
        except (ModelError, ValueError) as exc:  # grammar or template errors too: the answer must still come
            emit(Notice("warning", f"the model could not write the answer ({exc}); showing what ran"))
            return JoinResult(deterministic_answer(plan, summary), False, "")

    async def join(self, query: str, plan: Plan, summary: RunSummary | None, *, final: bool = False,
                   scratchpad: str = "", on_text: Callable[[str], None] | None = None, text: str = "") -> JoinResult:
        """The answer for the user from the tasks' outputs, or a request to replan.

        The profile lays out the call: `scratchpad` is the earlier rounds as the last JoinResult
        kept them, `final` the last round (where TinyAgent's joiner may only finish), `text` what
        the planner wrote for `plan` (quoted where a plan broke).
        """
        if self.llm is None:
            raise ModelError("no planner model is loaded")
        call = self.setup.strategy.join_call(query, plan, summary, self.setup.template, final=final,
                                             scratchpad=scratchpad, text=text)
        chunks = [_seen(c, on_text) async for c in self.llm.stream(call.text, grammar=call.grammar, max_tokens=400,
                                                                 temperature=0.0, stop=list(call.stop),
                                                                 special=call.special, use_adapter=False)]
        return call.read("".join(chunks))


def _seen(chunk: str, on_text: Callable[[str], None] | None) -> str:
    """Pass the joiner's text on as it is written (the pipeline streams the answer part)."""
    if on_text is not None:
        on_text(chunk)
    return chunk


class AnswerStream:
    """The answer part of the joiner's text as it is written: after `Finish(` or `Finish: `, one line.

    `feed` returns the newly visible answer text. A closing `)` is held back until more
    follows (it may end the Finish call), and so is anything that may still become
    `Summary` (TinyAgent's "answer with the PDF summary", replaced by the summary itself).
    """

    _START = re.compile(r"Action:\s*Finish(?:\(|:\s*)")

    def __init__(self) -> None:
        self.text = ""
        self.sent = 0
        self._start: int | None = None

    def feed(self, chunk: str) -> str:
        self.text += chunk
        if self._start is None:
            match = self._START.search(self.text)
            if match is None:
                return ""
            self._start = match.end()
        body = self.text[self._start:].split("\n", 1)[0].lstrip()
        visible = body[:-1] if body.endswith(")") else body
        if "Summary".startswith(visible.strip()) or visible.strip() == "Summary":
            return ""
        new = visible[self.sent:]
        self.sent = len(visible)
        return new
