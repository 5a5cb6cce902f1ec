"""The MiniLM ToolRAG model: the shipped graph through the runtime, example retrieval by its
embeddings (ranking, caching), and the training command on a tiny subset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PLANS_FILE, load_shared_plans
from tinyagent.core.toolrag import LABELS, ToolClassifier, ToolRAG, embed
from tinyagent.core.toolrag.data import Labelled
from tinyagent.core.toolrag.examples import ExamplePool, builtin_examples
from tinyagent.tools.registry import APPS, REGISTRY

MINILM_DIR = Path(__file__).resolve().parents[2] / "models" / "toolrag-minilm"
REQUEST = "Text Omar that I'm running late and email Hana the summary of report.pdf"


@pytest.fixture(scope="module")
def minilm() -> ToolClassifier:
    return ToolClassifier.load(MINILM_DIR)


class CountingEncoder(ToolClassifier):
    """The real classifier, counting the texts it embeds."""

    def __init__(self, real: ToolClassifier):
        super().__init__(real._session, real._tokenizer, real.labels, real.max_length, real.model_dir)
        self.embedded: list[str] = []

    def embeddings(self, queries: list[str]) -> np.ndarray:
        self.embedded += queries
        return super().embeddings(queries)


# -- the shipped graph ----------------------------------------------------------------------------
def test_shipped_model_is_complete_small_and_licensed():
    files = {p.name: p.stat().st_size for p in MINILM_DIR.iterdir()}
    assert {"model.onnx", "tokenizer.json", "toolrag.json", "LICENSE", "README.md"} <= set(files)
    assert sum(files.values()) <= 25 * 1024 * 1024
    assert "Apache License" in (MINILM_DIR / "LICENSE").read_text()
    meta = json.loads((MINILM_DIR / "toolrag.json").read_text())
    assert meta["kind"] == "minilm" and meta["labels"] == list(LABELS) and "Apache-2.0" in meta["licence"]


def test_sixteen_probabilities_and_unit_embeddings(minilm):
    probs = minilm.probabilities(REQUEST)
    assert set(probs) == set(LABELS) and all(0.0 <= p <= 1.0 for p in probs.values())
    assert minilm.has_embeddings
    vectors = minilm.embeddings([REQUEST, "create a note", ""])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    for query in ("", "🙂" * 500, "x" * 20000):  # odd input, cut at max_length
        assert np.isfinite(list(minilm.probabilities(query).values())).all()


def test_batch_is_close_to_single(minilm):
    # int8 activations are scaled per batch, so a batch is close to, not equal to, one at a time
    queries = ["create a note", REQUEST, "reply to this email"]
    for q, b in zip(queries, minilm.probabilities_batch(queries)):
        single = minilm.probabilities(q)
        assert max(abs(single[t] - b[t]) for t in LABELS) < 0.05


def test_plain_requests_and_selection_rules(minilm):
    rag = ToolRAG(minilm)
    sms = rag.select("Text Omar that I'm running late")
    assert {"get_phone_number", "send_sms"} <= set(sms.selected)
    assert list(sms.selected) == [t for t in REGISTRY if t in sms.selected]  # registry order
    assert "create_reminder" in rag.select("remind me to call the bank tomorrow").selected
    assert "maps_show_directions" in rag.select("show me driving directions to the airport").selected
    assert "create_note" in rag.select('Create a note titled "Groceries" with milk and eggs').selected
    apps = [a for a in APPS if a not in ("messages", "contacts")]
    wide = ToolRAG(minilm, threshold=0.01, enabled_apps=apps).select(REQUEST)
    assert not {"send_sms", "get_phone_number", "get_email_address"} & set(wide.selected)


def test_heldout_figures_match_the_meta_file(minilm):
    from tinyagent.core.toolrag.data import load_labelled
    from tinyagent.core.toolrag.evaluate import evaluate

    load_shared_plans()
    metrics = evaluate(ToolRAG(minilm), load_labelled(PLANS_FILE, "test"))
    recorded = json.loads((MINILM_DIR / "toolrag.json").read_text())["heldout"]
    assert metrics["n"] == recorded["n"] > 150
    assert metrics["recall"] == pytest.approx(recorded["recall"], abs=0.005)
    assert metrics["avg_tools"] == pytest.approx(recorded["avg_tools"], abs=0.05)


# -- example retrieval by embeddings ---------------------------------------------------------------
def test_a_request_equal_to_an_example_ranks_it_first(minilm):
    examples = builtin_examples()
    pool = ExamplePool(examples, minilm)
    for index in (0, 7, len(examples) // 2, len(examples) - 1):
        sims = [pool.similarity(examples[index].query, i) for i in range(len(examples))]
        assert int(np.argmax(sims)) == index and sims[index] == pytest.approx(1.0, abs=5e-3)
        assert all(0.0 <= s <= 1.0 + 1e-6 for s in sims)
    # through pick(): with exactly its tools selected, the example itself comes first
    assert pool.pick(examples[7].query, set(examples[7].tools), 3)[0] == examples[7]


def test_pool_embeddings_are_computed_once_and_cached(minilm):
    examples = builtin_examples()
    counting = CountingEncoder(minilm)
    embed._memory.clear()
    ExamplePool(examples, counting)
    assert len(counting.embedded) == len(examples)
    ExamplePool(examples, counting)  # same content, same process: from memory
    assert len(counting.embedded) == len(examples)
    key = embed.pool_key(counting, [e.query for e in examples])
    assert embed._cache_file(key).exists()
    embed._memory.clear()  # a new process: from the disk cache
    pool = ExamplePool(examples, counting)
    assert len(counting.embedded) == len(examples)
    pool.pick("text Noor that dinner is at eight", {"get_phone_number", "send_sms"}, 3)
    assert counting.embedded[len(examples):] == ["text Noor that dinner is at eight"]  # once per request
    ExamplePool(examples[1:], counting)  # other content: computed again
    assert len(counting.embedded) == 2 * len(examples)


def test_a_broken_disk_cache_only_costs_a_recomputation(minilm):
    examples = builtin_examples()[:5]
    counting = CountingEncoder(minilm)
    key = embed.pool_key(counting, [e.query for e in examples])
    embed._memory.clear()
    path = embed._cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not numpy")
    pool = ExamplePool(examples, counting)
    assert len(counting.embedded) == 5 and pool.similarity(examples[2].query, 2) == pytest.approx(1.0, abs=5e-3)


def test_load_uses_the_builtin_encoder_and_bm25_without_one():
    assert ExamplePool.load(None)._embedded is not None
    assert ExamplePool(builtin_examples())._embedded is None
    assert ExamplePool.load(None, encoder=None)._embedded is None


# -- training ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_training_one_step_on_a_tiny_subset(tmp_path, capsys):
    pytest.importorskip("torch", reason="training needs the convert extra (torch)")
    pytest.importorskip("transformers", reason="training needs the convert extra (transformers)")
    from tests.support.realmodels import real_model
    from tinyagent.core.toolrag.train_encoder import main

    load_shared_plans()
    base = real_model("all-minilm-l6-v2-zip")
    out = tmp_path / "model"
    # 8 train+val rows and the example pool, 2 folds out of fold + the final fit: one step each
    status = main(["--base", str(base), "--data", str(PLANS_FILE), "--out", str(out), "--limit", "8",
                   "--epochs", "1", "--batch", "128", "--no-quantize", "--folds", "2", "--pairs", "4"])
    assert status == 0
    meta = json.loads((out / "toolrag.json").read_text())
    assert meta["train"]["rows"] == 8 + len(builtin_examples()) and meta["train"]["quantized"] is False
    assert meta["train"]["folds"] == 2 and len(meta["train"]["bias_shifts"]) == len(LABELS)
    assert meta["train"]["pairs"] == 4
    trained = ToolClassifier.load(out)
    assert trained.has_embeddings and set(trained.probabilities(REQUEST)) == set(LABELS)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["split"] == "test" and printed["n"] > 150


def test_training_rejects_a_bad_base(tmp_path, capsys):
    pytest.importorskip("torch", reason="training needs the convert extra (torch)")
    from tinyagent.core.toolrag.train_encoder import main

    load_shared_plans()
    status = main(["--base", str(tmp_path), "--data", str(PLANS_FILE), "--out", str(tmp_path / "o")])
    assert status == 2 and "not an all-MiniLM-L6-v2 folder" in capsys.readouterr().err


def test_pairs_are_two_requests_with_both_tool_sets_that_fit():
    from tinyagent.core.toolrag.train_encoder import paired_rows

    rows = [Labelled(f"id{i}", f"request{i}", frozenset({LABELS[i]})) for i in range(10)]
    lengths = [40] * 9 + [120]  # the last one fits with none of the others in 128 tokens
    pairs = paired_rows(rows, lengths, 30, 128, seed=0)
    assert len(pairs) == 30 and pairs == paired_rows(rows, lengths, 30, 128, seed=0)  # seeded
    by_query = {r.query: r for r in rows}
    for pair in pairs:
        first, second = (by_query[q] for q in pair.query.split(" "))
        assert first is not second and rows[9] not in (first, second)
        assert pair.tools == first.tools | second.tools and pair.id == ""
    assert paired_rows(rows[:1], lengths[:1], 5, 128, seed=0) == []  # one request makes no pair
    assert paired_rows(rows, [200] * 10, 5, 128, seed=0) == []  # none fit: gives up, does not hang
