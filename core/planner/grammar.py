"""A GBNF grammar for plans, generated from the tool registry (text only: no llama.cpp here).

The grammar makes the model write only plans the parser accepts and the validator passes:

    1. get_email_address("Sid")
    Thought: optional, before any step
    2. send_sms(["$1"], "Running late")  # optional comment
    3. join()<END_OF_PLAN>

- ids start at 1 and increase by one; at most `max_tasks` tasks, at least one;
- only the tools in the prompt, each with its exact arity (trailing optional parameters, which
  only MCP tools have, may be left out) and declared argument types
  (str: a string or None; list[str]: a list of strings, a whole "$N", or None; int: a
  number, "$N" or None; bool: True, False or None);
- `$N` (or `${N}`) only for earlier tasks, never followed by a digit (that would read as
  another number), and never a bare `$` otherwise;
- every string, list, thought and comment is bounded, so a weak model cannot ramble;
- `join()<END_OF_PLAN>` last (a newline between the two is allowed: the real model
  writes that), then only end-of-text;
- with `kinds=True`, dates, recipients and some ints get their real shapes, and no string
  starts with a "$" that is no reference (see core/planner/grammar_kinds.py).

The layers, in their one direction of import: this builder; the llama.cpp runtime
(core/planner/llm.py), which refuses a grammar llama.cpp cannot parse; and the checker
(core/planner/grammar_check.py), which runs recorded plans through llama.cpp's engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from tinyagent.core.planner import grammar_kinds as gk
from tinyagent.tools.registry import BOOL, INT, LIST_STR, STR, ToolSpec

MAX_COMMENT = 120
_PLAIN = r'[^"\\$\x00-\x1f]'  # any string character except quote, backslash, $ and controls
_ESCAPE = "\"\\\\\" [\"\\\\bfnrt']"  # Python escapes: \\ \" \b \f \n \r \t \'


class GrammarError(ValueError):
    """A grammar that llama.cpp cannot use (or the request for one makes no sense)."""


@dataclass(frozen=True)
class GrammarLimits:
    """The limits the planner uses. Real plans have strings up to ~440 characters (long email
    contexts and note contents), so strings get 480; the real model never writes more than 8
    tasks or 3 list items."""

    max_tasks: int = 12
    max_string: int = 480
    max_list: int = 6
    thoughts: bool = True
    comments: bool = True
    kinds: bool = False  # argument kinds (planner.grammar_kinds)

    def as_kwargs(self) -> dict[str, Any]:
        return {"max_tasks": self.max_tasks, "max_string": self.max_string, "max_list": self.max_list,
                "thoughts": self.thoughts, "comments": self.comments, "kinds": self.kinds}


PLANNER_LIMITS = GrammarLimits()


def limits_for(config: Any, limits: GrammarLimits = PLANNER_LIMITS) -> GrammarLimits:
    """`limits` with the config's `planner.grammar_kinds` (a config without the key leaves them)."""
    kinds = getattr(getattr(config, "planner", None), "grammar_kinds", None)
    return limits if kinds is None or bool(kinds) == limits.kinds else replace(limits, kinds=bool(kinds))


def _rule_name(tool: ToolSpec) -> str:
    return "t-" + tool.name.replace("_", "-")


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ids(k: int) -> str:
    """Alternatives for the ids a task k may refer to: 1..k-1, longest first."""
    return " | ".join(_literal(str(i)) for i in range(k - 1, 0, -1))


def plan_grammar(tools: Sequence[ToolSpec], *, max_tasks: int = 12, max_string: int = 200,
                 max_list: int = 6, thoughts: bool = True, comments: bool = True, kinds: bool = False) -> str:
    """GBNF for plans over `tools` (in the order given; duplicates ignored)."""
    tools = list({t.name: t for t in tools}.values())
    if not tools:
        raise GrammarError("a plan grammar needs at least one tool")
    if not 1 <= max_tasks <= 99:
        raise GrammarError("max_tasks must be between 1 and 99")
    if max_string < 1 or max_list < 1:
        raise GrammarError("max_string and max_list must be at least 1")
    types = {p.type for t in tools for p in t.params}
    kind_of = {(t.name, p.name): gk.kind_of(t, p) if kinds else None for t in tools for p in t.params}
    used_kinds = {kind for kind in kind_of.values() if kind}
    lines: list[str] = ["root ::= step-1"]
    first = "thought? " if thoughts else ""
    tail = ' comment?' if comments else ""
    for k in range(1, max_tasks + 2):
        head = f'{first}"{k}. "'
        if k == max_tasks + 1:
            lines.append(f"step-{k} ::= {head} join")
            continue
        call = f'call-{k}{tail} "\\n" step-{k + 1}'
        lines.append(f"step-{k} ::= {head} ({call})" if k == 1 else f"step-{k} ::= {head} (join | {call})")
        lines.append(f"call-{k} ::= " + " | ".join(f"{_rule_name(t)}-{k}" for t in tools))
        for t in tools:
            args = _arguments([_value_rule(kind_of[t.name, p.name], p.type, k) for p in t.params], t.required)
            body = f'"{t.name}(" {args} ")"' if args else f'"{t.name}()"'
            lines.append(f"{_rule_name(t)}-{k} ::= {body}")
        lines += _typed_rules(k, types, max_string, max_list, kinds)
        lines += gk.step_rules(k, used_kinds, max_list)
    lines += gk.kind_rules(used_kinds)
    lines.append('join ::= "join()" "\\n"? "<END_OF_PLAN>"')
    lines.append(f"plain ::= {_PLAIN}")
    lines.append(f"esc ::= {_ESCAPE}")
    # A "$" not followed by a digit or "{" is plain text to the parser ("$content").
    lines.append('dollar ::= "$" [^0-9{"\\\\$\\x00-\\x1f]')
    lines.append('nondigit ::= [^0-9"\\\\$\\x00-\\x1f]')
    if thoughts:
        lines.append(f'thought ::= "Thought: " [^\\x00-\\x1f]{{1,{max_string}}} "\\n"')
    if comments:
        lines.append(f'comment ::= " "{{1,2}} "#" [^\\x00-\\x1f]{{0,{MAX_COMMENT}}}')  # no controls: a bare CR would end the line
    return "\n".join(lines) + "\n"


def _arguments(values: list[str], required: int) -> str:
    """The argument list: the required values, then each optional one only after the one before
    it (a plan leaves out trailing optional arguments, never one in the middle)."""
    tail = ""
    for i in range(len(values) - 1, required - 1, -1):
        sep = '", " ' if i > 0 else ""
        tail = f"({sep}{values[i]}{' ' + tail if tail else ''})?"
    return " ".join(part for part in (' ", " '.join(values[:required]), tail) if part)


def _value_rule(kind: str | None, type_: str, k: int) -> str:
    """The rule of one argument of step k: its kind's where it has one, else its type's."""
    return gk.rule_for(kind, k) if kind else f"{_type_rule(type_)}-{k}"


def _type_rule(type_: str) -> str:
    return {STR: "str", LIST_STR: "list", INT: "int", BOOL: "bool"}[type_]


def _typed_rules(k: int, types: set[str], max_string: int, max_list: int, kinds: bool = False) -> list[str]:
    """The value rules of step k: strings may refer to tasks 1..k-1 only."""
    rules: list[str] = []
    refs = k > 1
    if refs:
        rules.append(f"id-{k} ::= {_ids(k)}")
        rules.append(f'ref-{k} ::= "\\"$" id-{k} "\\""')
        # After "$N" comes anything but a digit (it would make another number).
        lead = f'plain | esc | "$" id-{k} (nondigit | esc) | "${{" id-{k} "}}"'
        rules.append(f"item-{k} ::= {lead} | dollar")
        tail = f'("$" id-{k} | "$")'
        if kinds:  # no "$" that is no reference at the start: "$Subject" is a weak model's slip
            rules.append(f"lead-{k} ::= {lead}")
            rules.append(f'string-{k} ::= "\\"" (lead-{k} item-{k}{{0,{max_string - 1}}} {tail}? | "$" id-{k})? "\\""')
        else:
            rules.append(f'string-{k} ::= "\\"" item-{k}{{0,{max_string}}} {tail}? "\\""')
    elif kinds:
        rules.append(f'string-{k} ::= "\\"" ((plain | esc) (plain | esc | dollar){{0,{max_string - 1}}} "$"?)? "\\""')
    else:
        rules.append(f'string-{k} ::= "\\"" (plain | esc | dollar){{0,{max_string}}} "$"? "\\""')
    ref = f" | ref-{k}" if refs else ""
    if STR in types:
        rules.append(f'str-{k} ::= string-{k} | "None"')
    if LIST_STR in types:
        items = f'(string-{k} (", " string-{k}){{0,{max_list - 1}}})?'
        rules.append(f'list-{k} ::= "[" {items} "]" | "None"{ref}')
    if INT in types:
        rules.append(f'int-{k} ::= "-"? [0-9]{{1,9}} | "None"{ref}')
    if BOOL in types:
        rules.append(f'bool-{k} ::= "True" | "False" | "None"')
    return rules


def _kind_bytes(kind: str | None, max_list: int) -> int:
    return gk.kind_bytes(kind, max_list) if kind else 0


def max_plan_bytes(tools: Sequence[ToolSpec], *, max_tasks: int = 12, max_string: int = 200,
                   max_list: int = 6, thoughts: bool = True, comments: bool = True, kinds: bool = False) -> int:
    """An upper bound on the UTF-8 length of any plan the grammar allows (tokens <= bytes).

    Use it to pick limits that fit `max_tokens`: a plan cut off by the token limit is invalid.
    """
    string = 2 + 5 * max_string + 4  # quotes; each item at most 5 bytes ("${12}"); a trailing "$12"
    value = {STR: string, LIST_STR: 2 + max_list * (string + 2), INT: 10, BOOL: 5}
    per_task = 0
    for t in tools:
        args = sum(max(value[p.type], _kind_bytes(gk.kind_of(t, p) if kinds else None, max_list))
                   for p in t.params) + 2 * max(0, t.arity - 1)
        per_task = max(per_task, len(t.name) + 2 + args)
    per_task += 4 + 1  # "12. " and the newline
    if thoughts:
        per_task += 9 + 4 * max_string + 1
    if comments:
        per_task += 3 + 4 * MAX_COMMENT
    last = 4 + len("join()\n<END_OF_PLAN>") + ((9 + 4 * max_string + 1) if thoughts else 0)
    return max_tasks * per_task + last
