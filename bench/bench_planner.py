"""Planner benchmark: prompt sizes, prefix reuse, first dispatch, grammar cost, side by side in one run.

    .venv/bin/python bench/bench_planner.py [--queries 8] [--threads 2] [--model PATH] [--no-model]

1. Prompt size in tokens (the shared LLaMA vocab, vocab-only llama.cpp) over every shared query:
   all 16 tools vs the tools ToolRAG selects, each with the in-context examples the planner
   would pick. Paper: 2,762 vs 1,397 tokens. Then the prompt tokens evaluated per warm request,
   simulated over every shared query with LocalLLM's own reuse policy (live context + cached
   states): deterministic, and the figure the prefix-reuse goal (<= 300) is about.
2. On a TinyLlama-1.1B-shaped random-weight Q4_K_M model (built once and cached, see
   bench/tinyllama.py), for `--queries` shared queries run through the real Planner in turn:
   - prompt tokens evaluated per warm request (prefix reuse; goal <= 300), checked against the
     simulation of the same requests;
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
    from tinyagent.core.jsonl import parse_jsonl

    rows = [row for _, row in parse_jsonl(PLANS.read_text(encoding="utf-8"), str(PLANS))]  # split on "\n" only
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
    from tinyagent.core.config import Config

    config = Config()
    config.planner.temperature = 0.0
    return config


# -- 1. prompt sizes and the prefix-cache simulation -------------------------------------------------
KV_BYTES_PER_TOKEN = 22 * 2 * 4 * 64 * 2  # TinyLlama-1.1B: layers x (K, V) x KV heads x head dim x f16


def prompt_sizes(rows: list[dict], config) -> list[tuple[str, ...]]:
    """Print token counts and the simulated prefix reuse over all queries; returns ToolRAG's selection per row."""
    from tinyagent.core.planner.prompt import build_prompt
    from tinyagent.core.toolrag import ToolRAG
    from tinyagent.core.toolrag.examples import ExamplePool
    from tinyagent.tools.registry import REGISTRY, TOOLS

    k = config.planner.examples
    pool = ExamplePool.load(None)  # built-in examples only: the user's file must not change the figure
    try:
        toolrag = ToolRAG.from_config(config)
        source = "ToolRAG"
    except Exception as exc:  # no classifier yet: the reference tools stand in (an oracle ToolRAG)
        toolrag, source = None, "reference tools (oracle)"
        print(f"note: ToolRAG is not available ({exc}); using each query's reference tools instead")
    tokenize = vocab_tokenizer()
    counts: dict[str, list[int]] = {"all": [], "selected": [], "bare": []}
    selections: list[tuple[str, ...]] = []
    planner_tokens: list[list[int]] = []
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
            tokens = tokenize(build_prompt(query, use, examples, today=TODAY))
            counts[key].append(len(tokens))
            if key == "selected":
                planner_tokens.append(tokens)
    n = len(rows)
    print(f"== Prompt size in tokens over {n} shared queries (LLaMA 32k vocab; {time.perf_counter() - started:.1f} s) ==")
    print(f"{'':34}{'mean':>8}{'median':>8}{'p95':>8}{'max':>8}")
    for key, label in (("all", "all 16 tools + examples"), ("selected", "selected tools + examples"),
                       ("bare", "selected tools, no examples")):
        print(f"{label:34}{_summary(counts[key])}")
    ratio = statistics.mean(counts["selected"]) / statistics.mean(counts["all"])
    print(f"selected / all: {ratio:.2f}   (paper: 1,397 / 2,762 = 0.51)")
    print(f"selected by {source}: {statistics.mean(len(s) for s in selections):.1f} tools per query on average", end="")
    if toolrag is not None:
        print(f"; every reference tool selected in {covered / n:.1%} of queries "
              "(the built-in classifier saw this data in training: recall is optimistic)", end="")
    print()
    simulate_all(rows, planner_tokens, tokenize, config)
    profiles_side_by_side(rows, selections, planner_tokens, tokenize)
    return selections


def tinyagent_calls(rows: list[dict], selections: list[tuple[str, ...]], tokenize) -> tuple[list, list[int], list[int]]:
    """The tinyagent profile's model calls per request (plan, then joiner) in TinyAgent-1.1B's layout.

    Examples: TinyAgent's rule (within the selection, up to 6, most similar first), the
    evaluated query's own example excluded. The clock advances a minute per request, as it
    would in use: TinyAgent's prompt states the time before the examples.
    """
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.planner import tinyagent_join as tj
    from tinyagent.core.planner.chat import named
    from tinyagent.core.planner.profile_tinyagent import joiner_steps
    from tinyagent.core.planner.tinyagent import render
    from tinyagent.core.planner.tinyagent_text import MAX_EXAMPLES
    from tinyagent.core.toolrag.examples import ExamplePool

    pool = ExamplePool.load(None)
    layout = named("tinyllama-32k-instruct")
    start = dt.datetime.combine(TODAY, dt.time(9, 0))
    calls, plan_index, sizes = [], [], []
    for i, (row, selected) in enumerate(zip(rows, selections)):
        examples = pool.pick_within(row["query"], selected, MAX_EXAMPLES, exclude=row["query"])
        r = render(row["query"], selected, now=start + dt.timedelta(minutes=i), examples=examples)
        prompt = tokenize(layout.chat(r.system, r.user))
        plan_text = row["plan"].strip()
        plan_index.append(len(calls))
        sizes.append(len(prompt))
        calls.append((prompt, tokenize(plan_text, bos=False)))
        pad = tj.add_round("", joiner_steps(parse_plan(plan_text), None))
        calls.append((tokenize(layout.single(tj.joiner_prompt(row["query"], pad, final=False))), []))
    return calls, plan_index, sizes


def profiles_side_by_side(rows, selections, planner_tokens, tokenize) -> None:
    """Prompt tokens and tokens evaluated per warm request: compact vs tinyagent, one run."""
    from tinyagent.core.planner.llm import LocalLLM

    states = LocalLLM.__init__.__kwdefaults__["prompt_cache_states"]
    max_bytes = LocalLLM.__init__.__kwdefaults__["prompt_cache_bytes"]
    compact_calls, compact_index = product_calls(rows, planner_tokens, tokenize)
    ta_calls, ta_index, ta_sizes = tinyagent_calls(rows, selections, tokenize)
    print(f"== Profiles side by side, {len(rows)} shared queries (plan + joiner per request, "
          f"live + {states} cached states; the first, cold request excluded) ==")
    print(f"{'':52}{'mean':>8}{'median':>8}{'p95':>8}{'max':>8}")
    for label, calls, index, sizes in (("compact", compact_calls, compact_index, [len(p) for p in planner_tokens]),
                                       ("tinyagent (TinyAgent-1.1B layout)", ta_calls, ta_index, ta_sizes)):
        ev = simulate_reuse(calls, states=states, max_bytes=max_bytes)
        print(f"{label + ': prompt tokens':52}{_summary(sizes)}")
        print(f"{label + ': evaluated per warm request':52}{_summary([ev[i] for i in index][1:])}")


def _summary(values: list[int]) -> str:
    v = sorted(values)
    return f"{statistics.mean(v):8.0f}{statistics.median(v):8.0f}{v[int(0.95 * (len(v) - 1))]:8d}{v[-1]:8d}"


def vocab_tokenizer():
    """Tokenize exactly like the planner model does (LocalLLM.tokenize: BOS, SentencePiece space prefix)."""
    import llama_cpp

    from tinyagent.core.planner.llm import silence_llama_logs

    silence_llama_logs()
    vocab = llama_cpp.Llama(model_path=str(VOCAB), vocab_only=True, verbose=False)
    return lambda text, bos=True: list(vocab.tokenize(text.encode("utf-8"), add_bos=bos, special=False))


def simulate_reuse(calls: list[tuple[list[int], list[int]]], *, states: int,
                   max_bytes: int = 256 << 20) -> list[int]:
    """Prompt tokens evaluated per call under LocalLLM's own reuse policy (core.planner.llm.plan_reuse).

    `calls` are (prompt tokens, generated tokens) in order; the live context holds the last
    call's prompt + generated tokens, and the prefix cache (`states` states, `max_bytes`)
    keeps those of recent calls, exactly as LocalLLM does after each generation.
    """
    from tinyagent.core.planner.llm import _MIN_SAVED_TOKENS, CachedState, PrefixCache, plan_reuse

    cache = PrefixCache(states, max_bytes)
    live: list[int] = []
    evaluated = []
    for prompt, generated in calls:
        keep, entry = plan_reuse(live, cache, prompt)
        if entry is not None:
            cache.touch(entry)
        evaluated.append(len(prompt) - keep)
        live = prompt + generated
        if cache.max_states and len(live) >= _MIN_SAVED_TOKENS:
            known = cache.find(live)
            if known is not None:
                cache.touch(known)
            else:
                cache.add(CachedState(tuple(live), None, len(live) * KV_BYTES_PER_TOKEN))
    return evaluated


def product_calls(rows: list[dict], planner_tokens: list[list[int]], tokenize) -> tuple[list, list[int]]:
    """The model calls of the product per request: the plan, then the joiner; and which calls are plans."""
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.planner.profile_compact import join_prompt

    calls, plan_index = [], []
    for row, prompt in zip(rows, planner_tokens):
        plan_text = row["plan"].strip()
        plan_index.append(len(calls))
        calls.append((prompt, tokenize(plan_text, bos=False)))
        calls.append((tokenize(join_prompt(row["query"], parse_plan(plan_text), None)), []))
    return calls, plan_index


def simulate_all(rows: list[dict], planner_tokens: list[list[int]], tokenize, config) -> None:
    from tinyagent.core.planner.llm import LocalLLM

    states = LocalLLM.__init__.__kwdefaults__["prompt_cache_states"]
    max_bytes = LocalLLM.__init__.__kwdefaults__["prompt_cache_bytes"]
    plans_only = [(p, tokenize(r["plan"].strip(), bos=False)) for r, p in zip(rows, planner_tokens)]
    with_join, plan_index = product_calls(rows, planner_tokens, tokenize)
    print(f"== Simulated prompt tokens evaluated per warm planner request, {len(rows)} shared queries in file order ==")
    print("   (LocalLLM's reuse policy on the real token sequences; the first, cold request excluded)")
    print(f"{'':52}{'mean':>8}{'median':>8}{'p95':>8}{'max':>8}")
    cases = (("plans in a row", plans_only, None), ("plan + joiner per request (the product)", with_join, plan_index))
    for label, calls, pick in cases:
        for n_states in (0, states):
            ev = simulate_reuse(calls, states=n_states, max_bytes=max_bytes)
            ev = [ev[i] for i in pick] if pick else ev
            policy = "live context only" if n_states == 0 else f"live + {n_states} cached states"
            print(f"{label + ', ' + policy:52}{_summary(ev[1:])}")
    print(f"prompt tokens per planner request: mean {statistics.mean(len(p) for p in planner_tokens):.0f}   "
          f"(goal: evaluated <= 300)")


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
    from tinyagent.core.parser import parse_plan

    good = [(r, s) for r, s in zip(rows, selections)
            if set(r["tools"]) <= set(s) and not parse_plan(r["plan"]).errors]
    step = max(1, len(good) // n)
    return good[::step][:n]


async def model_measures(rows, selections, config, model: Path, args) -> None:
    from tinyagent.core.planner.grammar import PLANNER_LIMITS, plan_grammar
    from tinyagent.core.planner.llm import LocalLLM
    from tinyagent.core.planner.planner import Planner
    from tinyagent.core.planner.prompt import pick_examples
    from tinyagent.core.toolrag.examples import ExamplePool
    from tinyagent.tools.registry import REGISTRY

    chosen = pick_rows(rows, selections, args.queries)
    llm = LocalLLM(model, n_ctx=4096, n_threads=args.threads, use_extra_bufts="auto")

    class ReplayPlanner(Planner):
        forced = ""

        def grammar(self, tools):  # the reference plan, token by token, at the model's real speed
            return literal_grammar(self.forced)

    from tinyagent.core.planner.profiles import PromptSetup

    planner = ReplayPlanner(llm, config=config, setup=PromptSetup("compact", "the benchmark's own layout"))
    print(f"\n== Planner on {model.name}, {len(chosen)} queries, {args.threads} threads, "
          f"prompt cache {llm.prompt_cache.max_states} states ==")
    first_ratios, firsts, completes, evaluated, prompt_tokens = [], [], [], [], []
    calls, prompts = [], []
    tokenize = vocab_tokenizer()
    speed = {"grammar": [0, 0.0], "free": [0, 0.0]}
    cold = None
    pool = ExamplePool.load()
    # Pass 1: the plans, one request after another (what the prefix cache sees in a session).
    for i, (row, selected) in enumerate(chosen):
        tools = [REGISTRY[n] for n in selected]
        examples = pick_examples(row["query"], tools, config.planner.examples, pool)
        planner.forced = row["plan"].strip()
        started = time.perf_counter()
        first = None
        response = planner.stream_plan(row["query"], tools, examples, today=TODAY, instructions="")
        async for _task in response:
            first = first or time.perf_counter() - started
        complete = time.perf_counter() - started
        stats = response.stats
        prompts.append((response.prompt.text, tools))
        calls.append((tokenize(response.prompt.text), tokenize(planner.forced, bos=False)))
        if cold is None:
            cold = stats  # the first request fills the cache: not a warm request
        else:
            evaluated.append(stats.prompt_tokens_evaluated)
            prompt_tokens.append(stats.prompt_tokens)
            if first is not None:
                firsts.append(first)
                completes.append(complete)
                first_ratios.append(first / complete)
        print(f"  query {i + 1}: prompt {stats.prompt_tokens} tok, evaluated {stats.prompt_tokens_evaluated} "
              f"(restored {stats.restored_tokens}), plan {stats.generated_tokens} tok, "
              f"first task {first or float('nan'):.2f} s of {complete:.2f} s")
    simulated = simulate_reuse(calls, states=llm.prompt_cache.max_states, max_bytes=llm.prompt_cache.max_bytes)
    real = [cold.prompt_tokens_evaluated] + evaluated
    print(f"simulation vs llama.cpp, tokens evaluated per request: {simulated} vs {real} "
          f"({'match' if simulated == real else 'DIFFER'})")
    # Pass 2: grammar cost on each prompt (cached by now); alternate which goes first.
    for i, (prompt, tools) in enumerate(prompts):
        grammar = plan_grammar(tools, **PLANNER_LIMITS.as_kwargs())
        order = ("grammar", "free") if i % 2 == 0 else ("free", "grammar")
        for kind in order:
            s = llm.complete(prompt, grammar=grammar if kind == "grammar" else None,
                             max_tokens=args.gen_tokens, temperature=0.0).stats
            speed[kind][0] += s.generated_tokens
            speed[kind][1] += s.generate_seconds
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
