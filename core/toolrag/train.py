"""Train the compact built-in ToolRAG classifier and write it as an ONNX model dir.

    python -m tinyagent.core.toolrag.train --data ../shared/data/tinyagent_plans.jsonl --out models/toolrag-compact

Reproducible: fixed seed, numpy only (plus `tokenizers`, and `onnx` to write the graph).
Data: the `train` split of --data (see core/toolrag/data.py: by hash of id, the `test` split
is never seen) plus the requests of our own example pool (core/toolrag/examples.yaml).
Features: see compact.build_tokenizer (placeholders, 6-letter stems) and compact.py (piece
bag + hashed pairs); --ensemble models are averaged inside one graph.
Per-tool calibration: out-of-fold predictions over train+val pick, for each tool, the bias
shift that minimises (missed needed tools x miss cost + extra tools), with the highest miss
cost that keeps the selections (companion rules included) within --extra-budget (10%) of the
needed tools; what is left of the budget then goes, step by step, to the tool whose next
step catches the most needed tools per extra tool. The shift is baked into the output bias,
so the runtime's configured threshold (0.5) still applies unchanged.
The final model is fit on train+val. Prints the held-out test metrics through the real runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyagent.core.toolrag import compact
from tinyagent.core.toolrag.classifier import LABELS, META_FILE, MODEL_FILE, TOKENIZER_FILE, ToolClassifier
from tinyagent.core.toolrag.data import DataError, Labelled, load_labelled, split_of
from tinyagent.core.toolrag.evaluate import evaluate, format_curve, threshold_curve
from tinyagent.core.toolrag.examples import builtin_examples
from tinyagent.core.toolrag.select import ToolRAG, companions_for
from tinyagent.tools.registry import TOOL_NAMES


def _labels_matrix(rows: list[Labelled]) -> np.ndarray:
    return np.array([[t in r.tools for t in LABELS] for r in rows], dtype=np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Hyper:
    """The classifier's size and how it is trained (the command's --hidden, --epochs, --lr, --dropout)."""
    hidden: int
    epochs: int
    lr: float = 0.01
    dropout: float = 0.3
    weight_decay: float = 1e-4
    batch: int = 32


def fit(x: np.ndarray, y: np.ndarray, hp: Hyper, *, seed: int) -> dict[str, np.ndarray]:
    """One hidden layer, sigmoid cross-entropy, Adam; input dropout drops whole words.

    The table is updated lazily (only the rows of words in the batch, as sparse Adam does):
    a batch touches a few hundred of its ~10k rows, so this is what makes training quick.
    """
    rng = np.random.default_rng(seed)
    n, f = x.shape
    hidden, lr, dropout, weight_decay, batch = hp.hidden, hp.lr, hp.dropout, hp.weight_decay, hp.batch
    params = {
        "table": rng.normal(0, 0.05, (f, hidden)).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, y.shape[1])).astype(np.float32),
        "b2": np.zeros(y.shape[1], np.float32),
    }
    moments = {k: [np.zeros_like(v), np.zeros_like(v)] for k, v in params.items()}
    step = 0

    def adam(name: str, grad: np.ndarray, rows: np.ndarray | None = None) -> None:
        p, (m, v) = params[name], moments[name]
        if rows is not None:
            p, m, v = p[rows], m[rows], v[rows]
        if name in ("table", "w2"):
            grad = grad + weight_decay * p
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        p = p - lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        if rows is None:
            params[name], moments[name] = p, [m, v]
        else:
            params[name][rows], moments[name][0][rows], moments[name][1][rows] = p, m, v

    for _ in range(hp.epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            cols = np.flatnonzero(x[idx].any(axis=0))
            xb = x[idx][:, cols]
            xb = xb * (rng.random(xb.shape) >= dropout) / (1 - dropout)
            pre = xb @ params["table"][cols] + params["b1"]
            hid = np.maximum(pre, 0)
            logits = hid @ params["w2"] + params["b2"]
            d_logits = (_sigmoid(logits) - y[idx]) / len(idx)
            d_hid = (d_logits @ params["w2"].T) * (pre > 0)
            step += 1
            adam("w2", hid.T @ d_logits)
            adam("b2", d_logits.sum(0))
            adam("table", xb.T @ d_hid, cols)
            adam("b1", d_hid.sum(0))
    return params


def fit_ensemble(x: np.ndarray, y: np.ndarray, hp: Hyper, *, members: int, seed: int) -> dict[str, np.ndarray]:
    """`members` models (seeds seed, seed + 101, ...) merged into one of `members` x hidden units
    whose logits are the average of theirs (see compact.py)."""
    fits = [fit(x, y, hp, seed=seed + 101 * m) for m in range(members)]
    return {
        "table": np.concatenate([f["table"] for f in fits], axis=1),
        "b1": np.concatenate([f["b1"] for f in fits]),
        "w2": np.concatenate([f["w2"] for f in fits], axis=0) / members,
        "b2": np.mean([f["b2"] for f in fits], axis=0).astype(np.float32),
    }


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ params["table"] + params["b1"], 0) @ params["w2"] + params["b2"]


def calibrate(logits: np.ndarray, y: np.ndarray, miss_cost: float) -> np.ndarray:
    """Per tool, the bias shift minimising misses x miss_cost + extras at threshold 0.5."""
    shifts = np.zeros(y.shape[1], np.float32)
    grid = np.arange(-6.0, 3.01, 0.25)
    for j in range(y.shape[1]):
        costs = [(((logits[:, j] + s) < 0) & (y[:, j] == 1)).sum() * miss_cost
                 + (((logits[:, j] + s) >= 0) & (y[:, j] == 0)).sum() for s in grid]
        best = min(costs)
        # among equally good shifts take the middle one: the widest margin either way
        ties = [s for s, c in zip(grid, costs) if c == best]
        shifts[j] = ties[len(ties) // 2]
    return shifts


def selected_count(logits: np.ndarray, queries: list[str] | None) -> int:
    """Tools selected at threshold 0.5 (logit >= 0), with the companion rules when queries are given."""
    chosen = logits >= 0
    if queries is None:
        return int(chosen.sum())
    allowed = set(TOOL_NAMES)
    return sum(int(row.sum()) + len(companions_for([LABELS[j] for j in np.flatnonzero(row)], q, allowed))
               for row, q in zip(chosen, queries))


def calibrate_for_budget(logits: np.ndarray, y: np.ndarray, extra: float,
                         queries: list[str] | None = None) -> tuple[np.ndarray, float]:
    """The calibration with the highest miss cost whose selections stay within (1 + extra) x needed.
    With queries, the selections count the companions the rules add, as the runtime does."""
    needed = y.sum()
    best = (np.zeros(y.shape[1], np.float32), 0.0)
    for cost in np.arange(0.5, 40.01, 0.5):
        shifts = calibrate(logits, y, float(cost))
        if selected_count(logits + shifts, queries) > (1 + extra) * needed:
            break
        best = (shifts, float(cost))
    return best


def fill_budget(logits: np.ndarray, y: np.ndarray, shifts: np.ndarray, extra: float,
                queries: list[str] | None = None, step: float = 0.25) -> np.ndarray:
    """Spend what the miss-cost sweep left of the budget: repeatedly lower the threshold of the
    tool whose next step catches the most needed tools per extra tool selected, while the
    selections (with companions) stay within (1 + extra) x needed."""
    shifts = shifts.copy()
    limit = (1 + extra) * y.sum()
    pos = y == 1
    while True:
        best, best_gain = -1, 0.0
        for j in range(y.shape[1]):
            before, after = logits[:, j] + shifts[j] >= 0, logits[:, j] + shifts[j] + step >= 0
            gained, added = (after & ~before & pos[:, j]).sum(), (after & ~before).sum()
            if gained and gained / added > best_gain:
                best, best_gain = j, gained / added
        if best < 0:
            return shifts
        trial = shifts.copy()
        trial[best] += step
        if selected_count(logits + trial, queries) > limit:
            return shifts
        shifts = trial


def pool_rows() -> list[Labelled]:
    """Our own written example requests (core/toolrag/examples.yaml), as extra training rows."""
    return [Labelled("", e.query, frozenset(e.tools)) for e in builtin_examples()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tinyagent.core.toolrag.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="JSON lines with id, query, tools")
    ap.add_argument("--out", required=True, help="model dir to write (model.onnx, tokenizer.json, toolrag.json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=4096, help="hash buckets for piece pairs")
    ap.add_argument("--stem", type=int, default=compact.STEM,
                    help="longer words split into their first STEM letters + the rest (0: whole words)")
    ap.add_argument("--no-placeholders", action="store_true",
                    help="keep quoted titles, file names and addresses as words")
    ap.add_argument("--ensemble", type=int, default=3, help="models averaged in the one graph")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--dropout", type=float, default=0.2, help="share of words dropped per training step")
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--folds", type=int, default=5, help="folds for out-of-fold calibration (0: none)")
    ap.add_argument("--extra-budget", type=float, default=0.10,
                    help="calibrate so that, out of fold, at most this share more tools than needed are selected")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        rows = load_labelled(args.data)
    except DataError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    fit_rows = [r for r in rows if split_of(r.id) in ("train", "val")] + pool_rows()
    test_rows = [r for r in rows if split_of(r.id) == "test"]

    tokenizer = compact.build_tokenizer([r.query for r in fit_rows], stem=args.stem,
                                        placeholders=not args.no_placeholders)
    vocab = tokenizer.get_vocab_size()
    ids = [e.ids for e in tokenizer.encode_batch([r.query for r in fit_rows])]
    x = compact.features(ids, vocab, args.pairs)
    y = _labels_matrix(fit_rows)
    hp = Hyper(hidden=args.hidden, epochs=args.epochs, lr=args.lr, dropout=args.dropout)

    shifts, miss_cost, oof_metrics = np.zeros(len(LABELS), np.float32), 0.0, {}
    if args.folds > 1:
        fold = np.random.default_rng(args.seed).permutation(len(fit_rows)) % args.folds
        oof = np.zeros_like(y)
        for k in range(args.folds):
            params = fit_ensemble(x[fold != k], y[fold != k], hp, members=args.ensemble, seed=args.seed + 1 + k)
            oof[fold == k] = forward(params, x[fold == k])
        queries = [r.query for r in fit_rows]
        shifts, miss_cost = calibrate_for_budget(oof, y, args.extra_budget, queries)
        shifts = fill_budget(oof, y, shifts, args.extra_budget, queries)
        chosen = oof + shifts >= 0
        oof_metrics = {"recall_model_only": round(float((chosen & (y == 1)).sum() / y.sum()), 4),
                       "tools_vs_needed": round(selected_count(oof + shifts, queries) / float(y.sum()), 3)}
    params = fit_ensemble(x, y, hp, members=args.ensemble, seed=args.seed)
    params["b2"] = params["b2"] + shifts

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    compact.write_onnx(out / MODEL_FILE, params["table"], params["b1"], params["w2"], params["b2"], vocab, args.pairs)
    tokenizer.save(str(out / TOKENIZER_FILE))
    meta = {
        "kind": "compact", "labels": list(LABELS), "max_length": 256, "threads": 1,
        "train": {"seed": args.seed, "hidden": args.hidden, "ensemble": args.ensemble, "pairs": args.pairs,
                  "vocab": vocab, "stem": args.stem, "placeholders": not args.no_placeholders,
                  "dropout": args.dropout,
                  "epochs": args.epochs, "folds": args.folds, "extra_budget": args.extra_budget, "miss_cost": miss_cost,
                  "rows": len(fit_rows), "bias_shifts": [round(float(s), 2) for s in shifts], "out_of_fold": oof_metrics,
                  "split": "sha256(id) % 10: 0-1 test (held out), 2 val, 3-9 train; fit on train+val"},
    }
    return finish(out, meta, test_rows, started)


def finish(out: Path, meta: dict, test_rows: list, started: float) -> int:
    """Write toolrag.json, then evaluate the written dir on the held-out split through the
    runtime (what the app will load), record the figures in toolrag.json and print them."""
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    rag = ToolRAG(ToolClassifier.load(out))
    metrics = evaluate(rag, test_rows)
    curve = threshold_curve(rag, test_rows)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    meta["heldout"] = {"split": "test", **{k: v for k, v in metrics.items() if k != "ms_per_query"},
                       "curve": [{k: c[k] for k in ("threshold", "recall", "avg_tools")} for c in curve]}
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(format_curve(curve), file=sys.stderr)
    print(json.dumps({"split": "test", **metrics, "model_bytes": size,
                      "train_seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
