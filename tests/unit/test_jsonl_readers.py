"""JSONL as every reader here reads it: records split on "\\n" only, bad lines handled, never a crash.

U+0085, U+2028 and U+2029 are valid raw inside a JSON string, and our writers once kept them
raw while the readers split lines with str.splitlines(): a request holding one was lost from
history on reload, and check-plans, data sets and `examples import` cut records in two.
"""

from __future__ import annotations

import json

import pytest

from tinyagent.core.cli.plans import check_plans
from tinyagent.core.evaluation import RecordResult, load_results
from tinyagent.core.history import MAX_ENTRIES, HistoryEntry, HistoryStore
from tinyagent.core.jsonl import dumps_line, jsonl_lines, parse_jsonl
from tinyagent.core.toolrag.examples import read_jsonl_examples

SEPARATORS = ["\x85", "\u2028", "\u2029"]
PLAN = '1. get_phone_number("Ann{sep}Lee")\n2. join()<END_OF_PLAN>'


def raw_line(obj: dict) -> str:
    """A record as an older writer (json.dumps, ensure_ascii=False) left it: separators raw."""
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("sep", SEPARATORS)
def test_a_record_with_a_raw_line_separator_is_one_record(sep):
    text = raw_line({"a": f"x{sep}y"}) + "\r\n\n" + raw_line({"b": 1}) + "\n"
    assert parse_jsonl(text, "data") == [(1, {"a": f"x{sep}y"}), (3, {"b": 1})]
    assert [n for n, _ in jsonl_lines(text)] == [1, 3]


def test_records_are_written_with_separators_escaped_and_read_back_the_same():
    record = {"text": "".join(SEPARATORS) + "é"}
    line = dumps_line(record)
    assert len(line.splitlines()) == 1 and "é" in line
    assert json.loads(line) == record


@pytest.mark.parametrize("sep", SEPARATORS)
def test_a_request_with_a_line_separator_stays_in_history(tmp_path, sep):
    store = HistoryStore(tmp_path / "history.jsonl")
    store.append(HistoryEntry(request=f"text Ann{sep}now", plan="1. x"))
    (tmp_path / "history.jsonl").open("a", encoding="utf-8").write(raw_line({"request": f"old{sep}one", "id": "b"}) + "\n")
    assert [e.request for e in store.load()] == [f"text Ann{sep}now", f"old{sep}one"]


def test_an_absurdly_nested_history_line_is_skipped_like_any_bad_line(tmp_path):
    path = tmp_path / "history.jsonl"
    store = HistoryStore(path)
    store.append(HistoryEntry(request="first"))
    path.open("a").write('{"request": ' + "[" * 200_000 + "]" * 200_000 + "}\n" + "[" * 200_000 + "\n")
    store.append(HistoryEntry(request="last"))
    assert [e.request for e in store.load()] == ["first", "last"]


def test_compacting_history_keeps_records_whole(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text("".join(raw_line({"request": f"r{i}\u2028x", "id": f"i{i}"}) + "\n" for i in range(MAX_ENTRIES * 2)))
    store = HistoryStore(path)
    store.append(HistoryEntry(request="new"))
    entries = store.load()
    assert len(entries) == MAX_ENTRIES and entries[0].request == f"r{MAX_ENTRIES + 1}\u2028x"


@pytest.mark.parametrize("sep", SEPARATORS)
def test_check_plans_and_example_imports_read_each_record_once(tmp_path, sep):
    data = tmp_path / "data.jsonl"
    data.write_text(raw_line({"id": "a", "query": f"call Ann{sep}Lee", "plan": PLAN.format(sep=sep)}) + "\n",
                    encoding="utf-8")
    assert check_plans(str(data)) == {"total": 1, "valid": 1, "invalid": [], "with_warnings": 0}
    good, bad = read_jsonl_examples(data)
    assert bad == [] and len(good) == 1 and good[0].plan.startswith(f'1. get_phone_number("Ann{sep}Lee")')


def test_eval_results_with_a_separator_are_found_again(tmp_path):
    out = tmp_path / "out.jsonl"
    result = RecordResult(id="r1", query="q\u2028", plan="", reference="", valid=True, success=True, diff={},
                          errors=[], selected_tools=[], needed_tools=[], tool_recall=1.0, plan_tool_recall=1.0,
                          stages={})
    out.write_text(raw_line(result.to_json()) + "\n", encoding="utf-8")
    assert load_results(out, {"r1"}) == {"r1": result}


def test_an_entry_appended_after_a_torn_last_line_is_kept(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"request": "first", "id": "a"}\n{"request": "cut off mid-wri', encoding="utf-8")
    store = HistoryStore(path)
    store.append(HistoryEntry(request="next"))
    assert [e.request for e in store.load()] == ["first", "next"]


def test_a_request_with_a_lone_surrogate_is_stored_and_read_back(tmp_path):
    store = HistoryStore(tmp_path / "history.jsonl")
    store.append(HistoryEntry(request="pasted \ud800 text"))
    assert [e.request for e in store.load()] == ["pasted \ud800 text"]
