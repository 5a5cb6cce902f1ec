"""Bad input to ToolRAG and the example pool is refused cleanly, never with a traceback:
a broken toolrag.json (the pipeline falls back to every enabled tool), a user examples.yaml
nested deeply enough to exhaust the parser's stack, JSONL lines nested that deeply or with
tools that are not names, and files over the 64 MiB input limit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.support.cli import tinyagent
from tinyagent.core.config import Config
from tinyagent.core.events import Notice, ToolsSelected
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.toolrag import ToolClassifier, ToolRAGError, builtin_model_dir
from tinyagent.core.toolrag.data import DataError, load_labelled
from tinyagent.core.toolrag.examples import (
    ExampleError,
    ExamplePool,
    add_user_example,
    builtin_examples,
    read_examples,
    read_jsonl_examples,
    user_examples_file,
)
from tinyagent.tools.registry import tools_for_apps

APPS = ["contacts", "messages", "reminders"]
SMS = '1. get_phone_number("Ann")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
DEEP_YAML = "[" * 20000 + "]" * 20000 + "\n"
DEEP_JSON_LINE = "[" * 100000 + "]" * 100000 + "\n"
OVER_LIMIT = (64 << 20) + (1 << 20)  # 65 MiB


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def no_traceback(out) -> None:
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def model_dir_with(tmp_path, **meta_changes) -> str:
    target = tmp_path / "toolrag-model"
    shutil.copytree(builtin_model_dir(), target)
    meta = json.loads((target / "toolrag.json").read_text())
    meta.update(meta_changes)
    (target / "toolrag.json").write_text(json.dumps(meta))
    return str(target)


# -- 1. a broken toolrag.json ---------------------------------------------------------------
BAD_META = [
    ({"max_length": -5}, "max_length"),
    ({"max_length": 0}, "max_length"),
    ({"max_length": 10**12}, "max_length"),
    ({"max_length": "128"}, "max_length"),
    ({"max_length": True}, "max_length"),
    ({"max_length": 12.5}, "max_length"),
    ({"threads": "x"}, "threads"),
    ({"threads": -1}, "threads"),
    ({"threads": 10**9}, "threads"),
]


@pytest.mark.parametrize(("change", "field"), BAD_META, ids=[f"{k}={v!r}" for (c, _) in BAD_META for k, v in c.items()])
def test_a_bad_toolrag_json_field_is_a_toolrag_error_naming_file_and_field(tmp_path, change, field):
    model_dir = model_dir_with(tmp_path, **change)
    with pytest.raises(ToolRAGError) as info:
        ToolClassifier.load(model_dir)
    assert "toolrag.json" in str(info.value) and repr(field) in str(info.value)


@pytest.mark.parametrize("change", [{"max_length": -5}, {"threads": "x"}])
def test_the_toolrag_command_refuses_a_bad_toolrag_json_with_exit_2(tmp_path, change):
    out = tinyagent("toolrag", "hi", "--model", model_dir_with(tmp_path, **change))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert "toolrag.json" in out.stderr and next(iter(change)) in out.stderr


@pytest.mark.parametrize("change", [{"max_length": -5}, {"threads": "x"}])
async def test_a_pipeline_with_a_bad_toolrag_json_falls_back_to_every_enabled_tool(tmp_path, change):
    config = Config(backend="sandbox")
    config.apps = list(APPS)
    config.models.toolrag = model_dir_with(tmp_path, **change)
    pipeline = Pipeline(config)
    events: list = []
    for request in ("Text Omar that I'm late", "Remind me to call Ann"):
        await pipeline.select_tools(request, events.append)
    said = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert len(said) == 1, said
    assert "ToolRAG is not available" in said[0] and "toolrag.json" in said[0] and "every enabled tool" in said[0]
    enabled = tuple(t.name for t in tools_for_apps(set(APPS)))
    assert [e.selected for e in events if isinstance(e, ToolsSelected)] == [enabled, enabled]


def test_a_good_toolrag_json_still_loads(tmp_path):
    classifier = ToolClassifier.load(model_dir_with(tmp_path, max_length=64, threads=0))
    assert classifier.max_length == 64 and set(classifier.probabilities("Text Ann hi")) == set(classifier.labels)


# -- 2. a user examples.yaml nested too deeply ---------------------------------------------------
def write_deep_user_file():
    path = user_examples_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEEP_YAML)
    return path


def test_a_deeply_nested_examples_file_is_an_example_error():
    path = write_deep_user_file()
    with pytest.raises(ExampleError) as info:
        read_examples(path, "user")
    assert str(path) in str(info.value) and "nested" in str(info.value)
    with pytest.raises(ExampleError):
        add_user_example("Text Ann hi", SMS)


def test_planning_with_a_deeply_nested_examples_file_uses_the_builtin_examples():
    path = write_deep_user_file()
    pool, problem = ExamplePool.load_for_planning()
    assert [e.query for e in pool.examples] == [e.query for e in builtin_examples()]
    assert problem is not None and str(path) in problem and "built-in examples" in problem


@pytest.mark.parametrize("args", [("list",), ("remove", "1"), ("add", "Text Ann hi", "PLAN"), ("import", "POOL")])
def test_the_examples_commands_refuse_a_deeply_nested_examples_file(tmp_path, args):
    path = write_deep_user_file()
    plan, pool = tmp_path / "plan.txt", tmp_path / "pool.jsonl"
    plan.write_text(SMS)
    pool.write_text(json.dumps({"query": "Text Ann hi", "plan": SMS}) + "\n")
    args = tuple(str(plan) if a == "PLAN" else str(pool) if a == "POOL" else a for a in args)
    out = tinyagent("examples", *args)
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert str(path) in out.stderr and "nested" in out.stderr


# -- 3. JSONL lines nested too deeply, tools that are not names -----------------------------------
def test_labelled_data_nested_too_deeply_or_with_bad_tools_is_a_data_error(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"query": "q", "tools": ["send_sms"]}) + "\n" + DEEP_JSON_LINE)
    with pytest.raises(DataError, match=r"data\.jsonl, line 2: not JSON \(nested too deeply\)"):
        load_labelled(data)
    for tools in ([["send_sms"]], [{"a": 1}], [1]):
        data.write_text(json.dumps({"query": "q", "tools": tools}) + "\n")
        with pytest.raises(DataError, match=r"data\.jsonl, line 1: "):
            load_labelled(data)


@pytest.mark.parametrize("line", [DEEP_JSON_LINE, '{"query":"q","tools":[["send_sms"]]}\n'],
                         ids=["nested-too-deeply", "tools-not-names"])
def test_toolrag_eval_refuses_a_bad_line_with_exit_2(tmp_path, line):
    data = tmp_path / "data.jsonl"
    data.write_text(line)
    out = tinyagent("toolrag", "--eval", str(data))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert f"{data}, line 1" in out.stderr


def test_an_examples_jsonl_line_nested_too_deeply_is_skipped(tmp_path):
    src = tmp_path / "pool.jsonl"
    src.write_text(json.dumps({"query": "Text Ann hi", "plan": SMS}) + "\n" + DEEP_JSON_LINE)
    good, bad = read_jsonl_examples(src)
    assert [e.query for e in good] == ["Text Ann hi"]
    assert bad == [(2, "not JSON (nested too deeply)")]


def test_examples_import_and_eval_examples_refuse_a_pool_nested_too_deeply(tmp_path):
    src = tmp_path / "pool.jsonl"
    src.write_text(DEEP_JSON_LINE)
    out = tinyagent("examples", "import", str(src))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert "no usable examples" in out.stderr
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "a", "query": "Text Ann hi", "plan": SMS}) + "\n")
    out = tinyagent("eval", str(data), "--examples", str(src))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert str(src) in out.stderr


# -- 4. the 64 MiB input limit ------------------------------------------------------------------------
@pytest.fixture
def huge_file(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:
        fh.truncate(OVER_LIMIT)  # sparse: 65 MiB of NUL bytes without writing them
    return path


def test_the_readers_refuse_a_file_over_64_mib(huge_file):
    with pytest.raises(DataError, match="larger than 64 MiB"):
        load_labelled(huge_file)
    with pytest.raises(ExampleError, match="larger than 64 MiB"):
        read_jsonl_examples(huge_file)


@pytest.mark.parametrize("command", [("toolrag", "--eval"), ("examples", "import")])
def test_the_commands_refuse_a_file_over_64_mib_with_exit_2(huge_file, command):
    out = tinyagent(*command, str(huge_file))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
    assert str(huge_file) in out.stderr and "larger than 64 MiB" in out.stderr


# -- 4. a model folder whose files load but do not work -------------------------------------------
def graph_giving(tmp_path, output) -> str:
    """A model dir with the built-in tokenizer and a graph that takes the usual inputs and gives
    `output` (a numpy array) as its logits, or no output at all when `output` is None."""
    onnx = pytest.importorskip("onnx", reason="building test graphs needs the onnx package (dev extra)")
    from onnx import TensorProto, helper, numpy_helper

    target = tmp_path / "odd-graph"
    target.mkdir()
    shutil.copyfile(builtin_model_dir() / "tokenizer.json", target / "tokenizer.json")
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
              for n in ("input_ids", "attention_mask")]
    nodes, outputs = [], []
    if output is not None:
        value = numpy_helper.from_array(np.asarray(output, dtype=np.float32), "value")
        nodes = [helper.make_node("Constant", [], ["logits"], value=value)]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "odd", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, target / "model.onnx")
    return str(target)


def vocab_without_unk(tmp_path) -> str:
    target = tmp_path / "no-unk"
    shutil.copytree(builtin_model_dir(), target)
    tokenizer = json.loads((target / "tokenizer.json").read_text())
    del tokenizer["model"]["vocab"]["[UNK]"]
    (target / "tokenizer.json").write_text(json.dumps(tokenizer))
    return str(target)


def deep_toolrag_json(tmp_path) -> str:
    target = tmp_path / "deep-meta"
    shutil.copytree(builtin_model_dir(), target)
    (target / "toolrag.json").write_text('{"labels": ' + "[" * 100000 + "]" * 100000 + "}")
    return str(target)


BROKEN_FOLDERS = {  # each crashed (RecursionError, a bare tokenizers Exception, IndexError, TypeError)
    "deep toolrag.json": deep_toolrag_json,
    "vocab without [UNK]": vocab_without_unk,
    "scalar output": lambda tmp: graph_giving(tmp, 0.5),
    "1-D output": lambda tmp: graph_giving(tmp, [0.5] * 16),
    "empty output": lambda tmp: graph_giving(tmp, np.zeros((0, 16))),
    "no output": lambda tmp: graph_giving(tmp, None),
}
UNKNOWN_WORDS = "Text Omar ✈︎ ΩΩΩ that I'm late"  # words the vocabulary lacks: a WordPiece needs [UNK]


@pytest.mark.parametrize("case", list(BROKEN_FOLDERS))
async def test_a_broken_model_folder_falls_back_to_every_enabled_tool_with_one_warning(tmp_path, case):
    config = Config(backend="sandbox")
    config.apps = list(APPS)
    config.models.toolrag = BROKEN_FOLDERS[case](tmp_path)
    pipeline = Pipeline(config)
    events: list = []
    for request in (UNKNOWN_WORDS, "Remind me to call Ann"):
        await pipeline.select_tools(request, events.append)
    said = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert len(said) == 1 and "ToolRAG is not available" in said[0], said
    enabled = tuple(t.name for t in tools_for_apps(set(APPS)))
    assert [e.selected for e in events if isinstance(e, ToolsSelected)] == [enabled, enabled]


@pytest.mark.parametrize("case", list(BROKEN_FOLDERS))
def test_the_toolrag_command_refuses_a_broken_model_folder_with_exit_2(tmp_path, case):
    out = tinyagent("toolrag", UNKNOWN_WORDS, "--model", BROKEN_FOLDERS[case](tmp_path))
    assert out.returncode == 2, out.stderr
    no_traceback(out)
