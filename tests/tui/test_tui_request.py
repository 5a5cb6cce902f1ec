"""A request end to end in the UI through the real Pipeline, ToolRAG and the sandbox: tools
chosen, plan streamed and drawn, each step asked about, the answer given.

The planner is a real LocalLLM on the tiny random-weight GGUF whose generation is scripted
(tests/support/scripted_llm.py): what random weights write differs from CPU to CPU, so the
test decides the plan and checks every step of the flow against it."""

from __future__ import annotations

import os

import pytest

from tests.support.scripted_llm import ScriptedLLM
from tests.support.tui_helpers import make_app, sandbox_config, wait_for
from tinyagent.core.events import TaskStatus
from tinyagent.core.pipeline import Pipeline
from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph
from tinyagent.tui.widgets.tool_panel import ToolBars

pytest.importorskip("llama_cpp")

PLAN = ('1. get_phone_number("Mike")\n'
        '2. send_sms(["$1"], "Running late, see you soon")\n'
        '3. join()<END_OF_PLAN>\n')


async def test_request_with_tiny_model_plans_draws_and_asks(tmp_path, tiny_gguf):
    config = sandbox_config(read="ask")  # every step asks, so the modal is shown for each
    config.models.planner = str(tiny_gguf)
    config.apps = ["contacts", "messages"]
    config.planner.max_replans = 0
    config.planner.examples = 0
    llm = ScriptedLLM(tiny_gguf, [PLAN])
    app = make_app(tmp_path, config, pipeline=Pipeline(config, llm=llm))
    decisions: dict[int, str] = {}
    asked: dict[int, str] = {}
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            app.ask("text Mike that I'm running late")
            assert app.runs.busy  # the request is under way at once
            while app.runs.busy:
                if isinstance(app.screen, ConfirmModal):
                    modal = app.screen
                    tid = modal.request.task.id
                    asked[tid] = modal.request.call.tool.name
                    key = "y" if not decisions else "n"  # approve the lookup, deny the send
                    decisions[tid] = "approve" if key == "y" else "deny"
                    await pilot.press(key)
                    await wait_for(pilot, lambda m=modal: app.screen is not m)
                await pilot.pause(0.05)
            chat = app.query_one(Chat)
            bars = app.query_one(ToolBars)
            graph = app.query_one(PlanGraph)
            if os.environ.get("TUI_SHOW"):
                print(chat.text(), graph.text(), decisions, sep="\n")
            assert bars.probabilities, "tool probabilities were shown"
            assert {"get_phone_number", "send_sms"} <= set(bars.probabilities)
            assert set(bars.selected) <= {"get_phone_number", "get_email_address", "send_sms"}
            assert len(llm.prompts) == 1 and "text Mike that I'm running late" in llm.prompts[0]
            assert 'get_phone_number("Mike")' in chat.streamed and "send_sms" in chat.streamed, chat.text()
            nodes = graph.nodes
            assert sorted(nodes) == [1, 2], chat.text()
            assert asked == {1: "get_phone_number", 2: "send_sms"}  # each step asked before it ran
            assert decisions == {1: "approve", 2: "deny"}
            assert nodes[1].status is TaskStatus.DONE, (nodes[1].status, chat.text())
            assert nodes[2].status is TaskStatus.DENIED, (nodes[2].status, chat.text())
            for tid, node in nodes.items():
                assert f"{tid} {node.task.tool}" in graph.text()
            text = chat.text()
            assert "Finished:" in text and "Something went wrong" not in text, text
            assert "declined" in text, text  # the answer says the send was declined
    finally:
        llm.close()
