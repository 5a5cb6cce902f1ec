"""The planner benchmark's own pieces: the replay grammar and the skip without shared data."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import bench_planner  # noqa: E402
from tinyagent.core.planner.grammar_check import GrammarMatcher  # noqa: E402


def accepts(grammar: str, text: str, llm) -> bool:
    matcher = GrammarMatcher(grammar, llm.vocab)
    try:
        return all(matcher.accept(t) for t in llm.tokenize(text, bos=False)) and matcher.complete()
    finally:
        matcher.close()


def test_literal_grammar_accepts_exactly_its_text(vocab_llm):
    text = '1. create_note("Caf\u00e9 \u201cplans\u201d \\ done", "a\tb")\n2. join()<END_OF_PLAN>'
    grammar = bench_planner.literal_grammar(text)
    assert accepts(grammar, text, vocab_llm)
    assert not accepts(grammar, text[:-1], vocab_llm)  # incomplete: EOS not allowed yet
    assert not accepts(grammar, text.replace("Caf", "Kaf"), vocab_llm)


def test_literal_grammar_accepts_the_shared_reference_plans(shared_plans, vocab_llm):
    for row in shared_plans[::50]:
        plan = row["plan"].strip()
        assert accepts(bench_planner.literal_grammar(plan), plan, vocab_llm), row["id"]


def test_benchmark_skips_cleanly_without_shared_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_planner, "PLANS", tmp_path / "absent.jsonl")
    assert bench_planner.main(["--no-model"]) == 0
    assert capsys.readouterr().out.startswith("skipped: shared data not found")


def test_simulation_follows_the_models_reuse_policy():
    rules = list(range(1, 400))
    a = (rules + [1000, 1001], [5, 6])
    join = (list(range(2000, 2100)), [])
    b = (rules + [1002, 1003, 1004], [7])
    calls = [a, join, b]
    # Live context only: the joiner evicts the plan prompt, so b is evaluated in full.
    assert bench_planner.simulate_reuse(calls, states=0) == [401, 100, 402]
    # With cached states, b restores a's state and evaluates only its own 3 tokens.
    assert bench_planner.simulate_reuse(calls, states=8) == [401, 100, 3]
