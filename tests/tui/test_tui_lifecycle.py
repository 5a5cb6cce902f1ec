"""A run's life in the UI when the person does two things at once: stops it before it begins,
stops it while a confirmation asks, sends while it runs, toggles dry run under it. Each test
was a bug: the app stuck busy, a request lost, a run shown as sent that never started, a
promise that nothing would change, a policy's denial blamed on the person."""

from __future__ import annotations

import threading

import pytest
from textual import events
from textual.widgets import Input

from tests.support.tui_helpers import (
    PLAN,
    FakeRecorder,
    FakeTranscriber,
    make_app,
    sandbox_config,
    sandbox_rows,
    wait_for,
)
from tests.tui.test_tui import open_editor_with, statuses
from tinyagent.core.events import TaskStatus
from tinyagent.tools.sandbox.backend import SandboxBackend
from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.widgets.chat import Chat

SLOW = '1. get_phone_number("Mike")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>\n'
SMS_ONLY = '1. send_sms(["+1 415 555 0104"], "hi")\n2. join()<END_OF_PLAN>\n'


@pytest.fixture
def gate(monkeypatch):
    """The sandbox's prepare step waits for this event (in its worker thread): a run stays busy
    until the test lets it go."""
    opened = threading.Event()
    real = SandboxBackend.prepare

    def prepare(self, call):
        opened.wait(20)
        return real(self, call)

    monkeypatch.setattr(SandboxBackend, "prepare", prepare)
    yield opened
    opened.set()


async def start_held_run(pilot, app):
    await open_editor_with(pilot, app, SLOW)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: statuses(app).get(1) is TaskStatus.RUNNING)


async def test_a_run_stopped_before_it_begins_frees_the_app(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        await open_editor_with(pilot, app, PLAN)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy and app.runs.last_run_dry)
        # one read from the terminal: both keys queued before the first is handled, so the
        # run's worker is cancelled before its first step
        app.post_message(events.Key("ctrl+g", None))
        app.post_message(events.Key("ctrl+x", None))
        await wait_for(pilot, lambda: "Run this plan for real." in app.query_one(Chat).text())
        await wait_for(pilot, lambda: not app.workers and not app.runs.busy)
        assert "stopped before it began" in app.query_one(Chat).text()
        assert sandbox_rows("sms") == []
        await pilot.press("ctrl+g")  # and the next run is taken
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))


async def test_ctrl_x_stops_the_run_while_a_confirmation_asks(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_editor_with(pilot, app, PLAN)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal) and not app.runs.busy)
        assert TaskStatus.DONE not in {statuses(app)[3], statuses(app)[4]}
        assert sandbox_rows("sms") == []


async def test_ctrl_x_in_the_editor_is_still_the_editors(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        await open_editor_with(pilot, app, "1. join()<END_OF_PLAN>\n")
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert app.runs.busy  # the run goes on: in the editor the key cuts text


async def test_a_typed_request_refused_while_busy_stays_in_the_box(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        box = app.query_one("#ask", Input)
        box.focus()
        box.value = "text Mike that I'm late"
        await pilot.press("enter")
        await pilot.pause()
        assert app.runs.busy
        assert box.value == "text Mike that I'm late"  # to send once the run is over
        assert "text Mike that I'm late" not in app.query_one(Chat).text()


async def test_a_spoken_request_refused_while_busy_stays_in_the_box(tmp_path, gate):
    config = sandbox_config()
    config.voice.send_after_transcribe = True
    app = make_app(tmp_path, config, recorder=FakeRecorder, transcriber=FakeTranscriber("text Sid hi"))
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#meter").state == "recording")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#ask", Input).value == "text Sid hi")
        await pilot.pause(0.2)
        assert app.query_one("#ask", Input).value == "text Sid hi"


async def test_an_editor_plan_refused_while_busy_is_kept_not_shown_as_sent(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        other = '1. get_email_address("Sarah")\n2. join()<END_OF_PLAN>\n'
        await open_editor_with(pilot, app, other)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert 'get_email_address("Sarah")' not in app.query_one(Chat).text()
        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await wait_for(pilot, lambda: not app.runs.busy)
        await pilot.press("ctrl+e")  # the refused plan waits there
        await wait_for(pilot, lambda: type(app.screen).__name__ == "EditorScreen")
        assert 'get_email_address("Sarah")' in app.screen.query_one("TextArea").text


async def test_ctrl_g_refused_while_busy_is_not_shown_as_sent(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "Run this plan for real." not in app.query_one(Chat).text()


async def test_a_history_rerun_refused_while_busy_is_not_shown_as_sent(tmp_path, gate):
    app = make_app(tmp_path, sandbox_config(send="allow"))
    gate.set()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_editor_with(pilot, app, SLOW)  # one entry in the history
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy and len(sandbox_rows("sms")) == 1)
        gate.clear()
        await start_held_run(pilot, app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert "Again:" not in app.query_one(Chat).text()


async def test_dry_run_toggled_under_a_real_run_says_it_is_for_the_next(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_editor_with(pilot, app, SMS_ONLY)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("ctrl+d")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert not any("nothing will be changed" in m for m in said), said
        assert any("from the next run" in m and "stays real" in m for m in said), said
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.runs.busy)
        assert len(sandbox_rows("sms")) == 1  # this run was real, as it said


async def test_a_denial_by_the_policy_says_it_was_the_policys(tmp_path):
    app = make_app(tmp_path, sandbox_config(send="deny"))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_editor_with(pilot, app, SLOW)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy)
        await pilot.pause()
        assert statuses(app)[2] is TaskStatus.DENIED  # no modal was ever shown
        chat = app.query_one(Chat).text()
        assert "you declined" not in chat
        assert "Task 2 (send_sms) was not run: the approval policy denies send steps (approval.send: deny)" in chat


async def test_a_stopped_dry_run_is_not_called_finished(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        await start_held_run(pilot, app)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not app.runs.busy)
        await pilot.pause()
        chat = app.query_one(Chat).text()
        assert "Dry run finished" not in chat and "Dry run stopped" in chat
        assert not app.query(".run-for-real")


async def test_enter_in_a_confirmation_that_pops_up_denies(tmp_path, gate):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_held_run(pilot, app)
        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("enter")  # meant for the request box the person was typing in
        await wait_for(pilot, lambda: not app.runs.busy)
        assert sandbox_rows("sms") == []
        assert statuses(app)[2] is TaskStatus.DENIED
