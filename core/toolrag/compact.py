"""The compact built-in classifier: word-piece + hashed pair bag -> one hidden layer -> 16 logits.

Same interface as the DeBERTa export (input_ids, attention_mask -> logits), so one runtime
serves both. Inside the graph:

    ids     = input_ids                                  pieces,      [B, S]
    pairs   = (ids[:, :-1] * V + ids[:, 1:]) % P + V     piece pairs, [B, S-1]
    bag     = sum of table rows of ids and pairs (masked) / sqrt(number of pieces)
    logits  = relu(bag + b1) @ W2 + b2

The tokenizer (tokenizer.json) does the rest of the featurising: lower-casing, placeholders
for quoted titles, file names and addresses, and stem pieces (see build_tokenizer). An
ensemble of k such models is the same graph: tables and b1 side by side, W2 stacked / k,
b2 averaged.

`features()` computes exactly the same bag in numpy for training, so what is trained is
what runs. Building the graph needs `onnx` (a dev dependency); running it does not.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD, UNK = "[PAD]", "[UNK]"


# Names and titles carry no tool information, but what they are does: a quoted "x.pdf", a file
# name, an email address, a quoted title. These become placeholder words (after lower-casing),
# so the model learns the structure of a request rather than the names in it.
PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    (r"[\w.+-]+@[\w-]+\.[\w.-]+", " emailaddr "),
    (r'"[^"]{0,80}?\.pdf"', " qpdf "),
    (r'"[^"]{0,80}?\.[a-z]{2,5}"', " qfile "),
    (r"\b\w+\.pdf\b", " updf "),
    (r"\b\w+\.(?:docx?|key|pptx?|xlsx?|txt|pages|numbers|csv|jpg|png|zip)\b", " ufile "),
    (r'"[^"]{0,60}"', " qtitle "),
)
STEM = 6  # words longer than this become their first STEM letters + "##rest" (a crude stemmer)


def _normalizer(placeholders: bool):
    steps = [normalizers.NFKC(), normalizers.Lowercase()]
    if placeholders:
        steps += [normalizers.Replace(Regex(pattern), word) for pattern, word in PLACEHOLDERS]
    steps.append(normalizers.Replace(Regex(r"\d"), "0"))
    return normalizers.Sequence(steps)


def stem_pieces(word: str, stem: int) -> list[str]:
    """How the stem tokenizer splits a known word: 'summarizing' -> ['summar', '##izing']."""
    return [word] if len(word) <= stem else [word[:stem], "##" + word[stem:]]


def build_tokenizer(texts: list[str], min_frequency: int = 2, stem: int = 0, placeholders: bool = False):
    """A lower-cased word-level `tokenizers` tokenizer; digits become 0 so numbers share tokens.

    stem > 0: a WordPiece tokenizer whose vocabulary is the words of up to `stem` letters and
    the first `stem` letters of longer words, plus "##" endings (every single letter among
    them), so 'summarize', 'summary' and 'summarizing' share the piece 'summar' and an unseen
    word with a known beginning is not [UNK]. placeholders: see PLACEHOLDERS.
    """
    normalizer, pre_tokenizer = _normalizer(placeholders), pre_tokenizers.BertPreTokenizer()
    if stem <= 0:
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
        trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, special_tokens=[PAD, UNK])
        tok.train_from_iterator(texts, trainer)
        return tok
    counts: Counter[str] = Counter()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            for piece in stem_pieces(word, stem):
                counts[piece] += 1
    letters = sorted({"##" + ch for piece in counts if piece.startswith("##") for ch in piece[2:]})
    pieces = sorted({p for p, c in counts.items() if c >= min_frequency} | set(letters))
    vocab = {t: i for i, t in enumerate([PAD, UNK, *pieces])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    return tok


def pair_ids(ids: np.ndarray, vocab: int, pairs: int) -> np.ndarray:
    return (ids[:-1] * vocab + ids[1:]) % pairs + vocab


def features(token_ids: list[list[int]], vocab: int, pairs: int) -> np.ndarray:
    """The graph's bag for each query, as a dense [N, vocab + pairs] float32 matrix."""
    out = np.zeros((len(token_ids), vocab + pairs), dtype=np.float32)
    for row, ids in enumerate(token_ids):
        if not ids:
            continue
        arr = np.asarray(ids, dtype=np.int64)
        np.add.at(out[row], arr, 1.0)
        np.add.at(out[row], pair_ids(arr, vocab, pairs), 1.0)
        out[row] /= np.sqrt(len(ids))
    return out


def write_onnx(path: Path, table: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
               vocab: int, pairs: int) -> None:
    """Write the graph described above with the given weights."""
    import onnx  # the dev extra's graph builder: only training and tests write graphs
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(value), name)

    inits = [
        const("table", table.astype(np.float32)), const("b1", b1.astype(np.float32)),
        const("w2", w2.astype(np.float32)), const("b2", b2.astype(np.float32)),
        const("vocab", np.int64(vocab)), const("pairs", np.int64(pairs)),
        const("zero", np.array([0], np.int64)), const("one", np.array([1], np.int64)),
        const("minus_one", np.array([-1], np.int64)), const("big", np.array([2**62], np.int64)),
        const("axis1", np.array([1], np.int64)), const("axis2", np.array([2], np.int64)),
        const("eps", np.float32(1.0)),
    ]
    n = helper.make_node
    nodes = [
        # word pairs: ids[:, :-1] * V + ids[:, 1:], hashed into P buckets after the V words
        n("Slice", ["input_ids", "zero", "minus_one", "axis1"], ["left"]),
        n("Slice", ["input_ids", "one", "big", "axis1"], ["right"]),
        n("Mul", ["left", "vocab"], ["left_v"]),
        n("Add", ["left_v", "right"], ["pair_raw"]),
        n("Mod", ["pair_raw", "pairs"], ["pair_mod"]),
        n("Add", ["pair_mod", "vocab"], ["pair_ids"]),
        n("Slice", ["attention_mask", "zero", "minus_one", "axis1"], ["mask_l"]),
        n("Slice", ["attention_mask", "one", "big", "axis1"], ["mask_r"]),
        n("Mul", ["mask_l", "mask_r"], ["pair_mask"]),
        n("Concat", ["input_ids", "pair_ids"], ["all_ids"], axis=1),
        n("Concat", ["attention_mask", "pair_mask"], ["all_mask_i"], axis=1),
        n("Cast", ["all_mask_i"], ["all_mask_f"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["all_mask_f", "axis2"], ["all_mask"]),
        # masked bag of table rows, scaled by 1/sqrt(number of words)
        n("Gather", ["table", "all_ids"], ["rows"], axis=0),
        n("Mul", ["rows", "all_mask"], ["rows_masked"]),
        n("ReduceSum", ["rows_masked", "axis1"], ["bag_sum"], keepdims=0),
        n("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        n("ReduceSum", ["mask_f", "axis1"], ["length"], keepdims=1),
        n("Max", ["length", "eps"], ["length_safe"]),
        n("Sqrt", ["length_safe"], ["root_len"]),
        n("Div", ["bag_sum", "root_len"], ["bag"]),
        # hidden layer and the 16 logits
        n("Add", ["bag", "b1"], ["pre"]),
        n("Relu", ["pre"], ["hidden"]),
        n("MatMul", ["hidden", "w2"], ["logits_raw"]),
        n("Add", ["logits_raw", "b2"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "toolrag_compact",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", w2.shape[1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tinyagent")
    model.ir_version = 8  # readable by onnxruntime >= 1.17
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
