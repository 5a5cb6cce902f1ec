"""The `tuned` profile: the prompt the shipped planner adapter was trained on (core/planner/tuned.py).

The adapter learnt TinyAgent's plans from that text alone, so the profile shows no in-context
examples and offers every enabled tool; the joiner and replanning are the compact profile's
(the adapter was trained on plans only).
The text itself stays in tuned.py, which training imports without any of this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from tinyagent.core.planner import tuned
from tinyagent.core.planner.chat import ChatTemplate
from tinyagent.core.planner.profile import Messages
from tinyagent.core.planner.profile_compact import CompactProfile
from tinyagent.core.planner.profile_names import TUNED
from tinyagent.tools.spec import ToolSpec


class TunedProfile(CompactProfile):
    name = TUNED
    shows_examples = False  # the adapter was trained without in-context examples

    def render(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[Any] | None, *, now: dt.datetime,
               instructions: str | None, context: str = "") -> Messages:
        t = tuned.render(query, tools, today=now.date(), instructions=instructions or "", context=context)
        return Messages(t.system, t.user, t.tool_order)

    def lay_out(self, messages: Messages, template: ChatTemplate) -> str:
        return template.chat(messages.system, messages.user)  # training rendered every example this way

    def offered(self, selected: list[ToolSpec], enabled: list[ToolSpec]) -> list[ToolSpec]:
        """Every enabled tool: one constant prefix that llama.cpp keeps between requests, and no
        needed tool left out by ToolRAG (measured on 60 held-out requests: 14 right plans vs 12,
        64 vs 174 prompt tokens evaluated); the tool panel still shows ToolRAG's probabilities.
        MCP tools come as ToolRAG's similarity picked them (the adapter never saw any, and a
        server may have dozens); they follow the built-in ones, so the shared prefix stays."""
        return enabled + [t for t in selected if t.server and t not in enabled]
