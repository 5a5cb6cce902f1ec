"""SVG snapshots of the main screen in its key states (pytest-textual-snapshot).

Update after looking at the report: `pytest tests/tui/test_tui_snapshots.py --snapshot-update`.
Durations are pinned so the pictures do not change from run to run."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, TextArea

from tests.support.tui_helpers import PLAN, FakeStore, make_app, sandbox_config, wait_for
from tinyagent.core.approval import deny_all
from tinyagent.core.events import (
    ApprovalRequested,
    PlanStarted,
    PlanToken,
    RequestStarted,
    RunSummary,
    TaskAdded,
    TaskFinished,
    TaskStarted,
    TaskStatus,
    ToolsSelected,
)
from tinyagent.core.executor import DryRun
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline, PipelineResult
from tinyagent.tools.registry import TOOL_NAMES
from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph

REQUEST = "tell Sarah and Mike I'm late"
PROBS = {n: 0.02 for n in TOOL_NAMES} | {"get_phone_number": 0.91, "get_email_address": 0.97, "send_sms": 0.88,
                                         "compose_new_email": 0.41, "create_reminder": 0.07, "get_zoom_meeting_link": 0.12}
ONE_EFFECT = """1. get_email_address("Sarah")
2. compose_new_email(["$1"], [], "Running late", "Hi Sarah,\\n\\nI'm running about 10 minutes late for our 3pm. \
Start without me and I'll catch up.\\n\\nSorry!", [])
3. join()<END_OF_PLAN>
"""
SELECTED = ("get_phone_number", "get_email_address", "send_sms", "compose_new_email")


@pytest.fixture(autouse=True)
def fixed_durations(monkeypatch):
    monkeypatch.setattr(RunSummary, "describe", lambda self: (
        f"{len(self.statuses)} tasks: " + ", ".join(f"{self.count(s)} {s.value}" for s in TaskStatus if self.count(s))
        + " in 0.42s"))


def steady(app) -> None:
    """No blinking cursor, no moving clock: a picture that is the same every run."""
    for widget in app.query(Input):
        widget.cursor_blink = False
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False
        for area in screen.query(TextArea):
            # TextArea caches drawn lines under a key that names the cursor only while it blinks:
            # a line drawn in a blink's dark half would be reused without the cursor. Redraw.
            area.notify_style_update()
            area.refresh()
        for graph in screen.query(PlanGraph):
            graph.frozen_now = 1000.0
            for i, node in enumerate(graph.nodes.values()):
                if node.started is not None:
                    node.started = 1000.0 - 0.8
                if node.duration is not None:
                    node.duration = 0.012 + 0.004 * i
            graph.redraw()


class ScriptedPipeline(Pipeline):
    """Emits a request's events as the real pipeline would (tools, tokens, tasks) up to a
    point, then waits to be stopped, so the picture shows the run under way."""

    def __init__(self, upto: str):
        super().__init__(sandbox_config())
        self.upto = upto

    async def ask(self, request, *, emit, approver=deny_all, dry_run=DryRun.OFF, yes=False) -> PipelineResult:
        plan = parse_plan(PLAN)
        emit(RequestStarted(request))
        emit(ToolsSelected(PROBS, SELECTED, 0.5, 0.012))
        for line in PLAN.splitlines(keepends=True):
            emit(PlanToken(line))
        emit(PlanStarted("r1", "off"))
        for task in plan.tasks:
            emit(TaskAdded(task))
        emit(TaskStarted(1, "get_email_address", {"name": "Sarah"}))
        emit(TaskStarted(2, "get_phone_number", {"name": "Mike"}))
        emit(TaskFinished(1, "get_email_address", TaskStatus.DONE, "sarah.lindqvist@example.com", None, 0.01,
                          {"name": "Sarah"}))
        if self.upto == "approval":
            emit(TaskFinished(2, "get_phone_number", TaskStatus.DONE, "+1 415 555 0104", None, 0.01, {"name": "Mike"}))
            emit(TaskStarted(3, "compose_new_email", {}))
            emit(ApprovalRequested(3, "compose_new_email", "draft", {"recipients": ["sarah.lindqvist@example.com"]},
                                   "Draft an email to Sarah"))
        await asyncio.Event().wait()  # never set: the run stays as it is until the app closes
        raise AssertionError("unreachable")


async def scripted_request(pilot, app, last: TaskStatus, task_id: int) -> None:
    """Ask through the app's public entry; wait until the scripted events are drawn."""
    app.ask(REQUEST)
    graph = app.query_one(PlanGraph)
    await wait_for(pilot, lambda: len(graph.nodes) == 4 and graph.nodes[task_id].status is last)
    await wait_for(pilot, lambda: app.query_one(Chat).streamed == PLAN)


async def settle(pilot, app) -> None:
    """Wait for the state the picture shows, not for a fixed time (CI machines are busy):
    no plan text waiting to be drawn, the chat at its end, animations done."""
    await pilot.pause(0.3)
    chat = app.main_screen.query_one(Chat)  # the main screen's, also under a modal
    await wait_for(pilot, lambda: not chat.pending and chat.scroll_y >= chat.max_scroll_y, timeout=20)
    await pilot.wait_for_scheduled_animations()
    steady(app)
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


def test_snapshot_start_without_models_80x24(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=False))

    async def run_before(pilot):
        await wait_for(pilot, lambda: "Missing models" in app.query_one("#chat").text())
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_streaming_plan_and_tools_80x24(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=True), pipeline=ScriptedPipeline("running"))

    async def run_before(pilot):
        await scripted_request(pilot, app, TaskStatus.DONE, 1)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_tools_and_graph_large_light(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=True), theme="textual-light",
                   pipeline=ScriptedPipeline("approval"))

    async def run_before(pilot):
        await scripted_request(pilot, app, TaskStatus.AWAITING_APPROVAL, 3)
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)


def test_snapshot_plan_editor(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=True))

    async def run_before(pilot):
        await pilot.press("ctrl+e")
        editor = app.screen.query_one(TextArea)
        editor.load_text(PLAN.replace("5. join()", "5. send_sms([\"$9\"], \"x\")\n6. join()"))
        await wait_for(pilot, lambda: editor.has_focus)  # focus comes after mount: the cursor is drawn only then
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_snapshot_confirm_modal(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=True))

    async def run_before(pilot):
        await pilot.press("ctrl+e")
        app.screen.query_one(TextArea).load_text(ONE_EFFECT)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_snapshot_after_dry_run(snap_compare, tmp_path):
    app = make_app(tmp_path, store=FakeStore(present=True))

    async def run_before(pilot):
        app.dry_run = True
        await pilot.press("ctrl+e")
        app.screen.query_one(TextArea).load_text(PLAN)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy and app.runs.last_run_dry)
        app.clear_notifications()
        app.query_one("#graph", PlanGraph).selected = 3
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)
