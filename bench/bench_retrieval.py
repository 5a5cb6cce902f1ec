"""In-context example retrieval: BM25 over words vs the ToolRAG encoder's embeddings, side by side.

    .venv/bin/python bench/bench_retrieval.py [--model DIR] [--k 3]

For every held-out request of ../shared/data/tinyagent_plans.jsonl (the `test` split), ToolRAG
selects the tools and `ExamplePool.pick` picks k examples, once with BM25 similarity and once
with the encoder's cosine similarity (the same picking rules). The figure: the share of
requests whose picked examples include one whose tools are exactly the reference tool set.
Two pools: the app's built-in pool (core/toolrag/examples.yaml), and the shared data's train
split (what TinyAgent retrieves from: its training plans). `in pool`: the share for which the
pool holds such an example at all (the ceiling for any similarity). In the shared data every
request has a different tool set, so that ceiling is 0 for the train split and small for our
pool; hence two graded figures too: `best J`, the mean over requests of the best Jaccard
overlap between the reference tools and one picked example's tools, and `covered`, the mean
share of the reference tools that appear in some picked example. Each pool is scored twice:
through pick() (the tool rules first, similarity second) and as the k most similar examples
whatever their tools (the similarity alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyagent.core.jsonl import parse_jsonl  # noqa: E402
from tinyagent.core.toolrag import ToolClassifier, ToolRAG, builtin_model_dir  # noqa: E402
from tinyagent.core.toolrag.data import load_labelled  # noqa: E402
from tinyagent.core.toolrag.examples import Example, ExampleError, ExamplePool, builtin_examples, make_example  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "tinyagent_plans.jsonl"


def train_pool() -> list[Example]:
    """The shared train split as examples (the few plans that do not validate are left out)."""

    from tinyagent.core.toolrag.data import split_of

    out = []
    for _, row in parse_jsonl(SHARED.read_text(encoding="utf-8"), str(SHARED)):  # split on "\n" only
        if split_of(row["id"]) != "train":
            continue
        try:
            out.append(make_example(row["query"], row["plan"], "train"))
        except ExampleError:
            pass
    return out


def score(pool: ExamplePool, rows, selections, k: int, rules: bool = True) -> dict[str, float]:
    """With `rules`, what pick() returns; without, the k most similar examples whatever their tools."""
    hits = reachable = 0
    best_jaccard = covered = 0.0
    started = time.perf_counter()
    for row, selected in zip(rows, selections):
        if rules:
            picked = pool.pick(row.query, selected, k)
        else:
            sims = [pool.similarity(row.query, i) for i in range(len(pool.examples))]
            picked = [pool.examples[i] for i in sorted(range(len(sims)), key=lambda i: -sims[i])[:k]]
        hits += any(set(ex.tools) == row.tools for ex in picked)
        reachable += any(set(ex.tools) == row.tools for ex in pool.examples)
        best_jaccard += max((len(row.tools & set(ex.tools)) / len(row.tools | set(ex.tools)) for ex in picked),
                            default=0.0)
        covered += len(row.tools & {t for ex in picked for t in ex.tools}) / len(row.tools)
    n = len(rows)
    return {"hit": hits / n, "reachable": reachable / n, "jaccard": best_jaccard / n, "covered": covered / n,
            "ms_per_pick": (time.perf_counter() - started) * 1000 / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=builtin_model_dir(), help="ToolRAG model dir with embeddings")
    ap.add_argument("--k", type=int, default=3, help="examples picked per request")
    args = ap.parse_args()
    if not SHARED.exists():
        print(f"bench_retrieval: needs {SHARED}", file=sys.stderr)
        return 2
    encoder = ToolClassifier.load(args.model)
    if not encoder.has_embeddings:
        print(f"bench_retrieval: {args.model} gives no embeddings", file=sys.stderr)
        return 2
    rows = load_labelled(SHARED, "test")
    rag = ToolRAG(encoder)
    selections = [rag.select(r.query).selected for r in rows]
    print(f"{len(rows)} held-out requests, k={args.k}, tools selected by {args.model.name}")
    print(f"{'pool':30s} {'similarity':11s} {'picking':7s} {'exact set':>9s} {'in pool':>7s} {'best J':>6s} {'covered':>7s} "
          f"{'ms/pick':>8s}")
    for name, examples in (("built-in (examples.yaml)", builtin_examples()), ("shared train split", train_pool())):
        for rules in (True, False):
            for label, pool_encoder in (("BM25", None), ("embeddings", encoder)):
                started = time.perf_counter()
                pool = ExamplePool(examples, pool_encoder)
                build = time.perf_counter() - started
                s = score(pool, rows, selections, args.k, rules)
                print(f"{name + f' ({len(examples)})':30s} {label:11s} {'pick()' if rules else 'top-k':7s} "
                      f"{s['hit']:9.3f} {s['reachable']:7.3f} {s['jaccard']:6.3f} {s['covered']:7.3f} "
                      f"{s['ms_per_pick']:8.2f}   (indexed in {build:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
