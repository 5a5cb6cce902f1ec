"""`tinyagent eval` as a measuring tool: per-record plans, diffs, stage times, resume, sampling."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tinyagent
from tinyagent.core.evaluation import RecordResult, choose, load_example_pool, load_results, plan_diff
from tinyagent.core.parser import parse_plan

REFERENCE = ('1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n'
             '3. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", ["$1", "$2"], "", None)\n'
             '4. join()<END_OF_PLAN>')


def test_plan_diff_names_missing_and_extra_calls_and_dependencies():
    predicted = parse_plan('1. get_email_address("Sid")\n'
                           '2. create_calendar_event("Sync", "2024-06-07 15:00:00", "2024-06-07 16:00:00", "", '
                           '["$1"], "", None)\n3. get_phone_number("Sid")\n4. join()<END_OF_PLAN>')
    diff = plan_diff(predicted, parse_plan(REFERENCE))
    assert diff["missing_calls"] == ["get_email_address"]
    assert diff["extra_calls"] == ["get_phone_number"]
    assert diff["missing_dependencies"] == ["get_email_address -> create_calendar_event"]
    assert diff["extra_dependencies"] == []
    same = plan_diff(parse_plan(REFERENCE), parse_plan(REFERENCE))
    assert not any(same.values())


def test_sample_is_seeded_and_limit_cuts_it():
    records = [{"id": str(i), "query": f"q{i}", "plan": ""} for i in range(50)]
    a = choose(records, sample=10, seed=3)
    assert a == choose(records, sample=10, seed=3)
    assert [k for k, _ in a] != [k for k, _ in choose(records, sample=10, seed=4)]
    assert len(choose(records, sample=10, seed=3, limit=4)) == 4
    assert [k for k, _ in choose([{"query": "x"}, {"query": "y"}])] == ["#1", "#2"]


def test_resume_reads_whole_lines_only(tmp_path):
    row = RecordResult("a", "q", "plan", "ref", True, False, {}, [], [], [], 1.0, 1.0, {"prompt": 0.5}).to_json()
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps(row) + "\n" + json.dumps(dict(row, id="b"))[:40])  # b was cut off
    found = load_results(out, {"a", "b", "c"})
    assert set(found) == {"a"} and found["a"].stages == {"prompt": 0.5}
    assert load_results(tmp_path / "missing.jsonl", {"a"}) == {}


def test_example_pool_file_skips_bad_plans_and_excludes_the_question(tmp_path):
    pool_file = tmp_path / "pool.jsonl"
    rows = [{"query": "Text Sarah that I'm late", "plan": '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "late")\n'
             '3. join()<END_OF_PLAN>'},
            {"query": "Text Tom hello", "plan": '1. get_phone_number("Tom")\n2. send_sms(["$1"], "hello")\n'
             '3. join()<END_OF_PLAN>'},
            {"query": "broken", "plan": "1. teleport()\n2. join()<END_OF_PLAN>"}]
    pool_file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pool, skipped = load_example_pool(pool_file)
    assert len(pool.examples) == 2 and skipped == 1
    picked = pool.pick("Text Sarah that I'm late", ["get_phone_number", "send_sms"], 3,
                       exclude="Text Sarah that I'm late")
    assert [e.query for e in picked] == ["Text Tom hello"]


@pytest.fixture
def eval_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("backend: sandbox\ntoolrag:\n  enabled: false\n"
                    "planner:\n  max_tokens: 60\n  threads: 1\n  examples: 1\n")
    return path


def test_eval_cli_per_record_json_progress_and_resume(tiny_gguf, eval_config, shared_plans, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in shared_plans[:3]) + "\n")
    out_file = tmp_path / "results.jsonl"
    first = tinyagent("eval", str(data), "--limit", "2", "--json", "--out", str(out_file), "--no-grammar",
                      "--model", str(tiny_gguf), config=eval_config)
    assert first.returncode == 0, first.stderr
    assert "2/2" in first.stderr and "ETA" in first.stderr
    report = json.loads(first.stdout)
    assert report["total"] == 2 and report["grammar"] is False
    record = report["records"][0]
    assert record["id"] == shared_plans[0]["id"] and record["query"] == shared_plans[0]["query"]
    assert record["reference"] == shared_plans[0]["plan"]
    assert set(record["diff"]) == {"missing_calls", "extra_calls", "missing_dependencies", "extra_dependencies"}
    assert {"toolrag", "prompt", "plan_complete"} <= set(record["stages"])
    assert len(out_file.read_text().splitlines()) == 2

    again = tinyagent("eval", str(data), "--limit", "3", "--json", "--out", str(out_file),
                      "--model", str(tiny_gguf), config=eval_config)
    assert again.returncode == 0, again.stderr
    assert "resuming: 2 of 3" in again.stderr and "1/1" in again.stderr
    assert [r["id"] for r in json.loads(again.stdout)["records"]] == [r["id"] for r in shared_plans[:3]]
    assert len(out_file.read_text().splitlines()) == 3


def test_eval_cli_bad_input_is_one_clean_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x"}\nnot json\n')
    out = tinyagent("eval", str(bad))
    assert out.returncode == 2 and "line 2" in out.stderr and "Traceback" not in out.stderr
    out = tinyagent("eval", str(tmp_path / "nope.jsonl"))
    assert out.returncode == 2 and "no such file" in out.stderr
    out = tinyagent("eval", str(bad), "--sample", "0")
    assert out.returncode == 2 and "--sample" in out.stderr


@pytest.mark.realmodel
def test_eval_on_the_real_model_prints_plans_diffs_and_stage_times(eval_config, shared_plans, tmp_path):
    from tests.support.realmodels import real_model

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(shared_plans[0]) + "\n")
    out = tinyagent("eval", str(data), "--json", "--model", str(real_model("qwen2.5-coder-0.5b")),
                    config=eval_config, timeout=900)
    assert out.returncode == 0, out.stderr
    assert "1/1" in out.stderr and "ETA" in out.stderr
    record = json.loads(out.stdout)["records"][0]
    assert record["plan"].strip() and record["reference"] == shared_plans[0]["plan"]
    assert record["stages"]["plan_complete"] > record["stages"]["prompt"] > 0
    assert record["prompt_tokens"] > 0 and record["generated_tokens"] > 0
