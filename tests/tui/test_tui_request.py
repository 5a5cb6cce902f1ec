"""A request end to end in the UI with a real (tiny, random-weight) GGUF model through the
real Pipeline and the sandbox: tools chosen, plan streamed and drawn, modals answered."""

from __future__ import annotations

import os

import pytest

from core.events import TaskStatus
from tests.support.tui_helpers import make_app, sandbox_config, wait_for
from tui.screens.confirm import ConfirmModal
from tui.widgets.chat import Chat
from tui.widgets.plan_graph import PlanGraph
from tui.widgets.tool_panel import ToolBars

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    from tests.conftest import VOCAB_FILE
    from tests.support.gguf_model import write_random_llama_gguf

    vocab = VOCAB_FILE if VOCAB_FILE.exists() else None
    return write_random_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", vocab_file=vocab)


@pytest.mark.slow
async def test_request_with_tiny_model_plans_draws_and_asks(tmp_path, tiny_gguf):
    config = sandbox_config(read="ask")  # every step asks, so the modal is exercised whatever is planned
    config.models.planner = str(tiny_gguf)
    config.apps = ["contacts", "messages"]
    config.planner.max_replans = 0
    config.planner.max_tokens = 160
    # No in-context examples: the prompt then does not hang on how the built-in encoder ranks
    # them, which changes with every retraining, and a random-weights model's output with it.
    config.planner.examples = 0
    config.planner.threads = 1
    app = make_app(tmp_path, config)
    decisions: dict[int, str] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        app.ask("text Mike that I'm running late")
        while app.busy:
            if isinstance(app.screen, ConfirmModal):
                modal = app.screen
                tid = modal.request.task.id
                assert modal.request.call.tool.name in ("get_phone_number", "get_email_address", "send_sms")
                key = "y" if not decisions else "n"  # approve the first step, deny the rest
                decisions[tid] = "approve" if key == "y" else "deny"
                await pilot.press(key)
                await wait_for(pilot, lambda m=modal: app.screen is not m)
            await pilot.pause(0.05)
        chat = app.query_one(Chat)
        bars = app.query_one(ToolBars)
        assert bars.probabilities, "tool probabilities were shown"
        assert set(bars.selected) <= {"get_phone_number", "get_email_address", "send_sms"}
        assert chat.streamed.strip(), chat.text()  # the plan text streamed into the chat
        graph = app.query_one(PlanGraph)
        nodes = graph.nodes
        assert nodes, f"the model planned no task: {chat.text()}"
        assert decisions and set(decisions) <= set(nodes), decisions  # each step asked before it ran
        for tid, node in nodes.items():
            assert node.status.finished, (tid, node.status)
            if decisions.get(tid) == "deny":
                assert node.status is TaskStatus.DENIED
            elif decisions.get(tid) == "approve":
                assert node.status in (TaskStatus.DONE, TaskStatus.FAILED)
            assert f"{tid} {node.task.tool}" in graph.text()
        assert "Finished:" in chat.text() and "Something went wrong" not in chat.text(), chat.text()
        if os.environ.get("TUI_SHOW"):
            print(chat.text(), graph.text(), decisions, sep="\n")
