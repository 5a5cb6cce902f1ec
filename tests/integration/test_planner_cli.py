"""`tinyagent plan | ask | grammar | eval` in a child process, as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tinyagent


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("backend: sandbox\napps: [contacts, messages]\ntoolrag:\n  enabled: false\n"
                    "planner:\n  max_tokens: 160\n  threads: 1\n  max_replans: 0\n  examples: 1\n")
    return path


def test_grammar_prints_gbnf():
    out = tinyagent("grammar", "--tools", "get_phone_number,send_sms")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("root ::= step-1") and '"send_sms("' in out.stdout
    assert "get_email_address" not in out.stdout


def test_grammar_rejects_unknown_tools():
    out = tinyagent("grammar", "--tools", "get_phone_number,teleport")
    assert out.returncode == 2 and "teleport" in out.stderr and "Traceback" not in out.stderr


def test_grammar_check_reports_json(tmp_path, shared_plans, vocab_file):
    data = tmp_path / "some.jsonl"
    broken = dict(shared_plans[0], id="broken", plan="1. get_phone_number('x')\n2. join()<END_OF_PLAN>")
    data.write_text("\n".join(json.dumps(r) for r in shared_plans[:20] + [broken]) + "\n")
    out = tinyagent("grammar", "--check", str(data), "--model", str(vocab_file))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["total"] == 21 and report["accepted"] >= 20
    assert {"id": "broken"}.items() <= next(r for r in report["rejected"] if r["id"] == "broken").items()


def test_grammar_check_needs_a_vocab():
    out = tinyagent("grammar", "--check", "x.jsonl")
    assert out.returncode == 2 and "--model" in out.stderr


def test_plan_json_with_a_tiny_model(tiny_gguf, config):
    out = tinyagent("plan", "Text Sid that I'm late", "--json", "--model", str(tiny_gguf), config=config)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    assert report["request"] == "Text Sid that I'm late"
    assert set(report) >= {"plan", "tasks", "dag", "errors", "warnings", "timings", "tools"}
    assert report["timings"]["prompt_tokens"] > 0
    assert out.stderr == ""


def test_missing_model_is_one_clear_line(config, tmp_path):
    out = tinyagent("plan", "hi", "--model", str(tmp_path / "missing.gguf"), config=config)
    assert out.returncode == 2
    assert "model file not found" in out.stderr and "Traceback" not in out.stderr
    out = tinyagent("ask", "hi", config=config)
    assert out.returncode == 2 and "--model PATH" in out.stderr


def test_ask_yes_json_runs_the_pipeline(tiny_gguf, config):
    out = tinyagent("ask", "Text Sid hi", "--yes", "--json", "--model", str(tiny_gguf), config=config)
    assert out.returncode in (0, 1, 2), out.stderr
    kinds = [json.loads(line)["event"] for line in out.stdout.splitlines()]
    assert kinds[0] == "request_started" and "tools_selected" in kinds and kinds[-1] == "answer"


def test_ask_without_a_terminal_declines_effects(tiny_gguf, config):
    out = tinyagent("ask", "Text Sid hi", "--model", str(tiny_gguf), config=config)
    assert out.returncode in (0, 1, 2), out.stderr
    assert "Traceback" not in out.stderr


def test_eval_reports_the_paper_metrics(tiny_gguf, config, shared_plans, tmp_path):
    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in shared_plans[:2]) + "\n")
    out = tinyagent("eval", str(data), "--limit", "2", "--json", "--model", str(tiny_gguf), config=config)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["total"] == 2
    assert set(report) >= {"success_rate", "tool_recall", "invalid_plans", "stages", "prompt_tokens_evaluated"}
    assert {"toolrag", "prompt", "plan_complete"} <= set(report["stages"])
