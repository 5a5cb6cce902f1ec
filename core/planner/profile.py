"""The one protocol every prompt profile follows: everything that differs between profiles.

A profile is the layout a planner model was trained on, and with it how a request is planned
and answered: the planner's messages and the text they become, the in-context examples, the
tools offered, the joiner's call, the replanner's context and how many rounds a request gets.
Each profile is one module (profile_tinyagent.py, profile_compact.py, tuned.py), registered in
the one table of core/planner/profiles.py; the Planner and the pipeline ask the profile object
and never test which profile it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tinyagent.core.events import RunSummary
from tinyagent.core.plan import Plan
from tinyagent.core.planner.chat import ChatTemplate
from tinyagent.core.planner.joiner import JoinCall, JoinResult
from tinyagent.core.toolrag.examples import ExamplePool
from tinyagent.tools.spec import ToolSpec


@dataclass(frozen=True)
class Messages:
    """A planner call's two chat messages, and the order the prompt lists the tools in."""

    system: str
    user: str
    tool_order: tuple[str, ...]


@dataclass(frozen=True)
class PlannerPrompt:
    """One planner call: the two messages and the exact text the model receives."""

    system: str
    user: str
    text: str
    tool_order: tuple[str, ...]
    templated: bool  # the text holds the template's special tokens (tokenize them as such)


@dataclass(frozen=True)
class ExampleSource:
    """Where a profile may take its in-context examples from, and what the settings allow."""

    pool: Callable[[], ExamplePool]  # read only by a profile that shows examples (a read costs ~0.1 s)
    count: int  # planner.examples: how many a profile without a count of its own shows
    exclude: str | None = None  # evaluation: the query being scored is never shown
    builtin: bool = False  # no ToolRAG choice and no chosen pool: a profile's built-in examples may stand in


@dataclass(frozen=True)
class Replan:
    """What the next round plans with after the joiner asked for another plan."""

    context: str  # the replan context that goes into the planner's prompt
    rounds: tuple[str, ...]  # every round's context so far (TinyAgent's replanner lists them all)
    tools: list[ToolSpec]  # the tools the next plan is offered


class PromptProfile(Protocol):
    """One profile's decisions. Implementations are stateless: one object serves every request."""

    name: str
    shows_examples: bool  # whether the planner's prompt holds in-context examples at all
    # Why the profile leaves MCP servers' tools (ToolSpec.server) out of its prompt; "" when it
    # describes them. The pipeline says it once a session, naming how many were left out.
    leaves_out_mcp: str

    def render(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *, now: dt.datetime,
               instructions: str | None, context: str = "") -> Messages:
        """The planner's messages; `examples` None asks for the profile's built-in ones, a
        non-empty `context` makes it a replan."""
        ...

    def lay_out(self, messages: Messages, template: ChatTemplate) -> str:
        """The exact text the model receives for `messages` under `template`."""
        ...

    def examples(self, request: str, tools: Sequence[ToolSpec], source: ExampleSource) -> list[Any] | None:
        """The in-context examples for a request ([] for none, None for the profile's built-in block)."""
        ...

    def offered(self, selected: list[ToolSpec], enabled: list[ToolSpec]) -> list[ToolSpec]:
        """The tools the planner's prompt describes, given ToolRAG's choice (with the MCP tools
        it picked) and every enabled built-in tool."""
        ...

    def rounds(self, max_replans: int) -> int:
        """How many plans a request may get: the first and its replans (`planner.max_replans`)."""
        ...

    def asks_joiner(self, plan: Plan) -> bool:
        """Whether the joiner reads this plan (else the answer is written from the results alone)."""
        ...

    def join_call(self, query: str, plan: Plan, summary: RunSummary | None, template: ChatTemplate, *,
                  final: bool, scratchpad: str, text: str) -> JoinCall:
        """The joiner's call after a round: `final` is the last round, `scratchpad` the earlier
        rounds as the last JoinResult kept them, `text` what the planner wrote for `plan`."""
        ...

    def replan(self, plan: Plan, summary: RunSummary | None, join: JoinResult, earlier: tuple[str, ...],
               tools: list[ToolSpec], enabled: Callable[[], list[ToolSpec]]) -> Replan:
        """The next round's context and tools; `earlier` is the last Replan's `rounds` (() at first);
        `enabled` gives every enabled tool, read only by a profile that offers them all."""
        ...


def one_message(template: ChatTemplate, prompt: str) -> tuple[str, bool]:
    """A one-message prompt (a joiner's) as the model receives it, and whether it is templated."""
    if template.plain:
        return prompt, False
    return template.single(prompt), True
