"""The in-context example pool: built-in plans validate, picking fits the tools, user examples."""

from __future__ import annotations

import json

import pytest

from tinyagent.core.config import config_dir
from tinyagent.core.parser import load_plan
from tinyagent.core.toolrag.examples import (
    BUILTIN_FILE,
    ExampleError,
    ExamplePool,
    add_user_example,
    builtin_examples,
    remove_user_example,
    user_examples_file,
)
from tinyagent.tools.registry import TOOL_NAMES

PLAN = '1. get_phone_number("Kai")\n2. send_sms(["$1"], "On my way")\n3. join()<END_OF_PLAN>\n'


def test_builtin_pool_is_valid_and_covers_every_tool():
    examples = builtin_examples()
    assert 40 <= len(examples) <= 60
    for ex in examples:
        plan = load_plan(ex.plan)  # raises PlanError naming the line if not valid
        assert plan.joined and set(ex.tools) == set(plan.tools)
    assert {t for ex in examples for t in ex.tools} == set(TOOL_NAMES)
    assert len({ex.query for ex in examples}) == len(examples)
    # common combinations are there too
    combos = [set(ex.tools) for ex in examples]
    for pair in [("get_phone_number", "send_sms"), ("get_email_address", "compose_new_email"),
                 ("open_and_get_file_path", "summarize_pdf"), ("get_email_address", "create_calendar_event"),
                 ("get_email_address", "get_zoom_meeting_link")]:
        assert any(set(pair) <= c for c in combos), pair
    assert sum(len(c) >= 4 for c in combos) >= 8


def test_builtin_pool_is_not_the_shared_data(shared_plans):
    shared = {" ".join(r["query"].split()).casefold() for r in shared_plans}
    assert not [ex.query for ex in builtin_examples() if ex.query.casefold() in shared]


def test_pick_prefers_examples_within_the_selected_tools():
    pool = ExamplePool.load(None)
    tools = {"get_phone_number", "send_sms"}
    picked = pool.pick("text Noor that dinner is at eight", tools, k=3)
    assert len(picked) == 3
    assert all(set(ex.tools) <= tools for ex in picked)
    assert set(picked[0].tools) == tools


def test_pick_covers_the_selected_tools_and_uses_similarity():
    pool = ExamplePool.load(None)
    tools = {"open_and_get_file_path", "summarize_pdf", "get_email_address", "compose_new_email", "create_note"}
    picked = pool.pick("summarize the thesis pdf and email it to Ola", tools, k=3)
    covered = {t for ex in picked for t in ex.tools}
    assert len(covered & tools) >= 4
    # similarity breaks ties between examples with the same tools
    one = pool.pick("walking route from the hotel to Central Station", {"maps_show_directions"}, k=1)
    assert one[0].tools == ("maps_show_directions",) and "Central Station" in one[0].query


def test_pick_edge_cases():
    pool = ExamplePool.load(None)
    assert pool.pick("anything", {"create_note"}, k=0) == []
    assert len(pool.pick("anything", set(), k=2)) == 2
    assert len(pool.pick("x", TOOL_NAMES, k=500)) == len(pool.examples)
    assert ExamplePool([]).pick("x", {"create_note"}) == []


def test_user_examples_are_saved_in_the_config_dir():
    example = add_user_example("Tell Kai I'm on my way", PLAN)
    assert user_examples_file() == config_dir() / "examples.yaml" and user_examples_file().exists()
    assert example.tools == ("get_phone_number", "send_sms") and example.source == "user"
    pool = ExamplePool.load()
    assert pool.examples[-1] == example and len(pool.examples) == len(builtin_examples()) + 1
    picked = pool.pick("Tell Kai I'm on my way", {"get_phone_number", "send_sms"}, k=1)
    assert picked[0].query == "Tell Kai I'm on my way"
    # the same request again replaces the old plan
    add_user_example("tell kai i'm on my way", PLAN.replace("On my way", "Coming"))
    assert len(ExamplePool.load().examples) == len(builtin_examples()) + 1
    assert remove_user_example("1").query.casefold() == "tell kai i'm on my way"
    assert len(ExamplePool.load().examples) == len(builtin_examples())


def test_bad_examples_are_refused():
    with pytest.raises(ExampleError, match="does not validate"):
        add_user_example("x", '1. send_sms("not a list", "hi")\n2. join()<END_OF_PLAN>')
    with pytest.raises(ExampleError, match="non-empty"):
        add_user_example("  ", PLAN)
    with pytest.raises(ExampleError, match="join"):
        add_user_example("x", '1. get_phone_number("Kai")\n')
    with pytest.raises(ExampleError, match="no user example number 3"):
        remove_user_example("3")
    assert not user_examples_file().exists()


def test_bad_user_file_names_file_and_entry():
    path = user_examples_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("- query: ok\n  plan: |\n    1. get_phone_number(\"A\")\n    2. join()<END_OF_PLAN>\n"
                    "- query: broken one\n  plan: '1. fly()'\n")
    with pytest.raises(ExampleError) as err:
        ExamplePool.load()
    assert str(path) in str(err.value) and "entry 2" in str(err.value) and "broken one" in str(err.value)
    path.write_text("- query: [unclosed\n")
    with pytest.raises(ExampleError, match=r"line \d+: not valid YAML"):
        ExamplePool.load()
    path.write_text("query: x\n")
    with pytest.raises(ExampleError, match="expected a list"):
        ExamplePool.load()
    path.write_text("- query: x\n  plan: y\n  extra: z\n")
    with pytest.raises(ExampleError, match="entry 1: expected exactly the keys"):
        ExamplePool.load()


def test_builtin_file_is_packaged_yaml():
    assert BUILTIN_FILE.name == "examples.yaml" and BUILTIN_FILE.parent.name == "toolrag"


def test_cli_examples(capsys, tmp_path):
    from tinyagent.core.cli import main

    plan_file = tmp_path / "plan.txt"
    plan_file.write_text(PLAN)
    assert main(["examples", "add", "Tell Kai I'm on my way", str(plan_file)]) == 0
    assert "saved to" in capsys.readouterr().out
    assert main(["examples", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[-1]["source"] == "user" and listed[-1]["tools"] == ["get_phone_number", "send_sms"]
    assert main(["examples", "list"]) == 0
    assert "1 yours" in capsys.readouterr().out
    assert main(["examples", "remove", "Tell Kai I'm on my way"]) == 0
    assert "removed" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    bad.write_text("1. nope()\n")
    assert main(["examples", "add", "q", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "does not validate" in err and "Traceback" not in err
    assert main(["examples", "add", "q", str(tmp_path / "missing.txt")]) == 2
    assert main(["examples", "remove", "9"]) == 2
