"""Examples selected as TinyAgent selects them, `examples import`, and eval never showing the answer."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.integration.test_tinyagent_pipeline import ScriptedLLM
from tinyagent.core.config import Config
from tinyagent.core.pipeline import Pipeline, RequestOptions
from tinyagent.core.toolrag.examples import ExamplePool, import_user_examples, make_example, read_examples, read_jsonl_examples

SMS = '1. get_phone_number("{n}")\n2. send_sms(["$1"], "{m}")\n3. join()<END_OF_PLAN>'
MAIL = '1. get_email_address("{n}")\n2. compose_new_email(["$1"], [], "{m}", "", [])\n3. join()<END_OF_PLAN>'


def pool() -> ExamplePool:
    return ExamplePool([
        make_example("Text Ann that dinner is at 8", SMS.format(n="Ann", m="Dinner at 8")),
        make_example("Text Bo I'm running late", SMS.format(n="Bo", m="Running late")),
        make_example("Email Cy about the late train", MAIL.format(n="Cy", m="Late train")),
        make_example("Remind me to call mom", '1. create_reminder("Call mom", "", "", "", 0, False)\n'
                                              "2. join()<END_OF_PLAN>"),
    ])


def test_only_examples_within_the_selected_tools_most_similar_first():
    got = pool().pick_within("Text Sarah that I'm running late", ["get_phone_number", "send_sms"], 6)
    assert [e.query for e in got] == ["Text Bo I'm running late", "Text Ann that dinner is at 8"]
    assert pool().pick_within("x", ["get_phone_number", "send_sms"], 1)[0].tools == ("get_phone_number", "send_sms")
    assert pool().pick_within("anything", ["send_sms"], 6) == []  # every example needs a tool not selected


def test_the_evaluated_query_is_never_an_example():
    query = "Text Bo I'm running late"
    assert query not in [e.query for e in pool().pick_within(query, ["get_phone_number", "send_sms"], 6,
                                                            exclude=query)]
    assert query not in [e.query for e in pool().pick(query, ["get_phone_number", "send_sms"], 4, exclude=query)]


def test_import_validates_and_writes_once(tmp_path):
    src = tmp_path / "pool.jsonl"
    lines = [{"query": "Text Ann hi", "plan": SMS.format(n="Ann", m="hi"), "id": 1},
             {"query": "Broken", "plan": "1. no_such_tool()\n2. join()<END_OF_PLAN>"},
             "not json"]
    src.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    good, bad = read_jsonl_examples(src)
    assert [e.query for e in good] == ["Text Ann hi"] and [n for n, _ in bad] == [2, 3]
    user = tmp_path / "examples.yaml"
    assert import_user_examples(good, user) == 1 and import_user_examples(good, user) == 1
    assert [e.query for e in read_examples(user, "user")] == ["Text Ann hi"]  # replaced, not doubled


def test_examples_import_command(tmp_path):
    src = tmp_path / "pool.jsonl"
    src.write_text(json.dumps({"query": "Text Ann hi", "plan": SMS.format(n="Ann", m="hi")}) + "\n" + "{}\n")
    env_home = {"TINYAGENT_HOME": str(tmp_path / "home")}
    import os

    run = subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "examples", "import", str(src), "--json"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, **env_home}, timeout=120)
    assert run.returncode == 1, run.stderr  # one line skipped
    report = json.loads(run.stdout)
    assert report["imported"] == 1 and report["skipped"][0]["line"] == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{}\n")
    run = subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "examples", "import", str(empty)], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, **env_home}, timeout=120)
    assert run.returncode == 2 and "no usable examples" in run.stderr


def test_tinyagent_profile_shows_up_to_six_pool_examples_in_its_block(tiny_gguf):
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.apps = ["contacts", "messages"]
    config.planner.prompt, config.planner.chat_template = "tinyagent", "none"
    examples = [make_example(f"Text person {i} hello", SMS.format(n=f"P{i}", m="hello")) for i in range(9)]
    llm = ScriptedLLM(tiny_gguf, ["1. join()<END_OF_PLAN>"])
    pipeline = Pipeline(config, llm=llm)
    options = RequestOptions(example_pool=ExamplePool(examples), exclude_example="Text person 3 hello")
    try:
        import asyncio

        asyncio.run(pipeline.plan_only("Text person 3 hello", emit=lambda e: None, options=options))
    finally:
        pipeline.close()
        llm.close()
    prompt = llm.calls[0]["prompt"]
    block = prompt[prompt.index("Here are some examples:\n\n") + len("Here are some examples:\n\n"):]
    assert block.count("Question: ") == 6 + 1  # six examples, then the question itself
    assert "Question: Text person 3 hello\n1." not in block


def test_eval_with_an_example_pool(tiny_gguf, tmp_path):
    import os

    data = tmp_path / "data.jsonl"
    record = {"query": "Text Ann hi", "plan": SMS.format(n="Ann", m="hi")}
    data.write_text(json.dumps(record) + "\n")
    config = tmp_path / "config.yaml"
    config.write_text("backend: sandbox\napps: [contacts, messages]\ntoolrag:\n  enabled: false\n"
                      "planner:\n  max_tokens: 48\n  threads: 1\n  max_replans: 0\n")
    env = {**os.environ, "TINYAGENT_HOME": str(tmp_path / "home")}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "--config", str(config), "eval", str(data),
                               "--model", str(tiny_gguf), "--json", *args], cwd=ROOT, capture_output=True, text=True,
                              env=env, timeout=300)

    out = run("--examples", str(data))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["total"] == 1
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{}\n")
    out = run("--examples", str(empty))
    assert out.returncode == 2 and "no usable examples" in out.stderr
