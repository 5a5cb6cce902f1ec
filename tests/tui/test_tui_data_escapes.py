"""No escape sequence stored in data reaches the terminal from the TUI, and the request box is
bounded (issue 20).

Rich keeps ESC and the C1 controls in a Text and Textual writes them out as they are: a note
titled "\\x1b]2;FORGED\\x07" set the terminal's title from the chat (open_note's error lists
the notes' names), the task pane and the history screen, and its text "\\x1b[2J\\x1b[41mFORGED"
cleared the screen. Each test draws such data, then reads every character the screen would
write: none is a control character, and the data shows as visible escapes.
"""

from __future__ import annotations

import re

from textual import events

from tests.support.tui_helpers import make_app, screen_characters, wait_for
from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.history import HistoryEntry
from tinyagent.core.parser import parse_plan
from tinyagent.tools.backend import ToolCall
from tinyagent.tools.registry import get_tool
from tinyagent.tools.sandbox import SandboxBackend
from tinyagent.tui.screens.history import HistoryScreen
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph
from tinyagent.tui.widgets.request import MAX_REQUEST, RequestInput

TITLE = "\x1b]2;FORGED\x07 Budget"
BODY = "\x1b[2J\x1b[41mFORGED\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07 \x9b31m \x9d0;t\x9c"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the line break: ESC, BEL, CSI 0x9b, OSC 0x9d
PLAN = '1. open_note("Budget", "")\n2. open_note("zzz", "")\n3. join()<END_OF_PLAN>\n'


def seed_forged_note() -> None:
    backend = SandboxBackend(sandbox_db_path())
    backend.invoke(backend.prepare(ToolCall(get_tool("create_note"), {"name": TITLE, "content": BODY,
                                                                        "folder": ""})))


def assert_screen_harmless(app) -> str:
    shown = screen_characters(app)
    assert not CONTROL.findall(shown), f"raw control characters on screen: {CONTROL.findall(shown)}"
    return shown


def record_notifications(app) -> list[str]:
    """Every message given to app.notify from now on (shown ones expire after their timeout)."""
    told: list[str] = []
    notify = app.notify

    def recording(message, **kwargs):
        notify(message, **kwargs)
        told.append(message)

    app.notify = recording
    return told


async def test_chat_graph_and_task_pane_show_a_forged_note_visibly(tmp_path):
    seed_forged_note()
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 44)) as pilot:
        app.start_plan(parse_plan(PLAN), source="editor")
        await wait_for(pilot, lambda: not app.runs.busy)
        await pilot.pause()
        chat = app.query_one(Chat).text()
        assert "Known notes:" in chat and "\\x1b]2;FORGED\\x07 Budget" in chat  # open_note's error, in the chat
        assert_screen_harmless(app)
        graph = app.query_one(PlanGraph)
        for task_id, expected in ((1, "\\x1b[2J\\x1b[41mFORGED"), (2, "\\x1b]2;FORGED\\x07 Budget")):
            graph.selected = task_id  # the task pane: the output of 1, the error of 2
            await pilot.pause()
            await pilot.pause()
            detail = str(app.query_one("#detail-text").render())
            assert expected in detail and not CONTROL.findall(detail)
            assert_screen_harmless(app)


async def test_history_screen_shows_a_forged_entry_visibly(tmp_path):
    app = make_app(tmp_path)
    entry = HistoryEntry(request=f"open {TITLE}", plan=PLAN, answer=f"It says {BODY}", statuses={"2": "failed"},
                         errors={"2": f"no note; known: '{TITLE}'"}, summary="2 tasks: 1 done, 1 failed")
    app.services.history.append(entry)
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause()
        detail = str(app.screen.query_one("#history-detail").render())
        assert "It says \\x1b[2J\\x1b[41mFORGED" in detail and "\\x1b]2;FORGED\\x07 Budget" in detail
        shown = assert_screen_harmless(app)
        assert "open \\x1b]2;FORGED\\x07 Budget" in shown  # the list's label too


async def test_notifications_show_data_visibly_and_as_plain_text(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 44), notifications=True) as pilot:  # toasts drawn, as in a terminal
        app.notify(f"Could not save history: [bold]{TITLE}[/]", severity="warning")
        await wait_for(pilot, lambda: "FORGED" in screen_characters(app))  # the toast is drawn
        assert "[bold]\\x1b]2;FORGED\\x07 Budget[/]" in assert_screen_harmless(app)  # no markup read in data


async def test_a_huge_paste_is_cut_to_the_bound_and_the_person_is_told(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 44)) as pilot:
        box = app.query_one("#ask", RequestInput)
        box.focus()
        told = record_notifications(app)
        box.post_message(events.Paste("send Mike " + "x" * 1_000_000))
        await wait_for(pilot, lambda: told)
        assert len(box.value) == MAX_REQUEST and box.value.startswith("send Mike xxx")
        (message,) = told
        assert f"at most {MAX_REQUEST:,} characters" in message and "998,010 of the 1,000,010 given" in message
        await pilot.press("y")  # full: a key adds nothing, and says so again
        await wait_for(pilot, lambda: len(told) == 2)
        assert len(box.value) == MAX_REQUEST
        box.value = "z" * (MAX_REQUEST + 5)  # a transcript put in the box is bounded the same way
        assert len(box.value) == MAX_REQUEST and len(told) == 3
        await pilot.press("end", "backspace", "backspace", "h", "i")  # room again: typing works
        await pilot.pause()
        assert box.value.endswith("zhi") and len(box.value) == MAX_REQUEST and len(told) == 3


async def test_control_characters_typed_or_pasted_show_as_escapes(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 44)) as pilot:
        box = app.query_one("#ask", RequestInput)
        box.focus()
        box.post_message(events.Paste(f"text Sid {BODY}"))
        await pilot.pause()
        assert box.value.startswith("text Sid \\x1b[2J\\x1b[41mFORGED") and box.cursor_position == len(box.value)
        assert_screen_harmless(app)
        await pilot.press("enter")  # sent: the chat shows the request as it was shown in the box
        await wait_for(pilot, lambda: "You:" in app.query_one(Chat).text())
        await pilot.pause()
        assert "text Sid \\x1b[2J" in app.query_one(Chat).text()
        assert_screen_harmless(app)
