"""A large example pool in bounded memory: the encoder sees fixed-size batches, never the whole
pool at once (30,000 imported examples in one onnxruntime run took 24 GB and were killed), and
listing the examples embeds nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tinyagent.core.toolrag import ToolClassifier, embed
from tinyagent.core.toolrag import examples as examples_module
from tinyagent.core.toolrag.examples import builtin_examples

MINILM_DIR = Path(__file__).resolve().parents[2] / "models" / "toolrag-minilm"


class RecordingSession(ort.InferenceSession):
    """The real onnxruntime session, recording how many texts each run is given."""

    def __init__(self, path: Path):
        super().__init__(str(path), providers=["CPUExecutionProvider"])
        self.rows: list[int] = []

    def run(self, output_names, input_feed, run_options=None):
        self.rows.append(int(input_feed["input_ids"].shape[0]))
        return super().run(output_names, input_feed, run_options)


@pytest.fixture(scope="module")
def minilm() -> ToolClassifier:
    return ToolClassifier.load(MINILM_DIR)


@pytest.fixture
def recorded(minilm) -> tuple[ToolClassifier, RecordingSession]:
    session = RecordingSession(MINILM_DIR / "model.onnx")
    return ToolClassifier(session, minilm._tokenizer, minilm.labels, minilm.max_length, minilm.model_dir), session


TEXTS = [e.query for e in builtin_examples()[:10]]


def same_directions(a: np.ndarray, b: np.ndarray) -> None:
    """Row by row the same unit vectors, up to the int8 graph's rounding: its activations are
    scaled per run, so no two batchings agree to the bit (test_batch_is_close_to_single)."""
    assert a.shape == b.shape
    assert np.min(np.sum(a * b, axis=1)) > 0.99


def test_batches_give_the_one_batch_vectors_and_bound_each_run(minilm, recorded):
    classifier, session = recorded
    batched = embed.embed_in_batches(classifier, TEXTS, batch_size=3)
    assert session.rows == [3, 3, 3, 1]
    runs = [minilm.embeddings(TEXTS[i : i + 3]) for i in range(0, len(TEXTS), 3)]
    assert np.array_equal(batched, np.concatenate(runs))  # each text's vector in its place, exactly
    same_directions(batched, minilm.embeddings(TEXTS))


def test_the_pool_is_embedded_in_batches_of_the_bound(recorded, minilm, monkeypatch):
    classifier, session = recorded
    monkeypatch.setattr(embed, "EMBED_BATCH", 4, raising=False)  # (fails on the bound, not the name)
    index = embed.EmbeddingIndex(classifier, TEXTS)
    assert session.rows and max(session.rows) <= 4 and sum(session.rows) == len(TEXTS)
    same_directions(index.vectors, minilm.embeddings(TEXTS))


def test_listing_examples_embeds_nothing(monkeypatch, capsys):
    from tinyagent.core.cli import main

    monkeypatch.setattr(examples_module, "default_encoder", lambda: pytest.fail("examples list loaded the encoder"))
    assert main(["examples", "list"]) == 0
    assert "examples (0 yours" in capsys.readouterr().out
