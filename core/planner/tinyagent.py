"""The `tinyagent` prompt profile: the planner's system and user texts exactly as TinyAgent sends them.

Assembled as TinyAgent's generate_llm_compiler_prompt (src/llm_compiler/planner.py),
get_planner_custom_instructions_prompt (src/tiny_agent/prompts.py), the example block of
base_tool_rag.py and Planner.run_llm's human message, at SqueezeAILab/TinyAgent 0074615
(MIT, see NOTICE). The texts themselves are in tinyagent_text.py. The golden cases in
../shared/golden/planner_prompts.jsonl (rendered by TinyAgent's own code) are the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tinyagent.core.planner import tinyagent_text as T

NOW_FORMAT = "%A %Y-%m-%d %H:%M"


def tool_order(names: Iterable[str]) -> list[str]:
    """The tools in get_tiny_agent_tools' order, whatever order they were selected in."""
    wanted = set(names)
    return [n for n in T.TOOL_ORDER if n in wanted]


def example_text(query: str, plan: str) -> str:
    """One in-context example; a plan missing its final newline gets one (TinyAgent's all have it)."""
    return f"Question: {query}\n{plan if plan.endswith(chr(10)) else plan + chr(10)}"


def example_block(examples: Sequence[Any] | None) -> str:
    """`"###\\n".join(texts) + "###\\n"`; None means TinyAgent's built-in examples."""
    if examples is None:
        return T.DEFAULT_EXAMPLES
    return "###\n".join(example_text(str(e.query), str(e.plan)) for e in examples) + "###\n"


def custom_instructions(tools: Sequence[str], now: dt.datetime, instructions: str | None) -> str:
    """The fixed rules with the date, the rules of the offered tools, then the user's own words."""
    text = T.FIXED_RULES.replace("{now}", now.strftime(NOW_FORMAT))
    offered = set(tools)
    text += "".join(rule for group, rule in T.TOOL_SPECIFIC_RULES if group & offered)
    if instructions:
        text += f" - {instructions}"
    return text


def system_prompt(tools: Sequence[str], *, now: dt.datetime, examples: Sequence[Any] | None = None,
                  instructions: str | None = None, replan: bool = False) -> str:
    """generate_llm_compiler_prompt: replans use TinyAgent's replan examples and extra guidelines."""
    names = tool_order(tools)
    unknown = set(tools) - set(names)
    if unknown:
        raise ValueError(f"not TinyAgent tools: {', '.join(sorted(unknown))}")
    parts = [T.HEADER.format(n=len(names) + 1)]
    parts += [f"{i}. {T.TOOL_DESCRIPTIONS[name]}\n" for i, name in enumerate(names, 1)]
    parts.append(f"{len(names) + 1}. {T.JOIN_DESCRIPTION}\n\n")
    parts.append(T.GUIDELINES)
    parts.append(f"{custom_instructions(names, now, instructions)}\n\n")
    if replan:
        parts.append(T.REPLAN_GUIDELINES)
    parts.append(T.EXAMPLES_HEADER)
    parts.append(T.REPLAN_EXAMPLES if replan else example_block(examples))
    return "".join(parts)


def user_prompt(query: str, context: str = "") -> str:
    """Planner.run_llm's human message; `context` is the formatted Previous Plan(s) of a replan."""
    return f"Question: {query}\n{context}\n" if context else f"Question: {query}"


@dataclass(frozen=True)
class Rendered:
    system: str
    user: str
    tool_order: tuple[str, ...]


def render(query: str, tools: Sequence[str], *, now: dt.datetime, examples: Sequence[Any] | None = None,
           instructions: str | None = None, context: str = "") -> Rendered:
    """Both messages of one planner call; a non-empty `context` makes it a replan."""
    replan = bool(context)
    return Rendered(system_prompt(tools, now=now, examples=examples, instructions=instructions, replan=replan),
                    user_prompt(query, context), tuple(tool_order(tools)))
