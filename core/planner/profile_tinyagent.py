"""The `tinyagent` profile: TinyAgent's planner, joiner and replanner, as TinyAgent-1.1B/7B were fine-tuned on them.

The texts are TinyAgent's own, byte for byte (core/planner/tinyagent.py, tinyagent_text.py,
tinyagent_join.py); this module makes the decisions TinyAgent's code makes around them:
up to MAX_EXAMPLES examples from within ToolRAG's selection (its built-in block without
ToolRAG), at most ROUNDS rounds, a joiner that reads every round so far through one
scratchpad (a plan that broke before its first step included), and a replanner that gets
every enabled tool and each earlier round as a "Previous Plan".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from tinyagent.core.events import RunSummary, TaskStatus
from tinyagent.core.plan import Plan, Ref, Template
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner.chat import ChatTemplate
from tinyagent.core.planner.joiner import JoinCall, JoinResult, deterministic_answer
from tinyagent.core.planner.profile import ExampleSource, Messages, Replan, one_message
from tinyagent.core.planner.profile_names import TINYAGENT
from tinyagent.core.planner.prompt import pick_examples
from tinyagent.core.planner.tinyagent import render
from tinyagent.core.planner.tinyagent_text import MAX_EXAMPLES, ROUNDS
from tinyagent.tools.spec import ToolSpec


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


def read_joiner(said_text: str, plan: Plan, summary: RunSummary | None, *, final: bool, pad: str,
                steps: tuple[tj.Step, ...]) -> JoinResult:
    """TinyAgent's joiner reply as a JoinResult; the answer falls back on what ran."""
    said = tj.parse_joiner(said_text, final=final)
    if said.replan:
        answer = deterministic_answer(plan, summary)
    elif said.answer == tj.SUMMARY_RESULT:  # TinyAgent answers with the cached PDF summary
        answer = last_summary(plan, summary) or deterministic_answer(plan, summary)
    else:
        answer = said.answer or deterministic_answer(plan, summary)
    return JoinResult(answer, said.replan, said.thought if said.replan else "", said.thought, pad, steps)


class TinyAgentProfile:
    name = TINYAGENT
    shows_examples = True
    leaves_out_mcp = ("TinyAgent-1.1B/7B were trained on their 16 tools only, and their prompt is TinyAgent's own "
                      "text; planner.prompt: compact describes MCP tools")

    def render(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *, now: dt.datetime,
               instructions: str | None, context: str = "") -> Messages:
        r = render(query, [t.name for t in tools], now=now, examples=examples, instructions=instructions,
                   context=context)
        return Messages(r.system, r.user, r.tool_order)

    def lay_out(self, messages: Messages, template: ChatTemplate) -> str:
        # Without a template this is TinyAgent's completion-model path: system, a blank line, user.
        return template.chat(messages.system, messages.user)

    def examples(self, request: str, tools: Sequence[ToolSpec], source: ExampleSource) -> list[Any] | None:
        if source.builtin:  # TinyAgent without ToolRAG shows its built-in examples
            return None
        return pick_examples(request, tools, MAX_EXAMPLES, source.pool(), within=True, exclude=source.exclude)

    def offered(self, selected: list[ToolSpec], enabled: list[ToolSpec]) -> list[ToolSpec]:
        return _builtin(selected)

    def rounds(self, max_replans: int) -> int:
        return min(max_replans, ROUNDS - 1) + 1  # TinyAgent: 2 rounds at most

    def asks_joiner(self, plan: Plan) -> bool:
        return bool(plan.tasks or plan.errors)  # a plan broken before its first task: the error is the observation

    def join_call(self, query: str, plan: Plan, summary: RunSummary | None, template: ChatTemplate, *,
                  final: bool, scratchpad: str, text: str) -> JoinCall:
        steps = tuple(joiner_steps(plan, summary, text))
        pad = tj.add_round(scratchpad, steps)
        prompt, templated = one_message(template, tj.joiner_prompt(query, pad, final=final))
        return JoinCall(prompt, tj.joiner_grammar(final=final),
                        lambda said: read_joiner(said, plan, summary, final=final, pad=pad, steps=steps),
                        ("<END_OF_RESPONSE>", *template.stops), templated)

    def replan(self, plan: Plan, summary: RunSummary | None, join: JoinResult, earlier: tuple[str, ...],
               tools: list[ToolSpec], enabled: Callable[[], list[ToolSpec]]) -> Replan:
        # TinyAgent's replanner: every enabled tool, its replan prompt, every Previous Plan so far.
        rounds = (*earlier, tj.replan_context(join.steps, join.thought))
        return Replan(tj.format_contexts(rounds), rounds, _builtin(enabled()))


def _builtin(tools: list[ToolSpec]) -> list[ToolSpec]:
    """The tools TinyAgent knows: none of an MCP server's (`leaves_out_mcp` says why)."""
    return [t for t in tools if not t.server]
