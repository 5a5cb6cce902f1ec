"""The `compact` profile: this project's shorter layout (core/planner/prompt.py), laid out for prefix reuse.

The fixed part (rules, the offered tools, the picked examples) comes first and the request
last, so consecutive requests share the longest prefix in llama.cpp's cache. Its joiner is a
short "Thought / Action: Finish | Replan" call over the plan's results; a replan gets the same
results as its context and plans over the same tools.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from tinyagent.core.events import RunSummary
from tinyagent.core.plan import Plan
from tinyagent.core.planner.chat import ChatTemplate
from tinyagent.core.planner.joiner import JoinCall, JoinResult, deterministic_answer, observations
from tinyagent.core.planner.profile import ExampleSource, Messages, Replan
from tinyagent.core.planner.profile_names import COMPACT
from tinyagent.core.planner.prompt import pick_examples, prompt_order, prompt_prefix, request_part
from tinyagent.tools.spec import ToolSpec

_ANSWER_CHARS = 600
JOIN_GRAMMAR = f"""root ::= "Thought: " [^\\n]{{0,200}} "\\nAction: " (finish | replan)
finish ::= "Finish: " [^\\n]{{1,{_ANSWER_CHARS}}}
replan ::= "Replan: " [^\\n]{{1,200}}
"""
_JOIN_RULES = """You have run a plan for the user's request. Read each step's result and decide:
- if the results answer the request, write "Action: Finish: " and a short answer for the user, in one line;
- if a step failed and a different plan could still do what was asked, write "Action: Replan: " and what went wrong.
Start with "Thought: " and one line of reasoning.
"""


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


def replan_context(plan: Plan, summary: RunSummary | None) -> str:
    return ("\nA previous plan for this question did not fully work.\n" + observations(plan, summary)
            + "\nWrite a new complete plan. Steps that already succeeded are not run again.\n")


class CompactProfile:
    name = COMPACT
    shows_examples = True
    leaves_out_mcp = ""  # MCP tools are described like the built-in ones: signature and one line

    def render(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *, now: dt.datetime,
               instructions: str | None, context: str = "") -> Messages:
        system = prompt_prefix(tools, examples or ())
        user = request_part(query, today=now.date(), instructions=instructions or "", context=context)
        return Messages(system, user, tuple(t.name for t in prompt_order(tools)))

    def lay_out(self, messages: Messages, template: ChatTemplate) -> str:
        if template.plain:  # one raw completion, as before chat templates
            return messages.system + messages.user
        return template.chat(messages.system, messages.user.lstrip("\n"))

    def examples(self, request: str, tools: Sequence[ToolSpec], source: ExampleSource) -> list[Any] | None:
        if not self.shows_examples:
            return []
        return pick_examples(request, tools, source.count, source.pool(), exclude=source.exclude)

    def offered(self, selected: list[ToolSpec], enabled: list[ToolSpec]) -> list[ToolSpec]:
        return selected

    def rounds(self, max_replans: int) -> int:
        return max_replans + 1

    def asks_joiner(self, plan: Plan) -> bool:
        return bool(plan.tasks)  # a plan that broke before its first step has no results to read

    def join_call(self, query: str, plan: Plan, summary: RunSummary | None, template: ChatTemplate, *,
                  final: bool, scratchpad: str, text: str) -> JoinCall:
        # The compact joiner's text goes to the model as it is: no chat template, no stop strings.
        return JoinCall(join_prompt(query, plan, summary), JOIN_GRAMMAR, lambda said: parse_join(said, plan, summary))

    def replan(self, plan: Plan, summary: RunSummary | None, join: JoinResult, earlier: tuple[str, ...],
               tools: list[ToolSpec], enabled: Callable[[], list[ToolSpec]]) -> Replan:
        context = replan_context(plan, summary)
        return Replan(context, (*earlier, context), tools)
