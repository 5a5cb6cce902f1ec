"""The other screens and the keys across them: the models list through downloads that end
well or badly, a history file with odd lines, the microphone across presses and screens, the
layout when the terminal is resized under another screen, the palette offering only what
works there. Each test was a bug (a silent DuplicateIds, a crash on open, a second microphone,
a chat squeezed to its border, a command that did nothing)."""

from __future__ import annotations

import json
import threading
import time

from textual.widgets import Button

from tests.support.tui_helpers import (
    PLAN,
    FakeRecorder,
    FakeStore,
    FakeTranscriber,
    click_when_shown,
    make_app,
    wait_for,
)
from tinyagent.core.events import DownloadProgress
from tinyagent.core.history import HistoryEntry, HistoryStore
from tinyagent.core.modelstore import DownloadError
from tinyagent.tools.registry import TOOL_NAMES
from tinyagent.tui.screens.editor import EditorScreen
from tinyagent.tui.screens.history import HistoryScreen
from tinyagent.tui.screens.models import ModelRow, ModelsScreen
from tinyagent.tui.widgets.tool_panel import ToolBars


class FailingStore(FakeStore):
    """A download that gets to 40% and fails with `exc`."""

    def __init__(self, exc: Exception):
        super().__init__(present=False)
        self.exc, self.calls = exc, 0

    def pull(self, name, progress=None, **options):
        self.calls += 1
        progress(DownloadProgress(name, 40, 100))
        time.sleep(0.05)
        raise self.exc


async def open_models(pilot, app) -> ModelsScreen:
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen))
    return app.screen


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_the_models_list_keeps_every_row_through_a_download(tmp_path):
    store = FakeStore(present=False)
    app = make_app(tmp_path, store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(pilot, app)
        before = [r.id for r in screen.query(ModelRow)]
        assert len(before) >= 2
        await click_when_shown(pilot, screen.query_one("#pull-tinyagent-1-1b", Button))
        await wait_for(pilot, lambda: "tinyagent-1.1b downloaded" in notices(app))
        await pilot.pause()
        assert [r.id for r in screen.query(ModelRow)] == before  # rebuilt with the same ids, it once lost rows
        assert screen.query_one("#pull-tinyagent-1-1b", Button).disabled  # present now
        await pilot.press("escape")  # the screen still answers
        await wait_for(pilot, lambda: not isinstance(app.screen, ModelsScreen))


async def test_a_failed_download_says_why_and_can_be_tried_again(tmp_path):
    store = FailingStore(DownloadError("connection reset"))
    app = make_app(tmp_path, store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(pilot, app)
        await pilot.press("p")
        await wait_for(pilot, lambda: any("connection reset" in m for m in notices(app)))
        await pilot.pause()
        assert not screen.query_one("#pull-tinyagent-1-1b", Button).disabled
        assert not screen.query_one("#bar-tinyagent-1-1b").display  # no bar stuck at 40%
        await pilot.press("p")  # try again
        await wait_for(pilot, lambda: store.calls >= 2)


async def test_an_unforeseen_download_failure_is_said(tmp_path):
    store = FailingStore(ValueError("bad converter output"))
    app = make_app(tmp_path, store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_models(pilot, app)
        await pilot.press("p")
        await wait_for(pilot, lambda: any("ValueError: bad converter output" in m for m in notices(app)))


async def test_history_skips_a_wrongly_typed_line_and_shows_a_repeated_one_once(tmp_path):
    good = {"request": "text Sid", "plan": PLAN, "ts": time.time(), "id": "0123456789ab"}
    lines = [json.dumps({"request": "x", "ts": "yesterday"}), json.dumps({"request": 5}),
             json.dumps({"plan": None}), json.dumps({"statuses": {"1": 2}}), json.dumps(good), json.dumps(good)]
    (tmp_path / "history.jsonl").write_text("\n".join(lines) + "\n")
    assert [e.request for e in HistoryStore(tmp_path / "history.jsonl").load()] == ["text Sid"]
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert len(app.screen.entries) == 1


def test_a_history_entry_of_the_right_types_round_trips(tmp_path):
    store = HistoryStore(tmp_path / "h.jsonl")
    entry = HistoryEntry(request="r", plan=PLAN, dry_run=True, statuses={"1": "done"}, outputs={"1": "x"})
    store.append(entry)
    assert store.load() == [entry]
    from tinyagent.core.history import _TYPE_CHECKS  # every field's type has its check, a new one too

    assert {str(f.type) for f in HistoryEntry.__dataclass_fields__.values()} <= set(_TYPE_CHECKS)


class SlowToOpen(FakeRecorder):
    """A microphone that takes until `opened` to start (PortAudio can take a while)."""

    opened = threading.Event()
    live: list = []

    def start(self):
        SlowToOpen.opened.wait(5)
        SlowToOpen.live.append(self)
        super().start()

    def stop(self):
        if self in SlowToOpen.live:
            SlowToOpen.live.remove(self)
        return super().stop()


async def test_ctrl_r_while_the_microphone_opens_ends_it_without_a_second_one(tmp_path):
    SlowToOpen.opened.clear()
    SlowToOpen.live = []
    transcriber = FakeTranscriber()
    app = make_app(tmp_path, recorder=SlowToOpen, transcriber=transcriber)
    async with app.run_test(size=(100, 30)) as pilot:
        voice = app.query_one("#voice")
        await pilot.press("ctrl+r")
        assert voice.state == "starting"
        await pilot.press("ctrl+r")  # changed their mind
        SlowToOpen.opened.set()
        await wait_for(pilot, lambda: voice.state == "idle" and not app.workers)
        await pilot.pause(0.3)
        assert voice.state == "idle" and SlowToOpen.live == []
        assert transcriber.calls == 0  # nothing was said, nothing transcribed


async def test_ctrl_r_ends_a_recording_from_another_screen(tmp_path):
    app = make_app(tmp_path, recorder=FakeRecorder, transcriber=FakeTranscriber())
    async with app.run_test(size=(100, 30)) as pilot:
        voice = app.query_one("#voice")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("ctrl+r")  # not recording: on the editor the key does not start one
        await pilot.pause()
        assert voice.state == "idle"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: voice.state == "recording")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: voice.state == "idle")


async def test_a_resize_under_another_screen_lays_out_the_main_screen(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        app.query_one(ToolBars).show({n: 0.5 for n in TOOL_NAMES}, list(TOOL_NAMES)[:3], 0.5, 0.1)
        app.query_one("#detail-text").update("x\n" * 20)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.resize_terminal(120, 24)
        await pilot.pause()
        assert not app.screen.has_class("compact")  # the class is the main screen's
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen))
        await pilot.pause()
        assert app.main_screen.has_class("compact")
        assert app.query_one("#chat").region.height > 4  # not squeezed to its border


async def test_the_palette_offers_only_what_works_on_the_screen_below(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        def titles():
            return {c.title for c in app.get_system_commands(app.screen)}

        assert {"History", "Models", "Plan editor", "Stop the run"} <= titles()
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        offered = titles()
        assert not {"History", "Models", "Plan editor", "Run the plan for real"} & offered  # they did nothing here
        assert "Toggle dry run" in offered
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen))
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        for key in "History":
            await pilot.press(key)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
