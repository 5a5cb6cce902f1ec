"""What degrades is said, once: a ToolRAG model that cannot load, a user examples file that
cannot be read. Real pipeline, real onnxruntime, a random-weight GGUF on real llama.cpp whose
plans are scripted (what random weights write differs by CPU, and a plan can bring notices
of its own, such as a lookup of someone the request does not name)."""

from __future__ import annotations

import shutil

import pytest

from tests.support.cli import tinyagent
from tests.support.scripted_llm import ScriptedLLM
from tinyagent.core.config import Config
from tinyagent.core.events import Notice, ToolsSelected
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.grammar import GrammarLimits
from tinyagent.core.toolrag import builtin_model_dir
from tinyagent.core.toolrag.examples import ExamplePool, builtin_examples, user_examples_file
from tinyagent.tools.registry import tools_for_apps

SMALL = GrammarLimits(max_tasks=2, max_string=8, max_list=1, thoughts=False, comments=False)
APPS = ["contacts", "messages", "reminders"]
BROKEN_USER_FILE = "- query: broken one\n  plan: '1. fly()'\n"


@pytest.fixture
def broken_model_dir(tmp_path):
    """A model dir whose tokenizer is fine but whose graph is not ONNX at all."""
    shutil.copyfile(builtin_model_dir() / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "model.onnx").write_bytes(b"this is not an onnx graph")
    return tmp_path


TEXT_OMAR = '1. get_phone_number("Omar")\n2. send_sms(["$1"], "late")\njoin()<END_OF_PLAN>'
REMIND_ANN = '1. create_reminder("Call Ann")\njoin()<END_OF_PLAN>'


@pytest.fixture
def llm(tiny_gguf):
    model = ScriptedLLM(tiny_gguf, [TEXT_OMAR, REMIND_ANN, TEXT_OMAR])
    yield model
    model.close()


def config_with(model_dir, prompt: str = "compact") -> Config:
    config = Config(backend="sandbox")
    config.apps = list(APPS)
    config.models.toolrag = str(model_dir)
    config.planner.prompt = prompt
    config.planner.max_tokens = 40
    config.planner.max_replans = 0
    return config


def warnings_in(events: list) -> list[str]:
    return [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]


async def test_a_toolrag_that_cannot_load_is_said_once_and_every_tool_is_offered(broken_model_dir):
    pipeline = Pipeline(config_with(broken_model_dir))
    events: list = []
    for request in ("Text Omar that I'm late", "Remind me to call Ann"):
        await pipeline.select_tools(request, events.append)
    said = warnings_in(events)
    assert len(said) == 1, said
    assert "ToolRAG is not available" in said[0] and str(broken_model_dir / "model.onnx") in said[0]
    assert "every enabled tool" in said[0]
    enabled = tuple(t.name for t in tools_for_apps(set(APPS)))
    assert [e.selected for e in events if isinstance(e, ToolsSelected)] == [enabled, enabled]


async def test_a_working_toolrag_says_nothing():
    config = config_with("")
    events: list = []
    tools, _ = await Pipeline(config).select_tools("Text Omar that I'm running late", events.append)
    assert not [e for e in events if isinstance(e, Notice)]
    assert "send_sms" in {t.name for t in tools}


def test_a_broken_user_file_leaves_the_builtin_pool_and_says_why():
    path = user_examples_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BROKEN_USER_FILE)
    pool, problem = ExamplePool.load_for_planning()
    assert [e.query for e in pool.examples] == [e.query for e in builtin_examples()]
    assert problem is not None and str(path) in problem and "entry 1" in problem and "built-in examples" in problem
    path.write_text("- query: Tell Kai hi\n  plan: |\n    1. get_phone_number(\"Kai\")\n    2. join()<END_OF_PLAN>\n")
    pool, problem = ExamplePool.load_for_planning()
    assert problem is None and pool.examples[-1].query == "Tell Kai hi"


async def test_plans_go_on_and_each_degradation_is_said_once(broken_model_dir, llm):
    path = user_examples_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BROKEN_USER_FILE)
    pipeline = Pipeline(config_with(broken_model_dir), llm=llm, limits=SMALL)
    events: list = []
    await pipeline.plan_only("Text Omar that I'm late", emit=events.append)
    await pipeline.plan_only("Remind me to call Ann", emit=events.append)
    said = warnings_in(events)
    assert len(said) == 2, said
    assert "ToolRAG is not available" in said[0]
    assert "your examples are not used" in said[1] and str(path) in said[1]
    # a new version of the file that is broken again is said again; a fixed one is silent
    path.write_text(BROKEN_USER_FILE + "- query: another\n")
    await pipeline.plan_only("Text Omar that I'm late", emit=events.append)
    assert len(warnings_in(events)) == 3


def test_the_prompt_command_says_a_broken_examples_file_and_still_renders():
    path = user_examples_file()  # under this test's own TINYAGENT_HOME (conftest), inherited by the child
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("- query: [unclosed\n")
    out = tinyagent("prompt", "Text Sarah I'm late", "--tools", "get_phone_number,send_sms")
    assert out.returncode == 0, out.stderr
    assert "warning: your examples are not used" in out.stderr and str(path) in out.stderr
    assert "send_sms" in out.stdout
