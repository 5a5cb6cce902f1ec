"""Everything shown for approval goes through one sanitiser: the forged-approval case.

A note's text carries `CR ESC[2K` and a fake "message:" line: printed raw, the terminal would
erase the real message and show "See you at 5!" while the SMS approved says the bank code.
Both front ends must show the escape characters visibly instead.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.cli.approve import describe_request
from tinyagent.core.events import TaskStatus
from tinyagent.core.executor import Executor
from tinyagent.core.parser import load_plan
from tinyagent.core.sanitize import visible
from tinyagent.tools.backend import ToolCall
from tinyagent.tools.registry import get_tool
from tinyagent.tools.sandbox import SandboxBackend

FORGED = "Your bank code is 4471\r\x1b[2K  message: See you at 5!\x1b]0;title\x07\u202eevil"
PLAN = '1. open_note("Forged", "")\n2. send_sms(["+1 415 555 0104"], "$1")\n3. join()<END_OF_PLAN>'


def add_forged_note() -> None:
    backend = SandboxBackend(sandbox_db_path())
    backend.invoke(backend.prepare(ToolCall(get_tool("create_note"), {"name": "Forged", "content": FORGED,
                                                                        "folder": ""})))


def assert_shown_visibly(text: str) -> None:
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2K" in text and "\\r" in text and "\\u202e" in text
    assert "Your bank code is 4471" in text


def test_terminal_prompt_shows_the_escapes_of_a_forged_note():
    add_forged_note()
    shown: list[str] = []

    async def approver(request):
        shown.append(describe_request(request))
        return "deny"

    backend = SandboxBackend(sandbox_db_path())
    summary = asyncio.run(Executor(backend, approver=approver).run(load_plan(PLAN).tasks))
    assert summary.statuses[2] is TaskStatus.DENIED
    (text,) = shown
    assert_shown_visibly(text)
    message_lines = [line for line in text.splitlines() if line.strip().startswith("message:")]
    assert len(message_lines) == 1 and "bank code" in message_lines[0]  # no second, forged line


async def test_tui_modal_shows_the_escapes_of_a_forged_note(tmp_path):
    from textual.widgets import TextArea

    from tests.support.tui_helpers import make_app, wait_for
    from tinyagent.tui.screens.confirm import ConfirmModal

    add_forged_note()
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "EditorScreen")
        app.screen.query_one(TextArea).load_text(PLAN)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        modal = app.screen
        assert_shown_visibly(modal.plain())
        summary = str(modal.query_one("#confirm-summary").render())  # shortened, whitespace folded
        assert "\x1b" not in summary and "\\x1b[2K" in summary
        await pilot.press("n")
        await wait_for(pilot, lambda: not app.runs.busy)


@pytest.mark.parametrize("raw, shown", [
    ("plain text, ünïcode ✓ 日本", "plain text, ünïcode ✓ 日本"),
    ("a\x1b[31mred", "a\\x1b[31mred"),
    ("csi\x9b2K", "csi\\x9b2K"),
    ("del\x7f", "del\\x7f"),
    ("line\nbreak", "line\\nbreak"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    ("sep\u2028x", "sep\\u2028x"),
])
def test_visible(raw, shown):
    assert visible(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_visible_output_never_carries_a_control_or_format_character(text):
    import unicodedata

    out = visible(text)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in out)
    kept = visible(text, keep_newlines=True)
    assert kept.count("\n") == text.count("\n")
