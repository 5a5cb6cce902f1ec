"""The planner's prompt, laid out so consecutive requests share the longest token prefix.

Order: fixed rules, then the selected tools in registry order, then the in-context
examples, and only then what changes with every request (today's date, the user's
instructions, the question). llama-cpp-python keeps the KV cache of the previous prompt
and re-evaluates only from the first differing token, so requests with the same tools
and examples pay for the question alone (the paper re-evaluated ~1,400 tokens each time).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from core.plan import END_OF_PLAN
from tools.registry import TOOLS, ToolSpec

RULES = f"""Given a user query, create a plan to solve it with the utmost parallelizability.
Each step of the plan is one call to one of the tools listed below, or join().

Guidelines:
 - Write one step per line: the step number, a dot, a space, then the call, e.g. 2. send_sms(["$1"], "On my way").
 - Number the steps 1, 2, 3, ... in order.
 - Give every argument in order, without names, as a Python literal: "text" in double quotes, ["a", "b"], numbers, True/False, or None.
 - Use "$N" for the output of step N: alone ("$1", or ["$1", "$2"] in a list) or inside text ("Link: $3"). A step can only use earlier steps.
 - Look up each person's email address or phone number with a separate step; never guess them.
 - Steps that do not depend on each other can run at the same time, so do not make a step depend on another without need.
 - Dates and times are written 'YYYY-MM-DD HH:MM:SS'; work them out from today's date.
 - Use only the tools listed below, with exactly the arguments they take.
 - End the plan with join(){END_OF_PLAN} on its own numbered line after the last step.
"""

TOOLS_HEADER = "Tools:\n"
EXAMPLES_HEADER = "\nHere are some examples:\n"
JOIN_RULE = f"join(): collects and combines the results of the steps; always the last step, followed by {END_OF_PLAN}.\n"


def describe_tool(tool: ToolSpec) -> str:
    lines = [f"{tool.signature()} -> {tool.returns}", f" - {tool.description}"]
    lines += [f" - {p.name}: {p.description}" for p in tool.params]
    return "\n".join(lines) + "\n"


def _example_text(example: Any) -> str:
    plan = str(example.plan).strip()
    return f"Question: {' '.join(str(example.query).split())}\n{plan}\n###\n"


def registry_order(tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The tools in registry order (so the same selection always gives the same text)."""
    wanted = {t.name for t in tools}
    return [t for t in TOOLS if t.name in wanted]


def prompt_prefix(tools: Sequence[ToolSpec], examples: Sequence[Any]) -> str:
    """The part of the prompt that does not depend on the request itself."""
    parts = [RULES, "\n", TOOLS_HEADER]
    parts += [describe_tool(t) for t in registry_order(tools)]
    parts.append(JOIN_RULE)
    if examples:
        parts.append(EXAMPLES_HEADER)
        parts += [_example_text(e) for e in examples]
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


def pick_examples(query: str, tools: Sequence[ToolSpec], k: int) -> list[Any]:
    """In-context examples from ToolRAG's pool; none when the pool is not available."""
    if k <= 0:
        return []
    try:
        from core.toolrag.examples import ExamplePool
    except ImportError:
        return []
    try:
        return list(ExamplePool.load().pick(query, [t.name for t in tools], k))
    except Exception:  # a broken user examples file must not stop planning
        try:
            return list(ExamplePool.load(None).pick(query, [t.name for t in tools], k))
        except Exception:
            return []
