"""A GBNF grammar for plans, generated from the tool registry, and a checker for it.

The grammar makes the model write only plans the parser accepts and the validator passes:

    1. get_email_address("Sid")
    Thought: optional, before any step
    2. send_sms(["$1"], "Running late")  # optional comment
    3. join()<END_OF_PLAN>

- ids start at 1 and increase by one; at most `max_tasks` tasks, at least one;
- only the tools in the prompt, each with its exact arity and declared argument types
  (str: a string or None; list[str]: a list of strings, a whole "$N", or None; int: a
  number, "$N" or None; bool: True, False or None);
- `$N` (or `${N}`) only for earlier tasks, never followed by a digit (that would read as
  another number), and never a bare `$` otherwise;
- every string, list, thought and comment is bounded, so a weak model cannot ramble;
- `join()<END_OF_PLAN>` last (a newline between the two is allowed: the real model
  writes that), then only end-of-text;
- with `kinds=True`, dates, recipients and some ints get their real shapes, and no string
  starts with a "$" that is no reference (see core/planner/grammar_kinds.py).

`check_plans` runs real plans through llama.cpp's own grammar engine (the low-level
sampler API), token by token, exactly as generation would constrain them.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.planner import grammar_kinds as gk
from tools.registry import BOOL, INT, LIST_STR, REGISTRY, STR, TOOLS, ToolSpec

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
            args = ' ", " '.join(gk.rule_for(kind_of[t.name, p.name], k) if kind_of[t.name, p.name]
                                 else f"{_type_rule(p.type)}-{k}" for p in t.params)
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


def max_plan_bytes(tools: Sequence[ToolSpec], *, max_tasks: int = 12, max_string: int = 200,
                   max_list: int = 6, thoughts: bool = True, comments: bool = True, kinds: bool = False) -> int:
    """An upper bound on the UTF-8 length of any plan the grammar allows (tokens <= bytes).

    Use it to pick limits that fit `max_tokens`: a plan cut off by the token limit is invalid.
    """
    string = 2 + 5 * max_string + 4  # quotes; each item at most 5 bytes ("${12}"); a trailing "$12"
    value = {STR: string, LIST_STR: 2 + max_list * (string + 2), INT: 10, BOOL: 5}
    per_task = 0
    for t in tools:
        args = sum(max(value[p.type], gk.kind_bytes(gk.kind_of(t, p), max_list) if kinds and gk.kind_of(t, p) else 0)
                   for p in t.params) + 2 * max(0, t.arity - 1)
        per_task = max(per_task, len(t.name) + 2 + args)
    per_task += 4 + 1  # "12. " and the newline
    if thoughts:
        per_task += 9 + 4 * max_string + 1
    if comments:
        per_task += 3 + 4 * MAX_COMMENT
    last = 4 + len("join()\n<END_OF_PLAN>") + ((9 + 4 * max_string + 1) if thoughts else 0)
    return max_tasks * per_task + last


# -- llama.cpp's own engine ------------------------------------------------------------------
def _init_sampler(text: str, vocab: Any) -> Any:
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
    return sampler or None  # NULL: llama.cpp could not parse the grammar


def grammar_is_valid(text: str, vocab: Any) -> bool:
    """Parse `text` with llama.cpp's grammar parser (a NULL sampler means a parse error)."""
    import llama_cpp

    sampler = _init_sampler(text, vocab)
    if sampler is None:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def validate_grammar(text: str, vocab_llm: Any) -> None:
    """Raise GrammarError unless llama.cpp accepts the grammar (`vocab_llm`: a LocalLLM)."""
    if not grammar_is_valid(text, vocab_llm.vocab):
        raise GrammarError("llama.cpp could not parse the grammar")


class _Matcher:
    """Feeds tokens through a grammar sampler one at a time, never accepting a rejected one."""

    def __init__(self, text: str, vocab: Any):
        import llama_cpp

        self._ll = llama_cpp
        self.vocab = vocab
        self.sampler = _init_sampler(text, vocab)
        if self.sampler is None:
            raise GrammarError("llama.cpp could not parse the grammar")
        self._data = (llama_cpp.llama_token_data * 1)()
        self._array = llama_cpp.llama_token_data_array(data=self._data, size=1, selected=-1, sorted=False)

    def allowed(self, token: int) -> bool:
        self._data[0].id, self._data[0].logit, self._data[0].p = token, 0.0, 0.0
        self._array.size, self._array.selected = 1, -1
        self._ll.llama_sampler_apply(self.sampler, ctypes.byref(self._array))
        return not math.isinf(self._data[0].logit)

    def accept(self, token: int) -> bool:
        """Accept `token` if the grammar allows it; False (and nothing accepted) otherwise."""
        if not self.allowed(token):
            return False
        self._ll.llama_sampler_accept(self.sampler, token)
        return True

    def complete(self) -> bool:
        return self.allowed(self._ll.llama_vocab_eos(self.vocab))

    def close(self) -> None:
        if self.sampler is not None:
            self._ll.llama_sampler_free(self.sampler)
            self.sampler = None


# -- checking real plans -----------------------------------------------------------------------
def normalize_plan(text: str) -> str:
    """The known noise in recorded plans, removed before checking:

    - Windows line ends become "\\n"; trailing spaces on a line go;
    - blank lines go (the model never needs them);
    - anything after `<END_OF_PLAN>` (the records end with a newline) goes.
    Everything else is checked as written: prose lines, wrong types or numbering are rejects.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    end = text.find("<END_OF_PLAN>")
    if end != -1:
        text = text[: end + len("<END_OF_PLAN>")]
    return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())


def check_plans(records: Iterable[dict], vocab_model_path: Any, tools: Sequence[ToolSpec] | None = None,
                **limits: Any) -> dict:
    """How many recorded plans the grammar accepts, with a reason for each one it rejects.

    Each record is {id, plan, tools?}. With `tools=None` each plan is checked against a
    grammar over its own `tools` list in registry order (what ToolRAG would select), or all
    16 tools when the record has none. `vocab_model_path` is any GGUF with the model's
    vocabulary (a vocab-only file is enough); `limits` override PLANNER_LIMITS.
    """
    from core.planner.llm import LocalLLM

    llm = LocalLLM(vocab_model_path, vocab_only=True)
    grammars: dict[tuple[str, ...], str] = {}
    rejected: list[dict] = []
    total = 0
    try:
        for record in records:
            total += 1
            rid = str(record.get("id", total))
            text = normalize_plan(str(record.get("plan", "")))
            names = [t.name for t in tools] if tools is not None else list(record.get("tools") or REGISTRY)
            unknown = [n for n in names if n not in REGISTRY]
            if unknown:
                rejected.append({"id": rid, "reason": f"unknown tool(s) in the record: {', '.join(unknown)}"})
                continue
            key = tuple(t.name for t in TOOLS if t.name in names)
            if key not in grammars:
                grammars[key] = plan_grammar([REGISTRY[n] for n in key], **{**PLANNER_LIMITS.as_kwargs(), **limits})
            reason = _check_one(text, grammars[key], llm, key)
            if reason:
                rejected.append({"id": rid, "reason": reason})
    finally:
        llm.close()
    return {"total": total, "accepted": total - len(rejected), "rejected": rejected,
            "normalization": normalize_plan.__doc__.split("\n\n", 1)[1].strip() if normalize_plan.__doc__ else ""}


def _check_one(text: str, grammar: str, llm: Any, tools: tuple[str, ...]) -> str | None:
    matcher = _Matcher(grammar, llm.vocab)
    try:
        consumed = 0
        for token in llm.tokenize(text, bos=False):
            if not matcher.accept(token):
                return _explain(text, consumed, tools)
            consumed += len(llm._piece(token).decode("utf-8", "replace"))
        if not matcher.complete():
            return _explain(text, len(text), tools, ended=True)
        return None
    finally:
        matcher.close()


def _explain(text: str, at: int, tools: tuple[str, ...], ended: bool = False) -> str:
    """A human reason: the parser's first complaint if it has one, and where the grammar stopped."""
    from core.parser import parse_plan

    line_no = text.count("\n", 0, at) + 1
    line = text.split("\n")[line_no - 1] if text else ""
    plan = parse_plan(text + "\n", {n: REGISTRY[n] for n in tools})
    why = next((str(d) for d in plan.errors), None) or next((str(d) for d in plan.warnings), None)
    col = at - (text.rfind("\n", 0, at) + 1)
    where = ("the plan ends before join()<END_OF_PLAN>" if ended
             else f"line {line_no}, column {col + 1}: {_clip(line[max(0, col - 30): col])} ^ {_clip(line[col: col + 30])}")
    return f"{where}" + (f"; parser: {why}" if why else "")


def _clip(line: str, width: int = 90) -> str:
    line = re.sub(r"\s+", " ", line)
    return repr(line if len(line) <= width else line[: width - 1] + "…")
