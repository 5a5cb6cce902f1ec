"""Planning with an MCP server's tools: the real filesystem server on a temp folder, the real
ToolRAG (onnxruntime, the built-in MiniLM) and the real pipeline; the planner model is
scripted (tests/support/scripted_llm.py) so what it writes is the test's, not random weights'.

ToolRAG's classifier scores the 16 built-in tools; the server's tools are ranked by the
encoder's similarity to the request and offered over `toolrag.mcp_similarity`, at most
`toolrag.mcp_max_tools` of them; without ToolRAG every one is offered. The compact profile
describes them and its grammar takes them; the tinyagent profile leaves them out and says so
once. A planned call of one runs through the approval gate."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tinyagent
from tests.support.fs_server import files_config, filesystem_server, processes_mentioning
from tests.support.grammar_check import grammar_accepts
from tests.support.scripted_llm import ScriptedLLM
from tinyagent.core.approval import ApprovalRequest, Decision
from tinyagent.core.config import Config, McpServerConfig
from tinyagent.core.events import Notice, TaskStatus, ToolsSelected
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.planner import Planner
from tinyagent.core.planner.prompt import describe_tool
from tinyagent.core.toolrag.embed import default_encoder

SAVE = "Save a note file called todo.txt in my folder saying buy milk"
TEXT = "Text Sarah I'm running late"
APPS = ["contacts", "messages", "notes"]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path.resolve()


def config(folder, prompt: str = "compact", **toolrag) -> Config:
    cfg = Config(backend="sandbox", apps=list(APPS))
    cfg.planner.prompt = prompt
    cfg.planner.max_replans = 0
    for key, value in toolrag.items():
        setattr(cfg.toolrag, key, value)
    cfg.mcp.servers["files"] = McpServerConfig(command=str(filesystem_server()), args=[str(folder)])
    return cfg


def yaml_for(folder, prompt: str = "compact") -> str:
    return files_config(folder, extra=f"apps: [{', '.join(APPS)}]\nplanner: {{prompt: {prompt}, max_replans: 0}}\n")


async def selected(pipeline: Pipeline, request: str) -> tuple[list, ToolsSelected, list]:
    events: list = []
    tools, _ = await pipeline.select_tools(request, events.append)
    return tools, next(e for e in events if isinstance(e, ToolsSelected)), events


async def test_toolrag_ranks_the_servers_tools_by_similarity_and_offers_the_closest(folder, monkeypatch):
    pipeline = Pipeline(config(folder))
    encoder = default_encoder()
    assert encoder is not None
    batches: list[int] = []
    embed = encoder.embeddings
    monkeypatch.setattr(encoder, "embeddings", lambda texts: batches.append(len(texts)) or embed(texts))
    try:
        mcp = pipeline.mcp_tools()
        tools, event, _ = await selected(pipeline, SAVE)
        # Every tool of the server gets a similarity (a cosine), none a probability.
        assert set(event.similarities) == {t.name for t in mcp} and not set(event.probabilities) & set(event.similarities)
        assert all(-1.0 <= s <= 1.0 for s in event.similarities.values())
        picked = [n for n in event.selected if n in event.similarities]
        assert "write_file" in picked and 1 <= len(picked) <= pipeline.config.toolrag.mcp_max_tools
        assert all(event.similarities[n] >= event.similarity_threshold == 0.75 for n in picked)
        assert picked == sorted(picked, key=lambda n: -event.similarities[n])
        assert [t.name for t in tools if t.server] == picked
        # A request for the built-in tools gets none of the server's.
        tools, event, _ = await selected(pipeline, TEXT)
        assert not [t for t in tools if t.server] and max(event.similarities.values()) < 0.75
        # Each tool's text was embedded once, on the first request; later ones embed only the request.
        assert sorted(batches) == [1, 1, len(mcp)]
    finally:
        pipeline.close()
    assert processes_mentioning(str(folder)) == []  # the server stopped with the pipeline


async def test_the_settings_bound_what_is_offered(folder):
    pipeline = Pipeline(config(folder, mcp_max_tools=1, mcp_similarity=0.5))
    try:
        tools, event, _ = await selected(pipeline, SAVE)
        assert len([t for t in tools if t.server]) == 1 and event.similarity_threshold == 0.5
    finally:
        pipeline.close()


async def test_without_toolrag_every_tool_of_the_server_is_offered(folder):
    pipeline = Pipeline(config(folder, enabled=False))
    try:
        tools, event, _ = await selected(pipeline, TEXT)
        assert {t.name for t in tools if t.server} == {t.name for t in pipeline.mcp_tools()} != set()
        assert event.similarities == {}
    finally:
        pipeline.close()


async def test_compact_plans_with_the_servers_tools_and_the_call_asks_before_it_writes(folder, tiny_gguf, vocab_llm):
    """The scripted side of README's done-when: the compact prompt describes write_file, the plan
    grammar takes its call, and the call waits for approval (naming the server) before the file exists."""
    todo = folder / "todo.txt"
    plan = f'1. write_file("{todo}", "buy milk")\n2. join()<END_OF_PLAN>'
    for decision in (Decision.DENY, Decision.APPROVE):
        llm = ScriptedLLM(tiny_gguf, [plan])
        pipeline = Pipeline(config(folder), llm=llm)
        asked: list[ApprovalRequest] = []

        async def approver(request: ApprovalRequest, decision=decision, asked=asked) -> Decision:
            asked.append(request)
            assert not todo.exists()  # nothing is written before the answer
            return decision

        events: list = []
        try:
            result = await pipeline.ask(SAVE, emit=events.append, approver=approver)
            offered = [t for t in pipeline.mcp_tools() if t.name == "write_file"]
            grammar = Planner(llm, config=pipeline.config).grammar(
                [t for t in pipeline.registry().values() if t.name in next(
                    e for e in events if isinstance(e, ToolsSelected)).selected])
        finally:
            pipeline.close()
            llm.close()
        assert describe_tool(offered[0]) in llm.prompts[0]
        assert grammar_accepts(vocab_llm, grammar, plan)
        assert [(r.task.tool, r.effect.value) for r in asked] == [("write_file", "external")]
        if decision is Decision.DENY:
            assert result.summary.statuses == {1: TaskStatus.DENIED} and not todo.exists()
        else:
            assert result.summary.statuses == {1: TaskStatus.DONE}, result.summary.errors
            assert todo.read_text() == "buy milk"


async def test_the_tinyagent_profile_leaves_the_servers_tools_out_and_says_so_once(folder, tiny_gguf):
    llm = ScriptedLLM(tiny_gguf, ['1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>'] * 2)
    pipeline = Pipeline(config(folder, prompt="tinyagent"), llm=llm)
    events: list = []
    try:
        for request in (SAVE, TEXT):
            await pipeline.plan_only(request, emit=events.append)
        count = len(pipeline.mcp_tools())
    finally:
        pipeline.close()
        llm.close()
    said = [e.message for e in events if isinstance(e, Notice) and "prompt leaves out" in e.message]
    assert said == [f"the tinyagent prompt leaves out the {count} MCP tools of your servers: TinyAgent-1.1B/7B were "
                    "trained on their 16 tools only, and their prompt is TinyAgent's own text; planner.prompt: compact "
                    "describes MCP tools"]
    assert all("write_file" not in p and "read_text_file" not in p for p in llm.prompts)
    assert "create_note" in llm.prompts[0]  # the built-in tools ToolRAG chose are planned with


def test_the_cli_shows_similarities_marked_as_such(folder, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_for(folder))
    out = tinyagent("toolrag", SAVE, "--json", config=path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "write_file" in report["similarity_selected"] and report["similarity_threshold"] == 0.75
    assert "write_file" in report["similarities"] and "write_file" not in report["probabilities"]
    text = tinyagent("toolrag", SAVE, config=path)
    assert text.returncode == 0, text.stderr
    line = next(ln for ln in text.stdout.splitlines() if ln.split()[2:3] == ["write_file"])
    assert line.startswith("~0.") and line.rstrip().endswith("*")
    assert "MCP tools by similarity" in text.stdout


def test_the_prompt_command_describes_or_leaves_out_the_servers_tools(folder, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_for(folder))
    out = tinyagent("prompt", SAVE, "--profile", "compact", "--tools", "create_note,write_file,read_text_file",
                    "--json", config=path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["tools"] == ["create_note", "write_file", "read_text_file"]
    assert "\nwrite_file(path: str, content: str) -> str: Create a new file" in report["system"]
    assert "\nread_text_file(path: str, tail: int?, head: int?) -> str: " in report["system"]
    assert "An argument whose type ends in ? may be left out" in report["system"]
    out = tinyagent("prompt", SAVE, "--profile", "tinyagent", "--tools", "create_note,write_file", "--json",
                    config=path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["left_out"] == ["write_file"] and "write_file" not in report["system"]
    assert "info: the tinyagent prompt leaves out 1 MCP tool (write_file)" in out.stderr
    bad = tinyagent("prompt", SAVE, "--tools", "create_note,fly", config=path)
    assert bad.returncode == 2 and "--tools: unknown tool(s) fly" in bad.stderr
