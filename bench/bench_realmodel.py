"""The product on real weights, side by side in one run: quality, stage latency, and the llama.cpp floor.

    .venv/bin/python bench/bench_realmodel.py [--model PATH] [--queries 3] [--configs compact,compact-ng,tinyagent]
                                              [--no-threads] [--no-lookup] [--no-cold] [--json]

Each request goes through the whole pipeline (`Pipeline.ask`, dry run on the sandbox: ToolRAG,
prompt, streamed plan, execution, join when it is needed) and is scored against the shared
reference plan with `core.evaluation` (the paper's DAG isomorphism, plan-tool recall).
Configurations: a prompt profile (`compact`, `tinyagent`) with the plan grammar on, or off
(suffix `-ng`), or on with argument kinds (suffix `+k`: planner.grammar_kinds).

Then, with plain llama.cpp calls on the same model and threads:
- prompt tok/s (a 256-token prompt evaluated from an empty cache) and generation tok/s
  (greedy, no grammar), giving each request's floor = new prompt tokens / prompt tok/s +
  plan tokens / generation tok/s, and end-to-end / floor (goal <= 1.3);
- the same speeds at 1 and 2 threads (and `auto` = all cores), to choose the default;
- prompt-lookup decoding (llama_cpp.llama_speculative.LlamaPromptLookupDecoding) against plain
  decoding of the same planner prompts with the grammar on: seconds and whether the plan is
  the same text;
- a cold request (fresh pipeline: model, ToolRAG and example pool load inside it) and the
  same request warm.

Queries: `--queries` shared reference plans with 2-3 steps, a seeded sample (a few minutes on 2
cores; long plans take minutes each on a loaded machine), plus one more as a warm-up. Each
configuration has its own loaded copy of the model (same file and threads), so each keeps its
own warm prompt cache; the configurations take turns per query in a rotating order, so load
swings on a shared machine hit all of them; the plain llama.cpp speeds are measured between
rounds and each request's floor uses those around it. Timings on a shared machine are
noisy: read the ratios, which are taken within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLANS = ROOT.parent / "shared" / "data" / "tinyagent_plans.jsonl"
DEFAULT_MODEL = Path("~/.cache/tinyagent/test-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").expanduser()
STAGES = ("toolrag", "prompt", "first_dispatch", "plan_complete", "join", "total")


def _config(profile: str, threads: int, kinds: bool = False) -> Any:
    from tinyagent.core.config import Config

    config = Config(backend="sandbox")
    config.planner.prompt = profile
    config.planner.grammar_kinds = kinds
    config.planner.threads = threads
    config.planner.max_replans = 0  # one attempt: the figures are per plan
    return config


def pick_queries(n: int, seed: int = 0) -> list[dict]:
    from tinyagent.core.evaluation import read_jsonl

    def steps(record: dict) -> int:
        return sum(1 for line in str(record.get("plan", "")).splitlines() if line.strip() and "join()" not in line)

    rows = sorted((r for r in read_jsonl(PLANS) if 2 <= steps(r) <= 3), key=lambda r: str(r.get("id", "")))
    return random.Random(seed).sample(rows, min(n, len(rows)))


async def one_request(pipeline: Any, record: dict, grammar: bool = True) -> dict:
    """One request end to end, scored, with its stage seconds and token counts."""
    from tinyagent.core.dag import plans_isomorphic, tool_recall
    from tinyagent.core.events import StageTiming
    from tinyagent.core.executor import DryRun
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.pipeline import RequestOptions

    stages: dict[str, float] = {}
    tokens = {"evaluated": 0, "generated": 0}

    def emit(event: Any) -> None:
        if isinstance(event, StageTiming):
            stages[event.stage] = stages.get(event.stage, 0.0) + event.seconds
            tokens["evaluated"] += int(event.detail.get("prompt_tokens_evaluated", 0))
            tokens["generated"] += int(event.detail.get("generated_tokens", 0))

    options = RequestOptions(DryRun.SAFE, yes=True, use_grammar=grammar, exclude_example=record["query"])
    started = time.perf_counter()
    result = await pipeline.ask(record["query"], emit=emit, options=options)
    stages["total"] = time.perf_counter() - started
    reference = parse_plan(record["plan"])
    return {"id": record.get("id"), "stages": stages, "valid": result.plan.ok,
            "success": bool(result.plan.ok and plans_isomorphic(result.plan, reference)),
            "plan_tool_recall": tool_recall(result.plan.tools, set(record.get("tools") or reference.tools)),
            "joins": result.joins, "evaluated": tokens["evaluated"], "generated": tokens["generated"],
            "plan": result.plan.to_text()}


def pct(values: list[float], q: float) -> float:
    from tinyagent.core.evaluation import percentile

    return percentile(values, q) if values else float("nan")


def llama_speeds(llm: Any, threads: int, prompt_tokens: int = 256, gen_tokens: int = 24) -> tuple[float, float]:
    """Plain llama.cpp: prompt tok/s from an empty cache, and greedy generation tok/s (no grammar)."""
    import llama_cpp

    def job() -> tuple[float, float]:
        llama = llm.llama
        llama_cpp.llama_set_n_threads(llama.ctx, threads, threads)
        text = "Given a user query, create a plan to solve it with the utmost parallelizability. " * 40
        tokens = llm.tokenize(text)[:prompt_tokens]
        llama.reset()
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        started = time.perf_counter()
        llama.eval(tokens[:-1])
        prompt_tps = (len(tokens) - 1) / (time.perf_counter() - started)
        started, n = time.perf_counter(), 0
        for token in llama.generate(tokens[-1:], temp=0.0, reset=False):  # only the last token is new
            n += 1
            if n >= gen_tokens or llama_cpp.llama_vocab_is_eog(llm.vocab, token):
                break
        gen_tps = n / (time.perf_counter() - started)
        llama.reset()
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        return prompt_tps, gen_tps

    try:
        return llm.submit(job).result()
    finally:
        auto = llm.llama.n_threads  # what the model was loaded with
        llm.submit(lambda: llama_cpp.llama_set_n_threads(llm.llama.ctx, auto, auto)).result()


def lookup_compare(model: Path, llm: Any, prompts: list[tuple[str, str]], threads: int, max_tokens: int) -> list[dict]:
    """Each planner prompt decoded greedily under its grammar, plain vs with prompt-lookup drafts."""
    import llama_cpp
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from tinyagent.core.planner.llm import load_llama

    # logits for every position (drafts are checked against them): n_ctx x vocab floats, so a small context
    drafted = load_llama(model, extra_bufts=llm.extra_bufts, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                          logits_all=True, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10))
    rows = []
    try:
        for prompt, grammar_text in prompts:
            row = {}
            for name, llama in (("plain", llm.llama), ("lookup", drafted)):
                def job(llama: Any = llama, prompt: str = prompt, grammar_text: str = grammar_text) -> tuple[str, float, int]:
                    tokens = list(llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
                    llama.reset()
                    llama._ctx.kv_cache_seq_rm(-1, 0, -1)
                    llama.eval(tokens[:-1])  # the prompt is not what we compare
                    grammar = LlamaGrammar.from_string(grammar_text, verbose=False)
                    out, started = [], time.perf_counter()
                    for token in llama.generate(tokens[-1:], temp=0.0, grammar=grammar, reset=False):
                        if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token) or len(out) >= max_tokens:
                            break
                        out.append(token)
                    seconds = time.perf_counter() - started
                    llama.reset()
                    return llama.detokenize(out).decode("utf-8", "replace"), seconds, len(out)

                text, seconds, n = llm.submit(job).result() if llama is llm.llama else job()
                row[name] = {"seconds": seconds, "tokens": n, "text": text}
            row["same_plan"] = row["plain"]["text"] == row["lookup"]["text"]
            rows.append(row)
    finally:
        drafted.close()
    return rows


async def planner_prompts(pipeline: Any, records: list[dict]) -> list[tuple[str, str]]:
    """The exact planner prompt text and grammar the pipeline would use for each record."""
    from tinyagent.core.pipeline import RequestOptions

    out = []
    llm = await pipeline.load_model()
    for record in records:
        tools, selection = await pipeline.select_tools(record["query"], lambda e: None)
        options = RequestOptions(exclude_example=record["query"])
        planner = pipeline._new_planner(llm, options)
        examples = pipeline._examples(planner, record["query"], tools, selection, options)
        rendered = planner.render(record["query"], tools, examples)
        out.append((rendered.text, planner.grammar(tools)))
    return out


def summarize(rows: list[dict], prompt_tps: float | None = None, gen_tps: float | None = None) -> dict:
    """Per configuration; each row's floor uses the llama.cpp speeds measured around it (or those given)."""
    floors = [r["evaluated"] / (prompt_tps or r["speeds"][0]) + r["generated"] / (gen_tps or r["speeds"][1])
              for r in rows]
    totals = [r["stages"]["total"] for r in rows]
    ratios = [t / f for t, f in zip(totals, floors) if f > 0]
    unjoined = [(r["stages"]["total"] - r["stages"].get("join", 0.0)) / f for r, f in zip(rows, floors) if f > 0]
    dispatch = [r["stages"]["first_dispatch"] / r["stages"]["plan_complete"] for r in rows
                if r["stages"].get("first_dispatch") and r["stages"].get("plan_complete")]
    out = {"n": len(rows), "success": sum(r["success"] for r in rows),
           "plan_tool_recall": statistics.fmean(r["plan_tool_recall"] for r in rows),
           "invalid": sum(not r["valid"] for r in rows), "joiner_share": sum(r["joins"] > 0 for r in rows) / len(rows),
           "evaluated": statistics.fmean(r["evaluated"] for r in rows),
           "gen_tps": sum(r["generated"] for r in rows) / max(1e-9, sum(r["stages"].get("plan_complete", 0) -
                                                                        r["stages"].get("prompt", 0) for r in rows)),
           "floor_p50": pct(floors, 0.5), "e2e_floor_p50": pct(ratios, 0.5), "e2e_floor_p95": pct(ratios, 0.95),
           "nojoin_floor_p50": pct(unjoined, 0.5),
           "dispatch_ratio_p50": pct(dispatch, 0.5)}
    for stage in STAGES:
        values = [r["stages"][stage] for r in rows if stage in r["stages"]]
        out[stage] = (pct(values, 0.5), pct(values, 0.95)) if values else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="planner GGUF (default: the cached Qwen 0.5B)")
    ap.add_argument("--queries", type=int, default=3, help="shared 2-3 step plans to run (default 3)")
    ap.add_argument("--configs", default="compact,compact-ng,tinyagent,tinyagent-ng",
                    help="profiles; suffix -ng = without the plan grammar, +k = with argument kinds")
    ap.add_argument("--seed", type=int, default=0, help="which 2-3 step plans are sampled (default 0)")
    ap.add_argument("--threads", type=int, default=0, help="planner threads (0 = all cores, the default)")
    ap.add_argument("--no-threads", action="store_true", help="skip the 1 vs 2 vs auto thread measure")
    ap.add_argument("--no-lookup", action="store_true", help="skip prompt-lookup decoding")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold vs warm request")
    ap.add_argument("--lookup-only", action="store_true", help="only the prompt-lookup comparison")
    ap.add_argument("--json", action="store_true", help="also print every row as JSON")
    args = ap.parse_args(argv)
    if not PLANS.exists():
        print(f"skipped: shared data not found ({PLANS})")
        return 0
    if not args.model.exists():
        print(f"skipped: no model at {args.model} (pass --model, or run the realmodel tests once to cache Qwen)")
        return 0
    from tinyagent.core.pipeline import Pipeline
    from tinyagent.core.planner.llm import LocalLLM

    threads = args.threads or max(1, os.cpu_count() or 1)
    *records, warmup = pick_queries(args.queries + 1, args.seed)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    print(f"# bench_realmodel {time.strftime('%Y-%m-%d %H:%M')} UTC, model {args.model.name}, {threads} threads, "
          f"{len(records)} queries (2-3 step reference plans, seed {args.seed}), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores", flush=True)
    report: dict[str, Any] = {}
    if args.lookup_only:
        llm = LocalLLM(args.model, n_ctx=4096, n_threads=threads)
        try:
            print_lookup(lookup_rows(args.model, llm, configs[0], threads, records))
        finally:
            llm.close()
        return 0
    cold = None
    if not args.no_cold:  # a fresh pipeline: the model, ToolRAG and the example pool load inside the request
        started = time.perf_counter()
        fresh = Pipeline(_config(configs[0].removesuffix("-ng").removesuffix("+k"), threads), model_override=str(args.model))
        first = asyncio.run(one_request(fresh, records[0]))
        cold = {"cold": time.perf_counter() - started, "cold_toolrag": first["stages"].get("toolrag", 0.0)}
        again = asyncio.run(one_request(fresh, records[0]))
        cold.update(warm=again["stages"]["total"], warm_toolrag=again["stages"].get("toolrag", 0.0))
        fresh.close()
        print(f"cold request {cold['cold']:.1f} s (ToolRAG {cold['cold_toolrag']:.2f} s) vs the same request warm "
              f"{cold['warm']:.1f} s", flush=True)
    models = {name: LocalLLM(args.model, n_ctx=4096, n_threads=threads) for name in configs}
    llm = models[configs[0]]
    pipelines, grammars = {}, {}
    for name, model in models.items():
        profile, grammars[name] = name.removesuffix("-ng").removesuffix("+k"), not name.endswith("-ng")
        pipelines[name] = Pipeline(_config(profile, threads, kinds=name.endswith("+k")), llm=model)
    rows_by: dict[str, list[dict]] = {name: [] for name in configs}
    try:
        for name in configs:  # one warm-up request each: every configuration starts with a warm cache
            asyncio.run(one_request(pipelines[name], warmup, grammars[name]))
        speeds = [llama_speeds(llm, threads)]
        for i, record in enumerate(records, 1):
            order = configs[i % len(configs):] + configs[: i % len(configs)]  # rotated: load swings hit all
            round_rows = {}
            for name in order:
                round_rows[name] = asyncio.run(one_request(pipelines[name], record, grammars[name]))
                print(f"  {i}/{len(records)} {name}: {round_rows[name]['stages']['total']:.1f} s, "
                      f"success {round_rows[name]['success']}", file=sys.stderr, flush=True)
            speeds.append(llama_speeds(llm, threads))
            around = tuple((x + y) / 2 for x, y in zip(speeds[-2], speeds[-1]))
            for name, row in round_rows.items():
                row["speeds"] = around
                rows_by[name].append(row)
        prompt_tps = statistics.fmean(p for p, _ in speeds)
        gen_tps = statistics.fmean(g for _, g in speeds)
        report["llama"] = {"speeds": speeds}
        summaries = {name: summarize(rows) for name, rows in rows_by.items()}
        print_table(summaries, prompt_tps, gen_tps)
        if not args.no_threads:
            speeds = {n: llama_speeds(llm, n) for n in sorted({1, 2, threads})}
            report["threads"] = speeds
            print("threads (plain llama.cpp): " + "; ".join(
                f"{n}{' (auto)' if n == threads else ''}: prompt {p:.0f} tok/s, generation {g:.1f} tok/s"
                for n, (p, g) in speeds.items()))
        if not args.no_lookup:
            report["lookup"] = lookup_rows(args.model, llm, configs[0], threads, records)
            print_lookup(report["lookup"])
    finally:
        for model in models.values():
            model.close()
    report.update(cold=cold, summaries=summaries, rows=rows_by)
    if args.json:
        print(json.dumps(report, default=str))
    return 0


def lookup_rows(model: Path, llm: Any, config_name: str, threads: int, records: list[dict]) -> list[dict]:
    from tinyagent.core.pipeline import Pipeline

    base = Pipeline(_config(config_name.removesuffix("-ng").removesuffix("+k"), threads), llm=llm)
    return lookup_compare(model, llm, asyncio.run(planner_prompts(base, records)), threads, 160)


def print_lookup(rows: list[dict]) -> None:
    plain = sum(r["plain"]["seconds"] for r in rows)
    drafted = sum(r["lookup"]["seconds"] for r in rows)
    print(f"prompt-lookup decoding, grammar on, {len(rows)} plans: {drafted:.1f} s vs plain {plain:.1f} s "
          f"({drafted / plain:.2f}x); same plan text: {sum(r['same_plan'] for r in rows)}/{len(rows)}")


def print_table(summaries: dict[str, dict], prompt_tps: float, gen_tps: float) -> None:
    print(f"plain llama.cpp on this model (mean of the measures around the rounds): prompt {prompt_tps:.0f} tok/s, "
          f"generation {gen_tps:.1f} tok/s")
    names = list(summaries)
    print("| measure | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))

    def row(label: str, fmt) -> None:
        print(f"| {label} | " + " | ".join(fmt(summaries[n]) for n in names) + " |")

    row("success (DAG match)", lambda s: f"{s['success']}/{s['n']}")
    row("plan-tool recall", lambda s: f"{s['plan_tool_recall']:.2f}")
    row("invalid plans", lambda s: str(s["invalid"]))
    for stage in STAGES:
        row(f"{stage} p50 / p95 s", lambda s, st=stage: "—" if not s[st] else f"{s[st][0]:.1f} / {s[st][1]:.1f}")
    row("prompt tokens evaluated (mean)", lambda s: f"{s['evaluated']:.0f}")
    row("generation tok/s (in the pipeline)", lambda s: f"{s['gen_tps']:.1f}")
    row("llama.cpp floor p50 s", lambda s: f"{s['floor_p50']:.1f}")
    row("end-to-end / floor p50 / p95 (goal <= 1.3)", lambda s: f"{s['e2e_floor_p50']:.2f} / {s['e2e_floor_p95']:.2f}")
    row("end-to-end less the joiner / floor p50", lambda s: f"{s['nojoin_floor_p50']:.2f}")
    row("first dispatch / plan p50 (goal <= 0.15)", lambda s: f"{s['dispatch_ratio_p50']:.2f}")
    row("joiner ran", lambda s: f"{s['joiner_share']:.0%}")


if __name__ == "__main__":
    sys.exit(main())
