"""No escape sequence stored in data reaches the terminal from the CLI (issue 20).

A note titled "\\x1b]2;FORGED\\x07" set the terminal's title when `sandbox show` listed it; an
answer quoting a note's "\\x1b[2J\\x1b[41mFORGED" cleared the screen and drew FORGED on red,
and "\\x1b]52;c;..." wrote the clipboard. Each command here runs as a person runs it, against
a sandbox (or examples file) seeded with such text: what it prints holds no control byte, and
the text shows as visible escapes.
"""

from __future__ import annotations

import io
import re

from tests.support.cli import tinyagent
from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.cli.render import TextRenderer
from tinyagent.core.events import AnswerReady, AnswerToken, Notice
from tinyagent.tools.backend import ToolCall
from tinyagent.tools.registry import get_tool
from tinyagent.tools.sandbox import SandboxBackend

TITLE = "\x1b]2;FORGED\x07 Budget"
BODY = "\x1b[2J\x1b[41mFORGED\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07 \x9b31m \x9d0;t\x9c"
# C0 but the line break, DEL, C1: a terminal obeys any of these (ESC 0x1b, BEL 0x07, CSI 0x9b, OSC 0x9d)
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def seed_forged_note() -> None:
    backend = SandboxBackend(sandbox_db_path())
    backend.invoke(backend.prepare(ToolCall(get_tool("create_note"), {"name": TITLE, "content": BODY,
                                                                        "folder": ""})))


def assert_harmless(text: str) -> None:
    assert not CONTROL.findall(text), f"raw control characters reach the terminal: {CONTROL.findall(text)}"


def test_sandbox_show_prints_a_forged_note_title_visibly():
    seed_forged_note()
    out = tinyagent("sandbox", "show")
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout)
    assert "\\x1b]2;FORGED\\x07 Budget" in out.stdout


def test_sandbox_dump_json_escapes_c1_controls():
    seed_forged_note()
    out = tinyagent("sandbox", "dump", "--json")
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout)  # json.dumps escapes C0 only: CSI 0x9b went out raw
    assert "\\u009b31m" in out.stdout


def test_examples_list_prints_a_forged_request_visibly(tmp_path):
    plan = tmp_path / "plan.txt"
    plan.write_text('1. get_phone_number("Kai")\n2. send_sms(["$1"], "on my way")\n3. join()<END_OF_PLAN>\n')
    added = tinyagent("examples", "add", "Tell Kai \x1b[2J\x1b[41mFORGED\x9b1m I'm on my way", str(plan))
    assert added.returncode == 0, added.stderr
    assert_harmless(added.stdout)
    out = tinyagent("examples", "list")
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout)
    assert "Tell Kai \\x1b[2J\\x1b[41mFORGED\\x9b1m I'm on my way" in out.stdout


def test_run_plan_prints_a_forged_note_and_an_error_naming_it_visibly(tmp_path):
    # open_note returns the note's text; its error lists the known notes' names
    seed_forged_note()
    plan = tmp_path / "plan.txt"
    plan.write_text('1. open_note("Budget", "")\n2. open_note("zzz", "")\n3. join()<END_OF_PLAN>\n')
    for json_flag in ([], ["--json"]):  # JSON lines went out with CSI 0x9b raw
        out = tinyagent("run-plan", str(plan), "--yes", *json_flag)
        assert_harmless(out.stdout + out.stderr)
        assert "FORGED" in out.stdout and "Known notes" in out.stdout


def test_asks_printed_answer_streamed_or_whole_holds_no_control_bytes():
    # ask prints the joiner's answer token by token, then (if it differs) whole, and notices
    out = io.StringIO()
    render = TextRenderer(out=out)
    for token in ("Your note says: ", BODY[:7], BODY[7:]):  # an escape split across tokens
        render(AnswerToken(text=token))
    render(AnswerReady(text="Your note says: " + BODY + " (and more)", case="answer"))
    render(Notice(level="warning", message=f"the note {TITLE!s} is long"))
    printed = out.getvalue()
    assert_harmless(printed)
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in printed  # the clipboard write, shown instead of obeyed
    assert "\\x1b]2;FORGED\\x07 Budget" in printed
