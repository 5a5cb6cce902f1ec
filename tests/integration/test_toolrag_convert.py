"""DeBERTa-v2 -> ONNX conversion, on a tiny random-weight model of the published kind.

Needs the `convert` extra (torch, transformers, onnx); skipped with a reason without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyagent.core.toolrag import LABELS, ToolClassifier, ToolRAG, ToolRAGError

torch = pytest.importorskip("torch", reason="conversion tests need torch (pip install 'tinyagent[convert]')")
transformers = pytest.importorskip("transformers", reason="conversion tests need transformers ('convert' extra)")
pytest.importorskip("onnx", reason="conversion tests need onnx ('convert' extra)")

WORDS = ("text send email note reminder calendar zoom meeting summarize pdf file open map directions "
         "reply forward create append phone number address to the a and with for my me of").split()


def make_tiny_deberta(path: Path, labels_named: bool = True) -> Path:
    """A DeBERTa-v3-style sequence classifier (relative attention, 16 labels) with random weights,
    plus a small fast WordPiece tokenizer with [CLS] ... [SEP], saved as a HF model dir."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    vocab = {w: i for i, w in enumerate(specials + list(WORDS))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    config = DebertaV2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, relative_attention=True, position_buckets=16, norm_rel_ebd="layer_norm",
        share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False, max_relative_positions=-1,
        pad_token_id=0, type_vocab_size=0, num_labels=len(LABELS), problem_type="multi_label_classification",
        id2label=dict(enumerate(LABELS)) if labels_named else None,
    )
    torch.manual_seed(0)
    model = DebertaV2ForSequenceClassification(config).eval()
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from tinyagent.core.toolrag.convert import convert_toolrag

    src = make_tiny_deberta(tmp_path_factory.mktemp("deberta-src"))
    out = convert_toolrag(src, tmp_path_factory.mktemp("deberta-onnx"))
    return src, out


def test_conversion_writes_a_runtime_dir(converted):
    _, out = converted
    assert {"model.onnx", "tokenizer.json", "toolrag.json"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "toolrag.json").read_text())
    assert meta["labels"] == list(LABELS) and meta["kind"] == "deberta-v2"


def test_onnx_matches_pytorch_through_our_runtime(converted):
    from transformers import AutoModelForSequenceClassification

    src, out = converted
    model = AutoModelForSequenceClassification.from_pretrained(src, local_files_only=True).eval()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=True)
    classifier = ToolClassifier.load(out)
    queries = ["send a text to the phone number", "summarize my pdf file and email it",
               "open the map with directions to the zoom meeting and create a note and a reminder"]
    for query in queries:
        with torch.no_grad():
            expected = torch.sigmoid(model(**tokenizer(query, return_tensors="pt")).logits)[0].numpy()
        got = classifier.probabilities(query)
        assert np.allclose([got[t] for t in LABELS], expected, atol=1e-4)
    # dynamic axes: a batch of different lengths (padded) gives the same answers as one by one
    batch = classifier.probabilities_batch(queries)
    for query, probs in zip(queries, batch):
        single = classifier.probabilities(query)
        assert max(abs(single[t] - probs[t]) for t in LABELS) < 1e-4
    sel = ToolRAG(classifier, threshold=0.5).select(queries[0])
    assert set(sel.probabilities) == set(LABELS)


def test_generic_label_names_mean_the_published_order(tmp_path):
    from tinyagent.core.toolrag.convert import convert_toolrag

    src = make_tiny_deberta(tmp_path / "src", labels_named=False)
    out = convert_toolrag(src, tmp_path / "out")
    assert json.loads((out / "toolrag.json").read_text())["labels"] == list(LABELS)


def test_bad_source_is_a_clear_error(tmp_path):
    from tinyagent.core.toolrag.convert import convert_toolrag, main

    with pytest.raises(ToolRAGError, match="no config.json"):
        convert_toolrag(tmp_path, tmp_path / "out")
    assert main([str(tmp_path), str(tmp_path / "out")]) == 1
