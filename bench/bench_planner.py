"""Planner benchmark: prompt sizes, prefix reuse, first dispatch, grammar cost, side by side in one run.

    .venv/bin/python bench/bench_planner.py [--queries 8] [--threads 2] [--model PATH] [--no-model]

1. Prompt size in tokens (the shared LLaMA vocab, vocab-only llama.cpp) over every shared query:
   all 16 tools vs the tools ToolRAG selects, each with the in-context examples the planner
   would pick. Paper: 2,762 vs 1,397 tokens.
2. On a TinyLlama-1.1B-shaped random-weight Q4_K_M model (built once and cached, see
   bench/tinyllama.py), for `--queries` shared queries run through the real Planner in turn:
   - prompt tokens evaluated per warm request (prefix reuse; goal <= 300);
   - time to the first dispatched task / time to the complete plan (goal <= 0.15), both from
     the start of `stream_plan`. Random weights write nonsense, so the model is made to write
     the query's reference plan (a grammar that accepts exactly that text): the token count
     and per-token cost are real, the words are the data set's;
   - generation speed with the plan grammar vs without (goal: overhead <= 10%), measured on
     the same cached prompt, alternating the order per query.
Timings on a shared 2-core machine are noisy: compare the ratios, which are taken within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
PLANS = DATA / "tinyagent_plans.jsonl"
VOCAB = DATA / "ggml-vocab-llama-spm.gguf"
TODAY = dt.date(2024, 5, 1)  # fixed, so runs are comparable


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=8, help="queries for the model measures (default 8)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, help="GGUF to use instead of the random TinyLlama-shaped one")
    ap.add_argument("--model-dir", type=Path, help="where to cache the random model (default: user cache)")
    ap.add_argument("--gen-tokens", type=int, default=48, help="tokens per grammar / no-grammar run")
    ap.add_argument("--no-model", action="store_true", help="only the token counts (no model, seconds)")
    args = ap.parse_args(argv)
    if args.queries < 1 or args.gen_tokens < 1:
        ap.error("--queries and --gen-tokens must be at least 1")
    if not PLANS.exists() or not VOCAB.exists():
        print(f"skipped: shared data not found ({PLANS.name} and {VOCAB.name} in {DATA})")
        return 0
    rows = [json.loads(line) for line in PLANS.read_text(encoding="utf-8").splitlines() if line.strip()]
    config = _config()
    selections = prompt_sizes(rows, config)
    if args.no_model:
        return 0
    model = args.model
    if model is None:
        from bench.tinyllama import build_tinyllama_q4

        model = build_tinyllama_q4(VOCAB, args.model_dir, threads=args.threads)
    elif not model.is_file():
        print(f"no such model file: {model}")
        return 2
    asyncio.run(model_measures(rows, selections, config, model, args))
    return 0


def _config():
    from core.config import Config

    config = Config()
    config.planner.temperature = 0.0
    return config


# -- 1. prompt sizes ------------------------------------------------------------------------------
def prompt_sizes(rows: list[dict], config) -> list[tuple[str, ...]]:
    """Print token counts over all queries; returns ToolRAG's selection per row."""
    from core.planner.llm import LocalLLM
    from core.planner.prompt import build_prompt
    from core.toolrag import ToolRAG
    from core.toolrag.examples import ExamplePool
    from tools.registry import REGISTRY, TOOLS

    k = config.planner.examples
    pool = ExamplePool.load(None)  # built-in examples only: the user's file must not change the figure
    try:
        toolrag = ToolRAG.from_config(config)
        source = "ToolRAG"
    except Exception as exc:  # no classifier yet: the reference tools stand in (an oracle ToolRAG)
        toolrag, source = None, "reference tools (oracle)"
        print(f"note: ToolRAG is not available ({exc}); using each query's reference tools instead")
    vocab = LocalLLM(VOCAB, vocab_only=True)
    counts: dict[str, list[int]] = {"all": [], "selected": [], "bare": []}
    selections: list[tuple[str, ...]] = []
    covered = 0
    started = time.perf_counter()
    all_names = [t.name for t in TOOLS]
    for row in rows:
        query = row["query"]
        if toolrag is None:
            selected = tuple(t for t in all_names if t in row["tools"])
        else:
            selected = toolrag.select(query).selected or tuple(all_names)
        selections.append(selected)
        covered += set(row["tools"]) <= set(selected)
        tools = [REGISTRY[n] for n in selected]
        for key, (use, names) in {"all": (TOOLS, all_names), "selected": (tools, selected),
                                  "bare": (tools, None)}.items():
            examples = pool.pick(query, names, k) if names is not None else []
            counts[key].append(len(vocab.tokenize(build_prompt(query, use, examples, today=TODAY))))
    vocab.close()
    n = len(rows)
    print(f"== Prompt size in tokens over {n} shared queries (LLaMA 32k vocab; {time.perf_counter() - started:.1f} s) ==")
    print(f"{'':34}{'mean':>8}{'median':>8}{'p95':>8}{'max':>8}")
    for key, label in (("all", "all 16 tools + examples"), ("selected", "selected tools + examples"),
                       ("bare", "selected tools, no examples")):
        v = sorted(counts[key])
        print(f"{label:34}{statistics.mean(v):8.0f}{statistics.median(v):8.0f}{v[int(0.95 * (n - 1))]:8d}{v[-1]:8d}")
    ratio = statistics.mean(counts["selected"]) / statistics.mean(counts["all"])
    print(f"selected / all: {ratio:.2f}   (paper: 1,397 / 2,762 = 0.51)")
    print(f"selected by {source}: {statistics.mean(len(s) for s in selections):.1f} tools per query on average", end="")
    if toolrag is not None:
        print(f"; every reference tool selected in {covered / n:.1%} of queries "
              "(the built-in classifier saw this data in training: recall is optimistic)", end="")
    print()
    return selections


# -- 2. on the model ---------------------------------------------------------------------------------
def literal_grammar(text: str) -> str:
    """GBNF that accepts exactly `text`."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    return f'root ::= "{"".join(out)}"\n'


def pick_rows(rows: list[dict], selections: list[tuple[str, ...]], n: int) -> list[tuple[dict, tuple[str, ...]]]:
    """Evenly spread queries whose reference plan parses and whose tools ToolRAG all selected."""
    from core.parser import parse_plan

    good = [(r, s) for r, s in zip(rows, selections)
            if set(r["tools"]) <= set(s) and not parse_plan(r["plan"]).errors]
    step = max(1, len(good) // n)
    return good[::step][:n]


async def model_measures(rows, selections, config, model: Path, args) -> None:
    from core.planner.grammar import PLANNER_LIMITS, plan_grammar
    from core.planner.llm import LocalLLM
    from core.planner.planner import Planner
    from core.planner.prompt import pick_examples
    from tools.registry import REGISTRY

    chosen = pick_rows(rows, selections, args.queries)
    llm = LocalLLM(model, n_ctx=4096, n_threads=args.threads, use_extra_bufts="auto")

    class ReplayPlanner(Planner):
        forced = ""

        def grammar(self, tools):  # the reference plan, token by token, at the model's real speed
            return literal_grammar(self.forced)

    planner = ReplayPlanner(llm, config=config)
    print(f"\n== Planner on {model.name}, {len(chosen)} queries, {args.threads} threads ==")
    first_ratios, firsts, completes, evaluated, prompt_tokens = [], [], [], [], []
    speed = {"grammar": [0, 0.0], "free": [0, 0.0]}
    cold = None
    for i, (row, selected) in enumerate(chosen):
        tools = [REGISTRY[n] for n in selected]
        examples = pick_examples(row["query"], tools, config.planner.examples)
        planner.forced = row["plan"].strip()
        started = time.perf_counter()
        first = None
        async for _task in planner.stream_plan(row["query"], tools, examples, today=TODAY, instructions=""):
            first = first or time.perf_counter() - started
        complete = time.perf_counter() - started
        stats = planner.stats
        if cold is None:
            cold = stats  # the first request fills the cache: not a warm request
        else:
            evaluated.append(stats.prompt_tokens_evaluated)
            prompt_tokens.append(stats.prompt_tokens)
            if first is not None:
                firsts.append(first)
                completes.append(complete)
                first_ratios.append(first / complete)
        # Grammar cost on the same (now cached) prompt; alternate which goes first.
        grammar = plan_grammar(tools, **PLANNER_LIMITS.as_kwargs())
        order = ("grammar", "free") if i % 2 == 0 else ("free", "grammar")
        for kind in order:
            llm.complete(planner.prompt, grammar=grammar if kind == "grammar" else None,
                         max_tokens=args.gen_tokens, temperature=0.0)
            s = llm.last_stats
            speed[kind][0] += s.generated_tokens
            speed[kind][1] += s.generate_seconds
        print(f"  query {i + 1}: prompt {stats.prompt_tokens} tok, evaluated {stats.prompt_tokens_evaluated}, "
              f"plan {stats.generated_tokens} tok, first task {first or float('nan'):.2f} s of {complete:.2f} s")
    llm.close()
    print(f"cold request: {cold.prompt_tokens} prompt tokens in {cold.prompt_seconds:.1f} s "
          f"({cold.prompt_tokens / max(cold.prompt_seconds, 1e-9):.0f} tok/s)")
    if evaluated:
        print(f"warm requests ({len(evaluated)}): prompt {statistics.mean(prompt_tokens):.0f} tokens, evaluated "
              f"mean {statistics.mean(evaluated):.0f} / median {statistics.median(evaluated):.0f} / "
              f"max {max(evaluated)}   (goal <= 300)")
    if first_ratios:
        print(f"first dispatched task / complete plan: mean {statistics.mean(first_ratios):.2f}, "
              f"median {statistics.median(first_ratios):.2f}   (goal <= 0.15; "
              f"mean {statistics.mean(firsts):.2f} s of {statistics.mean(completes):.2f} s)")
    g, f = (speed[k][0] / max(speed[k][1], 1e-9) for k in ("grammar", "free"))
    print(f"generation: with grammar {g:.1f} tok/s, without {f:.1f} tok/s, overhead {f / g - 1:+.0%}   "
          f"(goal <= +10%; {speed['grammar'][0]} and {speed['free'][0]} tokens)")


if __name__ == "__main__":
    sys.exit(main())
