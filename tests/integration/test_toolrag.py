"""ToolRAG runtime: the compact model, selection rules, a tiny test-made graph, CLI (on the built-in
MiniLM model; its own tests are in test_toolrag_encoder.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PLANS_FILE, load_shared_plans
from tinyagent.core.config import Config
from tinyagent.core.toolrag import LABELS, ToolClassifier, ToolRAG, ToolRAGError, builtin_model_dir
from tinyagent.core.toolrag.data import load_labelled, split_of
from tinyagent.core.toolrag.evaluate import evaluate
from tinyagent.tools.registry import APPS, REGISTRY, TOOL_NAMES

REQUEST = "Text Omar that I'm running late and email Hana the summary of report.pdf"


FLOOR_RECALL = 0.948  # the built-in MiniLM model's held-out recall (shipped 0.954; the model before: 0.943), a little below

COMPACT_DIR = Path(__file__).resolve().parents[2] / "models" / "toolrag-compact"


@pytest.fixture(scope="module")
def compact() -> ToolClassifier:
    return ToolClassifier.load(COMPACT_DIR)


@pytest.fixture(scope="module")
def builtin() -> ToolClassifier:
    return ToolClassifier.load()


def make_constant_model(path: Path, probabilities: dict[str, float], labels=LABELS) -> Path:
    """A real (tiny) compact-model graph whose output ignores the words: logit = logit(p)."""
    pytest.importorskip("onnx", reason="building test graphs needs the onnx package (dev extra)")
    from tinyagent.core.toolrag import compact as compact_model
    from tinyagent.core.toolrag.classifier import META_FILE, MODEL_FILE, TOKENIZER_FILE

    tok = compact_model.build_tokenizer(["text email note note", "text email"], min_frequency=1)
    vocab, pairs, hidden = tok.get_vocab_size(), 7, 4
    p = np.array([probabilities.get(t, 0.01) for t in labels])
    compact_model.write_onnx(path / MODEL_FILE, np.zeros((vocab + pairs, hidden)), np.zeros(hidden),
                             np.zeros((hidden, len(labels))), np.log(p / (1 - p)), vocab, pairs)
    tok.save(str(path / TOKENIZER_FILE))
    (path / META_FILE).write_text(json.dumps({"labels": list(labels), "max_length": 32}))
    return path


# -- the built-in compact model ------------------------------------------------------------------
def test_compact_model_is_small_and_complete():
    files = {p.name: p.stat().st_size for p in COMPACT_DIR.iterdir()}
    assert {"model.onnx", "tokenizer.json", "toolrag.json"} <= set(files)
    assert sum(files.values()) <= 5 * 1024 * 1024


def test_builtin_model_is_the_minilm_one():
    assert builtin_model_dir().name == "toolrag-minilm"
    assert ToolClassifier.load().has_embeddings and not ToolClassifier.load(COMPACT_DIR).has_embeddings


def test_probabilities_for_every_tool(compact):
    probs = compact.probabilities(REQUEST)
    assert set(probs) == set(LABELS) == set(TOOL_NAMES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert compact.labels == LABELS  # the published output order


def test_compact_model_understands_plain_requests(compact):
    rag = ToolRAG(compact)
    assert "send_sms" in rag.select("send a text message to Omar saying hi").selected
    assert "create_reminder" in rag.select("remind me to call the bank tomorrow").selected
    assert "maps_show_directions" in rag.select("show me driving directions to the airport").selected


def test_empty_and_odd_requests_do_not_fail(compact):
    for query in ("", "   ", "🙂" * 500, "x" * 20000):
        probs = compact.probabilities(query)
        assert len(probs) == 16 and all(np.isfinite(list(probs.values())))


def test_batch_matches_single(compact):
    queries = ["create a note", REQUEST, "reply to this email"]
    batch = compact.probabilities_batch(queries)
    for q, b in zip(queries, batch):
        single = compact.probabilities(q)
        assert all(abs(single[t] - b[t]) < 1e-5 for t in LABELS)


def test_selection_follows_threshold_and_registry_order(compact):
    sel = ToolRAG(compact, threshold=0.5).select(REQUEST)
    by_model = {t for t, p in sel.probabilities.items() if p >= 0.5}
    assert set(sel.selected) == by_model | set(sel.added_by_rules)
    assert list(sel.selected) == [t for t in TOOL_NAMES if t in sel.selected]
    assert sel.seconds > 0 and sel.threshold == 0.5


def test_disabled_apps_are_never_selected(compact):
    apps = [a for a in APPS if a not in ("messages", "contacts")]
    rag = ToolRAG(compact, threshold=0.01, enabled_apps=apps)
    sel = rag.select("text Omar's phone number the address, then email him")
    assert sel.selected and not {"send_sms", "get_phone_number", "get_email_address"} & set(sel.selected)
    assert all(REGISTRY[t].app in apps for t in sel.selected)
    assert len(sel.probabilities) == 16  # the panel still shows every tool


def test_threshold_comes_from_config(compact):
    config = Config()
    config.toolrag.threshold = 0.8
    config.apps = ["notes", "maps"]
    rag = ToolRAG.from_config(config, classifier=compact)
    assert rag.threshold == 0.8 and rag.enabled_apps == frozenset({"notes", "maps"})
    with pytest.raises(ValueError):
        ToolRAG(compact, threshold=1.5)


def test_from_config_loads_a_model_dir(tmp_path):
    make_constant_model(tmp_path, {"create_note": 0.9})
    config = Config()
    config.models.toolrag = str(tmp_path)
    assert ToolRAG.from_config(config).select("anything").selected == ("create_note",)


# -- rules, through a tiny graph made here ----------------------------------------------------------
def test_companions_are_added_by_rules(tmp_path):
    rag = ToolRAG(ToolClassifier.load(make_constant_model(tmp_path, {"send_sms": 0.9, "summarize_pdf": 0.7})))
    sel = rag.select("text Omar the summary")
    assert sel.selected == ("get_phone_number", "open_and_get_file_path", "summarize_pdf", "send_sms")
    assert sel.added_by_rules == ("get_phone_number", "open_and_get_file_path")
    # the request already gives the phone number: no lookup needed
    assert "get_phone_number" not in rag.select("text 415-555-0142 the summary").selected
    # a disabled app's companion is not added either
    no_contacts = ToolRAG(rag.classifier, enabled_apps=[a for a in APPS if a != "contacts"])
    assert "get_phone_number" not in no_contacts.select("text Omar").selected
    assert ToolRAG(rag.classifier, rules=False).select("text Omar").added_by_rules == ()


def test_threshold_changes_the_selection(tmp_path):
    classifier = ToolClassifier.load(make_constant_model(tmp_path, {"create_note": 0.7, "open_note": 0.3}))
    assert ToolRAG(classifier, threshold=0.5).select("x").selected == ("create_note",)
    assert ToolRAG(classifier, threshold=0.25).select("x").selected == ("create_note", "open_note")
    assert ToolRAG(classifier, threshold=0.9).select("x").selected == ()


def test_label_order_comes_from_the_meta_file(tmp_path):
    reordered = tuple(reversed(LABELS))
    classifier = ToolClassifier.load(make_constant_model(tmp_path, {"get_zoom_meeting_link": 0.95}, reordered))
    assert classifier.labels == reordered
    assert classifier.probabilities("x")["get_zoom_meeting_link"] == pytest.approx(0.95, abs=1e-5)


def test_thread_safe_from_worker_threads(compact):
    rag = ToolRAG(compact)
    queries = [REQUEST, "create a note", "reply to the email", "directions to the park"] * 5
    expected = [rag.select(q).selected for q in queries]
    results: dict[int, tuple] = {}

    def work(i: int) -> None:
        results[i] = rag.select(queries[i]).selected

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(queries))] == expected


def test_bad_model_dirs_give_clear_errors(tmp_path):
    with pytest.raises(ToolRAGError, match="no model.onnx"):
        ToolClassifier.load(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ToolRAGError, match="tokenizer.json"):
        ToolClassifier.load(tmp_path)
    make_constant_model(tmp_path, {})
    (tmp_path / "toolrag.json").write_text(json.dumps({"labels": ["send_sms", "nope"]}))
    with pytest.raises(ToolRAGError, match="nope"):
        ToolClassifier.load(tmp_path)
    (tmp_path / "toolrag.json").write_text(json.dumps({"labels": ["send_sms"]}))
    with pytest.raises(ToolRAGError, match="16 outputs but there are 1 labels"):
        ToolClassifier.load(tmp_path)


# -- held-out evaluation -------------------------------------------------------------------------------
def test_split_is_fixed_by_id():
    assert split_of("") == "train"
    ids = [f"{i:032x}" for i in range(2000)]
    share = sum(split_of(i) == "test" for i in ids) / len(ids)
    assert 0.17 < share < 0.23
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]


def test_heldout_recall(compact):
    load_shared_plans()
    rows = load_labelled(PLANS_FILE, "test")
    metrics = evaluate(ToolRAG(compact), rows)
    assert metrics["n"] == len(rows) > 150
    # Measured for the shipped model (models/toolrag-compact/toolrag.json): recall 0.927,
    # 4.92 tools per request vs 4.47 needed (x1.100). Floors a little below that.
    assert metrics["recall"] >= 0.92
    assert metrics["avg_tools"] <= 1.11 * metrics["avg_needed"]
    assert metrics["ms_per_query"] <= 2.0


def test_heldout_recall_floor_of_the_builtin_model(builtin):
    # The goal (recall >= 0.99 at <= x1.10 tools) is a benchmark figure (bench/bench_toolrag.py
    # prints it beside the compact model's); this asserts what the shipped model truly meets,
    # so a broken or worse model fails here. Shipped: see models/toolrag-minilm/toolrag.json.
    load_shared_plans()
    metrics = evaluate(ToolRAG(builtin), load_labelled(PLANS_FILE, "test"))
    assert metrics["n"] > 150
    assert metrics["recall"] >= FLOOR_RECALL
    assert metrics["avg_tools"] <= 1.10 * metrics["avg_needed"]
    assert metrics["exact"] >= 0.35  # the set is right as a whole for a third of the requests, not just recalled


def test_threshold_curve_trades_tools_for_recall(compact):
    from tinyagent.core.toolrag.evaluate import threshold_curve

    load_shared_plans()
    rows = load_labelled(PLANS_FILE, "test")
    rag = ToolRAG(compact)
    curve = threshold_curve(rag, rows, (0.9, 0.5, 0.1, 0.01))
    assert [c["threshold"] for c in curve] == [0.9, 0.5, 0.1, 0.01]
    recalls, tools = [c["recall"] for c in curve], [c["avg_tools"] for c in curve]
    assert recalls == sorted(recalls) and tools == sorted(tools)
    at_half = evaluate(rag, rows)
    assert curve[1]["recall"] == at_half["recall"] and curve[1]["avg_tools"] == at_half["avg_tools"]


def test_choose_matches_select(compact):
    rag = ToolRAG(compact)
    sel = rag.select(REQUEST)
    assert rag.choose(sel.probabilities, REQUEST) == (sel.selected, sel.added_by_rules)
    assert set(rag.choose(sel.probabilities, REQUEST, 0.0001)[0]) >= set(sel.selected)


# -- the compact model's featurising: the same in training and in the runtime ------------------------
def test_stem_tokenizer_shares_stems_and_uses_placeholders():
    from tinyagent.core.toolrag import compact as compact_model

    texts = ["Summarize the report", "summary of the summarizing", "Email a@b.io the \"Q3 Plan.pdf\"",
             "open budget.xlsx", "note \"Shopping List\" now", "alphabetabcdefghijklmnopqrstuvwxyz"] * 2
    tok = compact_model.build_tokenizer(texts, stem=6, placeholders=True)
    pieces = tok.encode("Summarizing the summaries").tokens
    assert pieces[0] == "summar" and pieces.count("summar") == 2 and "the" in pieces  # one stem, every form
    assert tok.encode("summarizations").tokens[0] == "summar"  # an unseen ending: known stem + letters
    assert tok.encode("zzzzzzzz").tokens == ["[UNK]"]  # an unknown stem stays unknown
    norm = tok.normalizer.normalize_str
    assert norm('Email x.y@z.org "Q4 Deck.pdf" and Notes.pdf').split() == ["email", "emailaddr", "qpdf", "and", "updf"]
    assert norm('note "Anything At All" and ideas.docx').split() == ["note", "qtitle", "and", "ufile"]
    assert tok.encode('"One.pdf"').tokens == tok.encode('"Other Name.pdf"').tokens  # names do not matter
    assert tok.encode("Budget 2024").tokens[-1] in ("0000", "[UNK]")  # digits read as 0


def test_training_features_match_the_graph(tmp_path):
    """features() (what training sees) times the weights == the ONNX graph's logits."""
    pytest.importorskip("onnx", reason="building test graphs needs the onnx package (dev extra)")
    from tinyagent.core.toolrag import compact as compact_model
    from tinyagent.core.toolrag.classifier import META_FILE, MODEL_FILE, TOKENIZER_FILE
    from tinyagent.core.toolrag.train import forward

    texts = ["summarize the report and email it", "text Omar the summary", "open the note \"Ideas\""]
    tok = compact_model.build_tokenizer(texts * 2, stem=6, placeholders=True)
    vocab, pairs, hidden = tok.get_vocab_size(), 31, 8
    rng = np.random.default_rng(0)
    params = {"table": rng.normal(0, 1, (vocab + pairs, hidden)).astype(np.float32),
              "b1": rng.normal(0, 1, hidden).astype(np.float32),
              "w2": rng.normal(0, 1, (hidden, len(LABELS))).astype(np.float32),
              "b2": rng.normal(0, 1, len(LABELS)).astype(np.float32)}
    compact_model.write_onnx(tmp_path / MODEL_FILE, params["table"], params["b1"], params["w2"], params["b2"],
                             vocab, pairs)
    tok.save(str(tmp_path / TOKENIZER_FILE))
    (tmp_path / META_FILE).write_text(json.dumps({"labels": list(LABELS)}))
    queries = texts + ["Summarizing notes.pdf for Ana@x.org", "never seen words here"]
    x = compact_model.features([e.ids for e in tok.encode_batch(queries)], vocab, pairs)
    expected = 1 / (1 + np.exp(-forward(params, x)))
    got = ToolClassifier.load(tmp_path).probabilities_batch(queries)
    assert np.allclose([[g[t] for t in LABELS] for g in got], expected, atol=1e-5)


# -- CLI -------------------------------------------------------------------------------------------
def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from tinyagent.core.cli import main

    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_json_shape(capsys):
    status, out, _ = run_cli(capsys, "toolrag", REQUEST, "--json")
    assert status == 0
    data = json.loads(out)
    assert set(data) >= {"probabilities", "selected", "added_by_rules", "threshold", "seconds"}
    assert set(data["probabilities"]) == set(LABELS)
    assert set(data["selected"]) <= set(LABELS)


def test_cli_text_output(capsys):
    status, out, _ = run_cli(capsys, "toolrag", "create a note called ideas", "--threshold", "0.3")
    assert status == 0 and "selected (" in out and "create_note" in out and len(out.splitlines()) == 17


def test_cli_eval_json(capsys):
    load_shared_plans()
    status, out, _ = run_cli(capsys, "toolrag", "--eval", str(PLANS_FILE), "--json")
    assert status == 0
    data = json.loads(out)
    assert data["split"] == "test"
    assert {"recall", "avg_tools", "avg_needed", "exact", "n", "ms_per_query"} <= set(data)
    assert data["n"] == sum(split_of(r["id"]) == "test" for r in load_shared_plans())


def test_cli_eval_own_file_uses_all_rows(capsys, tmp_path):
    data = tmp_path / "mine.jsonl"
    data.write_text('{"query": "text Omar hi", "tools": ["get_phone_number", "send_sms"]}\n')
    status, out, _ = run_cli(capsys, "toolrag", "--eval", str(data), "--json")
    assert status == 0 and json.loads(out)["split"] == "all" and json.loads(out)["n"] == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (("toolrag",), "either a REQUEST or --eval"),
        (("toolrag", "  "), "empty"),
        (("toolrag", "--eval", "/nonexistent.jsonl"), "no such file"),
        (("toolrag", "x", "--threshold", "2"), "between 0 and 1"),
        (("toolrag", "x", "--model", "/nonexistent-dir"), "no model.onnx"),
    ],
)
def test_cli_bad_input(capsys, argv, message):
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_cli_eval_bad_lines(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x", "tools": ["fly_to_moon"]}\n')
    status, _, err = run_cli(capsys, "toolrag", "--eval", str(bad))
    assert status == 2 and "line 1" in err and "fly_to_moon" in err
