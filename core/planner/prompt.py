"""The planner's prompt, laid out so consecutive requests share the longest token prefix.

Order: fixed rules, then the selected tools (one line each, in one fixed global order,
most often needed first), then the in-context examples (in a stable order), and only then
what changes with every request (today's date, the user's instructions, the question).
LocalLLM re-evaluates only from the first token that differs from the live context or from
one of the recent prompts it keeps, so the longer the shared prefix, the less each request
costs (the paper re-evaluated ~1,400 tokens each time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from tinyagent.core.plan import END_OF_PLAN
from tinyagent.core.tool_text import description_line
from tinyagent.core.toolrag.examples import Example, ExamplePool
from tinyagent.tools.registry import TOOLS, ToolSpec

RULES = f"""Given a user query, create a plan to solve it with the utmost parallelizability.
Each step of the plan is one call to one of the tools listed below, or join().

Guidelines:
 - Write one step per line: the step number, a dot, a space, then the call, e.g. 2. send_sms(["$1"], "On my way").
 - Number the steps 1, 2, 3, ... in order.
 - Give every argument in order, without names, as a Python literal: "text" in double quotes, \
["a", "b"], numbers, True/False, or None.
 - Use "" or [] for an argument the user did not give.
 - Use "$N" for the output of step N: alone ("$1", or ["$1", "$2"] in a list) or inside text ("Link: $3"). \
A step can only use earlier steps.
 - Look up each person's email address or phone number with a separate step; never guess them.
 - Steps that do not depend on each other can run at the same time, so do not make a step depend on another without need.
 - Dates and times are written 'YYYY-MM-DD HH:MM:SS'; work them out from today's date.
 - Use only the tools listed below, with exactly the arguments they take.
 - End the plan with join(){END_OF_PLAN} on its own numbered line after the last step.
"""

TOOLS_HEADER = "Tools:\n"
EXAMPLES_HEADER = "\nHere are some examples:\n"
JOIN_RULE = f"join(): collects the results of the steps; always the last step, followed by {END_OF_PLAN}.\n"
# Said only where an offered tool (an MCP server's) has optional parameters, so the prompts of
# the 16 built-in tools stay as they were.
OPTIONAL_RULE = "An argument whose type ends in ? may be left out at the end of a call.\n"

# The order tools appear in the prompt: one fixed global order, most often needed first, so
# consecutive requests (and the states LocalLLM keeps) share the longest token prefix.
# Derived once from how often each tool is in the reference plans of the 1,106 shared
# TinyAgent queries (get_email_address 647 ... get_zoom_meeting_link 137); hard-coded so no
# data is read at run time. Tools missing here follow in registry order.
PROMPT_ORDER: tuple[str, ...] = (
    "get_email_address", "open_and_get_file_path", "create_calendar_event", "append_note_content",
    "maps_open_location", "create_reminder", "compose_new_email", "create_note", "open_note",
    "reply_to_email", "forward_email", "send_sms", "summarize_pdf", "maps_show_directions",
    "get_phone_number", "get_zoom_meeting_link",
)

def describe_tool(tool: ToolSpec) -> str:
    # The tool's short hint (ToolSpec.hint, tools/specs/; an MCP tool's description cut to one
    # line) after its exact signature; what the rules say for every tool is not repeated:
    # ~25-45 tokens per tool instead of ~110.
    return f"{tool.signature()} -> str: {description_line(tool)}\n"


def optional_rule(tools: Sequence[ToolSpec]) -> str:
    """OPTIONAL_RULE where a tool has optional parameters (signature() marks them "type?"), else ""."""
    return OPTIONAL_RULE if any(p.optional for t in tools for p in t.params) else ""


def _example_text(example: Any) -> str:
    plan = str(example.plan).strip()
    return f"Question: {' '.join(str(example.query).split())}\n{plan}\n###\n"


def registry_order(tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The tools in registry order (the grammar's order); tools the registry lacks follow as given."""
    wanted = {t.name for t in tools}
    listed = {t.name for t in TOOLS}
    others = {t.name: t for t in tools if t.name not in listed}  # e.g. a tool defined in a test
    return [t for t in TOOLS if t.name in wanted] + list(others.values())


_RANK = {name: i for i, name in enumerate(PROMPT_ORDER)}


def prompt_order(tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The tools in PROMPT_ORDER (so the same selection always gives the same text)."""
    ordered = registry_order(tools)
    return sorted(ordered, key=lambda t: _RANK.get(t.name, len(_RANK)))


def example_order(examples: Sequence[Any]) -> list[Any]:
    """Examples in a stable order: by their tools' PROMPT_ORDER ranks, then their text."""
    def key(e: Any) -> tuple:
        tools = getattr(e, "tools", ()) or ()
        ranks = sorted(_RANK.get(t, len(_RANK)) for t in tools)
        return (ranks, str(e.query), str(e.plan))

    return sorted(examples, key=key)


def useful_examples(examples: Sequence[Any], tools: Sequence[ToolSpec]) -> list[Any]:
    """The examples, in the order given, that each show a selected tool no earlier one showed.

    Every example costs ~75 tokens evaluated per request (they follow the tools, after the
    point where consecutive prompts differ); one that teaches nothing new is dropped.
    Examples without a `tools` attribute are all kept.
    """
    selected = {t.name for t in tools}
    shown: set[str] = set()
    kept: list[Any] = []
    for e in examples:
        used = set(getattr(e, "tools", None) or ())
        if not kept or not used or (used & selected) - shown:
            kept.append(e)
        shown |= used
    return kept


def prompt_prefix(tools: Sequence[ToolSpec], examples: Sequence[Any]) -> str:
    """The part of the prompt that does not depend on the request itself."""
    parts = [RULES, "\n", TOOLS_HEADER]
    parts += [describe_tool(t) for t in prompt_order(tools)]
    parts.append(JOIN_RULE)
    parts.append(optional_rule(tools))
    examples = useful_examples(examples, tools)
    if examples:
        parts.append(EXAMPLES_HEADER)
        parts += [_example_text(e) for e in example_order(examples)]
    return "".join(parts)


def request_part(query: str, *, today: dt.date, instructions: str = "", context: str = "") -> str:
    """What changes with every request: the date, the user's instructions, the question."""
    lines = ["", f"Today is {today.strftime('%A')}, {today.isoformat()}."]
    if instructions.strip():
        lines.append(f"The user's instructions: {' '.join(instructions.split())}")
    lines.append(f"Question: {' '.join(query.split())}")
    if context.strip():
        lines.append(context.rstrip())
    return "\n".join(lines) + "\n"


def build_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[Any], *, today: dt.date,
                 instructions: str = "", context: str = "") -> str:
    """The whole planner prompt; `context` carries a previous attempt when replanning."""
    return prompt_prefix(tools, examples) + request_part(query, today=today, instructions=instructions,
                                                          context=context)


def pick_examples(query: str, tools: Sequence[ToolSpec], k: int, pool: ExamplePool, *, within: bool = False,
                  exclude: str | None = None) -> list[Example]:
    """`k` in-context examples from `pool` (`ExamplePool.load_for_planning()`: the built-in and
    the user's, and what went wrong with the user's, which the caller says).

    `within`: TinyAgent's rule (only examples whose tools are all selected, most similar
    first); `exclude`: a query whose example must not be shown (evaluation).
    """
    if k <= 0:
        return []
    names = [t.name for t in tools]
    if within:
        return list(pool.pick_within(query, names, k, exclude=exclude))
    return list(pool.pick(query, names, k, exclude=exclude))
