"""Does a grammar accept a text? Asked of llama.cpp's own grammar engine, token by token."""

from __future__ import annotations

from tinyagent.core.planner.grammar_check import GrammarMatcher


def grammar_accepts(llm, grammar: str, text: str) -> bool:
    """`llm`: a LocalLLM (a vocab-only one is enough) whose tokenizer splits `text`."""
    matcher = GrammarMatcher(grammar, llm.vocab)
    try:
        return all(matcher.accept(t) for t in llm.tokenize(text, bos=False)) and matcher.complete()
    finally:
        matcher.close()
