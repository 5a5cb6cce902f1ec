"""The app with the reference MCP filesystem server (npm) on a temp folder: a plan calling its
tools is checked in the editor once the server answered, both tasks are drawn in the graph,
the approval modal names the server, and the server stops with the app."""

from __future__ import annotations

from textual.widgets import TextArea

from tests.support.fs_server import files_config, processes_mentioning
from tests.support.tui_helpers import make_app, wait_for
from tinyagent.core.config import parse_config
from tinyagent.core.events import TaskStatus
from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.screens.editor import EditorScreen
from tinyagent.tui.widgets.plan_graph import PlanGraph


async def test_a_plan_of_mcp_tools_runs_from_the_editor_and_the_modal_names_the_server(tmp_path):
    folder = (tmp_path / "notes").resolve()
    folder.mkdir()
    (folder / "in.txt").write_text("buy milk\n")
    plan = (f'1. read_text_file("{folder}/in.txt")\n2. write_file("{folder}/out.txt", "$1")\n'
            "3. join()<END_OF_PLAN>")
    app = make_app(tmp_path, parse_config(files_config(folder, server="read_only: [read_text_file]")))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        editor.query_one(TextArea).load_text(plan)
        await wait_for(pilot, lambda: not editor.loading, timeout=60)  # the server started and listed its tools
        await pilot.pause()
        problems = str(editor.query_one("#plan-problems").render())
        assert "valid: 2 tasks" in problems, problems
        assert {n.task.tool for n in editor.query_one(PlanGraph).nodes.values()} == {"read_text_file", "write_file"}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), timeout=60)
        modal = app.screen
        graph = app.query_one(PlanGraph)
        assert sorted(graph.nodes) == [1, 2]  # both tasks drawn, the read already done
        assert "read_text_file" in graph.text() and "write_file" in graph.text()
        assert graph.nodes[1].status is TaskStatus.DONE and graph.nodes[2].status is TaskStatus.AWAITING_APPROVAL
        assert modal.request.task.id == 2  # the user said the read only reads: only the write asks
        text = modal.plain()
        assert "a tool of the MCP server files" in text
        assert f'MCP server files: write_file(path="{folder}/out.txt"' in text
        assert "external: runs a tool of an MCP server" in str(modal.query_one("#confirm-title").render())
        assert not (folder / "out.txt").exists()
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.runs.busy, timeout=60)
        assert graph.nodes[2].status is TaskStatus.DONE
        assert (folder / "out.txt").read_text() == "buy milk\n"
        assert processes_mentioning(str(folder)) != []  # shared by the session, until the app closes
    await wait_for_gone(folder)


async def wait_for_gone(folder) -> None:
    import asyncio

    for _ in range(200):  # the app stops its servers as it closes; the timeout only guards against a hang
        if not processes_mentioning(str(folder)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"an MCP server outlived the app: {processes_mentioning(str(folder))}")
