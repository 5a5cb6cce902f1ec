"""Recorded plans run through llama.cpp's own grammar engine, token by token.

`check_plans` feeds each plan's tokens to a grammar sampler (the low-level sampler API)
exactly as generation would constrain them, and says where and why a plan is rejected.
It sits above the builder (core/planner/grammar.py) and the runtime (core/planner/llm.py).
"""

from __future__ import annotations

import ctypes
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from tinyagent.core.parser import parse_plan
from tinyagent.core.planner.grammar import PLANNER_LIMITS, GrammarError, plan_grammar
from tinyagent.core.planner.llm import LocalLLM
from tinyagent.tools.registry import REGISTRY, TOOLS, ToolSpec


class GrammarMatcher:
    """Feeds tokens through a grammar sampler one at a time, never accepting a rejected one."""

    def __init__(self, text: str, vocab: Any):
        import llama_cpp  # heavy runtime: loaded only when a check runs

        self._ll = llama_cpp
        self.vocab = vocab
        self.sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root") or None
        if self.sampler is None:  # NULL: llama.cpp could not parse the grammar
            raise GrammarError("llama.cpp could not parse the grammar")
        self._data = (llama_cpp.llama_token_data * 1)()
        self._array = llama_cpp.llama_token_data_array(data=self._data, size=1, selected=-1, sorted=False)

    def allowed(self, token: int) -> bool:
        entry = self._data[0]
        entry.id, entry.logit, entry.p = ctypes.c_int32(token), 0.0, 0.0
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
    doc = normalize_plan.__doc__ or ""
    return {"total": total, "accepted": total - len(rejected), "rejected": rejected,
            "normalization": doc.split("\n\n", 1)[1].strip() if "\n\n" in doc else ""}


def _check_one(text: str, grammar: str, llm: LocalLLM, tools: tuple[str, ...]) -> str | None:
    matcher = GrammarMatcher(grammar, llm.vocab)
    try:
        consumed = 0
        for token in llm.tokenize(text, bos=False):
            if not matcher.accept(token):
                return _explain(text, consumed, tools)
            consumed += len(llm.piece(token).decode("utf-8", "replace"))
        if not matcher.complete():
            return _explain(text, len(text), tools, ended=True)
        return None
    finally:
        matcher.close()


def _explain(text: str, at: int, tools: tuple[str, ...], ended: bool = False) -> str:
    """A human reason: the parser's first complaint if it has one, and where the grammar stopped."""
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
