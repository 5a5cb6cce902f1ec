"""Convert a Hugging Face DeBERTa-v2 sequence classifier (squeeze-ai-lab/TinyAgent-ToolRAG)
to a ToolRAG model dir: model.onnx + tokenizer.json + toolrag.json.

    python -m tinyagent.core.toolrag.convert SRC_DIR OUT_DIR     (or: tinyagent models convert-toolrag)

Needs the `convert` extra (torch, transformers, onnx); the app only needs onnxruntime and
tokenizers to run the result. Reads local files only. The export has dynamic batch and
sequence axes; afterwards the ONNX logits are checked against PyTorch on a few requests.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tinyagent.core.toolrag.classifier import LABELS, META_FILE, MODEL_FILE, TOKENIZER_FILE, ToolRAGError

CHECK_QUERIES = (
    "Text Omar that I'm running late.",
    "Summarize the report PDF and email it to Hana, then add a reminder for Friday.",
    "Create a note called Ideas",
)
TOLERANCE = 1e-3


def _labels_from_config(config: Any) -> list[str]:
    """The model's label names; generic LABEL_i names mean the published order."""
    names = [config.id2label[i] for i in range(config.num_labels)]
    if all(n in LABELS for n in names):
        return names
    if config.num_labels == len(LABELS):
        return list(LABELS)
    raise ToolRAGError(f"the model has {config.num_labels} labels; a ToolRAG model needs the {len(LABELS)} tools")


def _export(model: Any, encoded: dict[str, Any], path: Path) -> None:
    import torch

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in encoded else [])
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    args = tuple(encoded[n] for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on DeBERTa's constant position buckets
        try:
            torch.onnx.export(model, args, str(path), input_names=names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        except TypeError:  # torch without the `dynamo` switch: the TorchScript exporter is the default
            torch.onnx.export(model, args, str(path), input_names=names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=17)


def verify(model: Any, tokenizer: Any, output: Path, queries: tuple[str, ...] = CHECK_QUERIES) -> float:
    """Largest |ONNX - PyTorch| logit difference over `queries`, run through our runtime's session."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(output / MODEL_FILE), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    worst = 0.0
    for query in queries:
        enc = tokenizer(query, return_tensors="pt")
        with torch.no_grad():
            expected = model(**enc).logits.numpy()
        got = session.run(None, {k: v.numpy().astype(np.int64) for k, v in enc.items() if k in wanted})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def convert_toolrag(source: Path, output: Path) -> Path:
    """Convert SOURCE (a local HF model dir) into OUTPUT; returns OUTPUT. Raises ToolRAGError."""
    try:
        import torch  # noqa: F401
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:
        raise ToolRAGError(f"converting needs the 'convert' extra (pip install 'tinyagent[convert]'): {exc}") from None
    source, output = Path(source).expanduser(), Path(output).expanduser()
    if not (source / "config.json").is_file():
        raise ToolRAGError(f"{source} is not a Hugging Face model dir (no config.json)")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, use_fast=True)
    except (OSError, ValueError) as exc:
        raise ToolRAGError(f"cannot load the model in {source}: {exc}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ToolRAGError(f"{source}: no fast tokenizer (tokenizer.json, or a spm.model and the sentencepiece package)")
    model.eval()
    labels = _labels_from_config(model.config)

    output.mkdir(parents=True, exist_ok=True)
    encoded = tokenizer(CHECK_QUERIES[1], return_tensors="pt")
    _export(model, dict(encoded), output / MODEL_FILE)
    tokenizer.backend_tokenizer.save(str(output / TOKENIZER_FILE))
    max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
    meta = {"kind": "deberta-v2", "labels": labels, "max_length": max_length, "source": str(source)}
    (output / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    diff = verify(model, tokenizer, output)
    if diff > TOLERANCE:
        raise ToolRAGError(f"the ONNX model differs from PyTorch by up to {diff:.2e} (tolerance {TOLERANCE})")
    return output


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tinyagent.core.toolrag.convert", description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="local dir of the PyTorch model (config.json, weights, tokenizer files)")
    ap.add_argument("output", help="dir to write model.onnx, tokenizer.json and toolrag.json")
    args = ap.parse_args(argv)
    try:
        out = convert_toolrag(Path(args.source), Path(args.output))
    except ToolRAGError as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 1
    print(f"converted to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
