"""Pilot tests for the terminal UI: each user flow against the real sandbox backend."""

from __future__ import annotations

import json
import time

import pytest
from textual.binding import Binding
from textual.widgets import Button, Input, TextArea

from tests.support.tui_helpers import (
    PLAN,
    FakeRecorder,
    FakeStore,
    FakeTranscriber,
    click_when_shown,
    make_app,
    sandbox_config,
    sandbox_rows,
    type_text,
    wait_for,
)
from tinyagent.core.approval import deny_all
from tinyagent.core.events import AnswerReady, PlanStarted, PlanToken, Replanning, RequestStarted, TaskStatus
from tinyagent.core.executor import DryRun
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline, PipelineResult
from tinyagent.core.voice.capture import VoiceUnavailable
from tinyagent.tui.actions import ACTIONS
from tinyagent.tui.messages import LEVEL_INTERVAL
from tinyagent.tui.screens.confirm import ConfirmModal
from tinyagent.tui.screens.editor import EditorScreen
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph


def statuses(app) -> dict[int, TaskStatus]:
    return {tid: n.status for tid, n in app.query_one(PlanGraph).nodes.items()}


async def open_editor_with(pilot, app, text: str) -> EditorScreen:
    await pilot.press("ctrl+e")
    await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
    editor = app.screen
    editor.query_one(TextArea).load_text(text)
    await pilot.pause()
    return editor


async def test_start_without_models_says_what_is_missing_and_downloads(tmp_path):
    store = FakeStore(present=False)
    app = make_app(tmp_path, store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "Missing models" in app.query_one(Chat).text())
        assert "tinyagent-1.1b (planner)" in app.query_one(Chat).text()
        assert "whisper" not in app.query_one(Chat).text().split("Missing models")[1].split(".")[0]
        await wait_for(pilot, lambda: "(missing)" in app.query_one("#status").model)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert type(app.screen).__name__ == "ModelsScreen"
        button = app.screen.query_one("#pull-tinyagent-1-1b", Button)
        assert not button.disabled
        await click_when_shown(pilot, button)
        await wait_for(pilot, lambda: store.pulled == ["tinyagent-1.1b"])
        await wait_for(pilot, lambda: "All models are here" in str(app.screen.query_one("#models-note").render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.query_one("#status").model == "TinyAgent-1.1B")


async def test_app_starts_with_no_model_store_at_all(tmp_path):
    app = make_app(tmp_path, store=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "No planner model" in app.query_one(Chat).text())
        app.query_one("#ask", Input).value = "text Mike"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "plan editor" in app.query_one(Chat).text().split("text Mike")[-1])
        assert not app.runs.busy


async def test_plan_editor_validates_live_and_draws(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+e")
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        await type_text(pilot, '1. get_email_address("Sarah")\n2. send_sms(["$1"], "hi")\n')
        problems = str(editor.query_one("#plan-problems").render())
        assert "join()" in problems  # not ended yet: said, in words
        graph = editor.query_one(PlanGraph)
        assert sorted(graph.nodes) == [1, 2]
        assert "get_email_address" in graph.text() and "send_sms" in graph.text()
        await type_text(pilot, "3. join()<END_OF_PLAN>")
        assert "valid: 2 tasks" in str(editor.query_one("#plan-problems").render())
        editor.query_one(TextArea).load_text('1. no_such_tool("x")\n2. join()<END_OF_PLAN>')
        await pilot.pause()
        assert "unknown tool" in str(editor.query_one("#plan-problems").render())
        await pilot.press("ctrl+s")  # refused: the plan has errors
        assert app.screen is editor
        await pilot.press("escape")
        assert not isinstance(app.screen, EditorScreen)


async def test_plan_editor_shows_hidden_characters_as_escapes_that_mean_the_same(tmp_path):
    from textual import events

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        editor = await open_editor_with(pilot, app, '1. create_note("T", "x\u202e", "")\n2. join()<END_OF_PLAN>')
        area = editor.query_one(TextArea)
        assert area.text.startswith('1. create_note("T", "x\\u202e", "")')  # loaded: shown escaped
        area.move_cursor((0, len('1. create_note("T", "x')))
        area.post_message(events.Paste("\x9b2J\u2066!"))  # pasted inside the string
        await pilot.pause()
        assert area.text.startswith('1. create_note("T", "x\\x9b2J\\u2066!\\u202e", "")')
        assert editor.plan is not None and editor.plan.ok
        assert editor.plan.tasks[0].args[1] == "x\x9b2J\u2066!\u202e"  # the plan that runs


async def test_editor_plan_runs_with_approve_and_deny(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_editor_with(pilot, app, PLAN)
        await pilot.press("ctrl+s")
        seen = {}
        for _ in range(2):
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            modal = app.screen
            tool = modal.request.call.tool.name
            text = modal.plain()
            seen[tool] = text
            assert statuses(app)[modal.request.task.id] is TaskStatus.AWAITING_APPROVAL
            await pilot.press("y" if tool == "compose_new_email" else "n")
            await wait_for(pilot, lambda m=modal: app.screen is not m)
        await wait_for(pilot, lambda: not app.runs.busy)
        # the modal showed the change and every resolved argument in full
        assert "sarah.lindqvist@example.com" in seen["compose_new_email"]
        assert "I'm running 10 minutes late. Sorry!" in seen["compose_new_email"]
        assert "+1 415 555 0104" in seen["send_sms"]
        assert statuses(app) == {1: TaskStatus.DONE, 2: TaskStatus.DONE, 3: TaskStatus.DONE, 4: TaskStatus.DENIED}
        chat = app.query_one(Chat).text()
        assert "Task 4 (send_sms) was not run: you declined this step." in chat
        assert sandbox_rows("sms") == []  # denied: nothing sent
        graph = app.query_one(PlanGraph)
        assert "✓ done" in graph.text() and "⊘ denied" in graph.text()
        # selecting a node shows its resolved arguments and output
        graph.focus()
        graph.selected = 1
        await pilot.pause()
        detail = str(app.query_one("#detail-text").render())
        assert "sarah.lindqvist@example.com" in detail
        await pilot.press("down")
        await pilot.pause()
        assert graph.selected in (3, 4)


async def test_dry_run_then_run_the_same_plan_for_real(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        assert app.dry_run and app.query_one("#status").dry_run
        await open_editor_with(pilot, app, PLAN)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy and app.runs.last_run_dry)
        assert not isinstance(app.screen, ConfirmModal)  # nothing asked: nothing would change
        assert statuses(app) == {1: TaskStatus.DONE, 2: TaskStatus.DONE, 3: TaskStatus.DRY_RUN,
                                 4: TaskStatus.DRY_RUN}
        assert sandbox_rows("sms") == []
        assert "nothing was changed" in app.query_one(Chat).text()
        assert sorted(app.query_one(PlanGraph).nodes) == [1, 2, 3, 4]  # the plan stays on screen
        await click_when_shown(pilot, app.query_one(".run-for-real", Button))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("a")  # approve the rest of this plan
        await wait_for(pilot, lambda: not app.runs.busy and not app.runs.last_run_dry)
        assert all(s is TaskStatus.DONE for s in statuses(app).values()), statuses(app)
        assert len(sandbox_rows("sms")) == 1
        assert app.dry_run  # the toggle itself is unchanged


async def test_each_dry_run_has_its_own_button_and_a_new_run_retires_the_old(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        for runs in (1, 2):  # a second dry run once mounted a second id and crashed the app
            await open_editor_with(pilot, app, PLAN)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda n=runs: not app.runs.busy and len(app.query(".run-for-real")) == n)
        first, second = app.query(".run-for-real").results(Button)
        assert first.disabled and not second.disabled  # the first acted on a plan no longer on screen
        await click_when_shown(pilot, second)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("a")
        await wait_for(pilot, lambda: not app.runs.busy and not app.runs.last_run_dry)
        assert len(sandbox_rows("sms")) == 1
        assert second.disabled


async def test_policy_allow_runs_without_modal_and_history_reruns(tmp_path):
    app = make_app(tmp_path, sandbox_config(draft="allow", send="allow"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_editor_with(pilot, app, PLAN)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not app.runs.busy and len(sandbox_rows("sms")) == 1)
        lines = (tmp_path / "history.jsonl").read_text().splitlines()
        entry = json.loads(lines[-1])
        assert entry["source"] == "editor" and "send_sms" in entry["plan"]
        assert entry["statuses"] == {"1": "done", "2": "done", "3": "done", "4": "done"}
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"
        assert "send_sms" in str(app.screen.query_one("#history-detail").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.runs.busy and len(sandbox_rows("sms")) == 2)
        assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2


async def test_record_button_levels_then_transcript_in_input(tmp_path):
    transcriber = FakeTranscriber()
    app = make_app(tmp_path, recorder=FakeRecorder, transcriber=transcriber)
    async with app.run_test(size=(100, 30)) as pilot:
        started = time.monotonic()  # no level can reach the meter before this
        await click_when_shown(pilot, app.query_one("#record", Button))
        meter = app.query_one("#meter")
        await wait_for(pilot, lambda: meter.state == "recording" and meter.updates > 3)
        assert "Stop" in str(app.query_one("#record", Button).label)
        await pilot.pause(0.5)
        # 200 levels/s arrive; the bridge passes one per LEVEL_INTERVAL (1/30 s) of the clock,
        # however long the recording really took on a loaded machine.
        assert meter.updates <= (time.monotonic() - started) / LEVEL_INTERVAL + 1
        await pilot.press("ctrl+r")  # the key stops it too
        await wait_for(pilot, lambda: app.query_one("#ask", Input).value == transcriber.text)
        assert meter.state == "idle" and transcriber.calls == 1
        # to edit or send; Textual moves focus on its next message cycle
        await wait_for(pilot, lambda: app.query_one("#ask", Input).has_focus)


async def test_record_sends_directly_when_configured(tmp_path):
    config = sandbox_config()
    config.voice.send_after_transcribe = True
    app = make_app(tmp_path, config, recorder=FakeRecorder, transcriber=FakeTranscriber("text Mike hi"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#meter").state == "recording")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "text Mike hi" in app.query_one(Chat).text())
        assert app.query_one("#ask", Input).value == ""


async def test_record_without_voice_explains(tmp_path):
    class Broken(FakeRecorder):
        def start(self):
            raise VoiceUnavailable("voice input needs PortAudio")

    app = make_app(tmp_path, recorder=Broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "Cannot record: voice input needs PortAudio" in app.query_one(Chat).text())
        await wait_for(pilot, lambda: app.query_one("#meter").state == "idle")
        assert "ctrl+r" not in app.query_one("#status").activity


async def test_an_unforeseen_voice_failure_is_said_and_the_button_works_again(tmp_path):
    class Crashing(FakeRecorder):
        def stop(self):
            super().stop()
            raise RuntimeError("the driver fell over")

    app = make_app(tmp_path, recorder=Crashing, transcriber=FakeTranscriber())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#meter").state == "recording")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "the driver fell over" in app.query_one(Chat).text())
        await wait_for(pilot, lambda: app.query_one("#meter").state == "idle")
        assert "Stop" not in str(app.query_one("#record", Button).label)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_large_plan_stays_legible(tmp_path, size):
    lines = [f'{i}. get_email_address("Person {i}")' for i in range(1, 7)]
    lines += [f'{i + 6}. send_sms(["${i}"], "hello {i}")' for i in range(1, 7)]
    plan = parse_plan("\n".join(lines) + "\n13. join()<END_OF_PLAN>\n")
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        graph = app.query_one(PlanGraph)
        graph.show_plan(plan)
        await pilot.pause()
        assert len(graph.nodes) == 12
        text = graph.text()
        for i in range(1, 13):
            assert f" {i} " in text
        graph.focus()
        graph.selected = 12
        await pilot.pause()
        top = graph.box_top(12)
        assert top is not None and graph.scroll_offset.y <= top < graph.scroll_offset.y + graph.size.height


async def test_bindings_footer_and_palette_come_from_one_table(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        ids = {b.id for b in app.BINDINGS if isinstance(b, Binding)}
        assert {a.binding_id for a in ACTIONS} <= ids
        shown = [b.binding.description for b in app.screen.active_bindings.values() if b.binding.show]
        assert sorted(a.label for a in ACTIONS if a.footer) == sorted(set(shown))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles[-len([a for a in ACTIONS if a.title]):] == [a.title for a in ACTIONS if a.title]
        await pilot.press("ctrl+e")  # on another screen the main screen's actions are off
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        assert not app.check_action("models", ()) and app.check_action("toggle_dry_run", ())


class ReplanningPipeline(Pipeline):
    """A request whose first plan failed: the events of a replan, then the answer."""

    async def ask(self, request, *, emit, approver=deny_all, dry_run=DryRun.OFF, yes=False) -> PipelineResult:
        emit(RequestStarted(request))
        emit(PlanToken('1. get_phone_number("Nobody")\n2. join()<END_OF_PLAN>\n'))
        emit(Replanning(2, "No contact named Nobody."))
        emit(PlanStarted("r2", "off", attempt=2))
        emit(PlanToken('1. get_phone_number("Mike")\n2. join()<END_OF_PLAN>\n'))
        emit(AnswerReady("Mike's number is +1 415 555 0104."))
        return PipelineResult("Mike's number is +1 415 555 0104.", parse_plan(""), None, selection=None)


async def test_a_replan_starts_a_new_plan_entry_in_the_chat(tmp_path):
    app = make_app(tmp_path, pipeline=ReplanningPipeline(sandbox_config()))
    async with app.run_test(size=(120, 36)) as pilot:
        app.ask("What is Mike's number?")
        await wait_for(pilot, lambda: not app.runs.busy)
        text = app.query_one(Chat).text()
        assert "replanning (attempt 2): No contact named Nobody." in text
        assert "Planning again (attempt 2)" in text
        first, second = text.index('get_phone_number("Nobody")'), text.index('get_phone_number("Mike")')
        assert first < text.index("replanning (attempt 2)") < second  # two plan entries, the notice between
        assert "Answer:  Mike's number is +1 415 555 0104." in text
        assert app.runs.current is not None and app.runs.current.answer == "Mike's number is +1 415 555 0104."
