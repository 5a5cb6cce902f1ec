"""The AppleScript backend, run for real against a fake `osascript` (and `mdfind`) made here.

The fake records its argv, prints a canned answer or fails like osascript does, so argv
construction, list encoding, timeouts and error messages are tested without macOS.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from tinyagent.tools.applescript import (
    LIST_SEPARATOR,
    SCRIPTS_DIR,
    AppleScriptBackend,
    encode_arg,
    explain_osascript_error,
)
from tinyagent.tools.backend import ToolCall, ToolError
from tinyagent.tools.registry import TOOLS, get_tool
from tinyagent.tools.sandbox.pdf import pdf_bytes

FAKE = f"""#!{sys.executable}
import json, os, subprocess, sys, time
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
if os.environ.get("FAKE_SLEEP"):
    child = subprocess.Popen(["sleep", "30"])
    with open(os.environ["FAKE_CHILD"], "w") as fh:
        fh.write(str(child.pid))
    time.sleep(30)
sys.stdout.write(os.environ.get("FAKE_OUT", "done") + "\\n")
sys.stderr.write(os.environ.get("FAKE_ERR", ""))
sys.exit(int(os.environ.get("FAKE_RC", "0")))
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    exe = tmp_path / "osascript"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_LOG", str(log))

    class Fake:
        path = str(exe)

        @staticmethod
        def calls() -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return Fake


@pytest.fixture
def backend(fake) -> AppleScriptBackend:
    return AppleScriptBackend(osascript=fake.path, timeout=10)


def run(backend, tool, **args):
    return backend.invoke(backend.prepare(ToolCall(get_tool(tool), args)))


# -- scripts --------------------------------------------------------------------------------------
# The tools that need no AppleScript: PDF text is read in Python, Zoom is its web API.
PYTHON_ONLY = {"summarize_pdf", "get_zoom_meeting_link"}


def test_every_tool_has_a_script_or_a_python_path():
    for tool in TOOLS:
        assert tool.applescript is not None, tool.name
        assert bool(tool.script) is (tool.name not in PYTHON_ONLY), tool.name
        if tool.script:
            assert (SCRIPTS_DIR / f"{tool.script}.applescript").is_file(), tool.name
    assert sorted(p.stem for p in SCRIPTS_DIR.glob("*.applescript")) == sorted({t.script for t in TOOLS if t.script})


@pytest.mark.parametrize("stem", sorted({t.script for t in TOOLS if t.script}))
def test_scripts_read_argv_and_never_build_code_from_it(stem):
    text = (SCRIPTS_DIR / f"{stem}.applescript").read_text()
    assert re.search(r"^on run argv$", text, re.M)
    assert "run script" not in text and "do shell script" not in text
    assert "splitList(" not in text or "character id 31" in text  # lists use the documented separator
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("--")]
    opened = {
        "tell": sum(1 for ln in lines if ln.startswith("tell ") and " to " not in ln),
        "repeat": sum(1 for ln in lines if ln.startswith("repeat")),
        "if": sum(1 for ln in lines if ln.startswith("if ") and ln.endswith("then")),
        "handler": sum(1 for ln in lines if ln.startswith("on ")),
    }
    closed = {kind: sum(1 for ln in lines if ln == f"end {kind}") for kind in ("tell", "repeat", "if")}
    closed["handler"] = sum(1 for ln in lines if ln.startswith("end ") and ln.split()[1] not in ("tell", "repeat", "if"))
    assert opened == closed, f"{stem}: blocks opened {opened}, closed {closed}"


# -- argv ----------------------------------------------------------------------------------------
def test_encode_arg():
    assert encode_arg(["a@x.com", "b@y.com"]) == f"a@x.com{LIST_SEPARATOR}b@y.com"
    assert encode_arg([]) == ""
    assert encode_arg([f"bad{LIST_SEPARATOR}item"]) == "bad item"
    assert (encode_arg(True), encode_arg(False), encode_arg(5), encode_arg(None)) == ("true", "false", "5", "")
    assert encode_arg("nul\x00byte") == "nulbyte"


def test_calendar_event_argv(backend, fake):
    out = run(backend, "create_calendar_event", title='Q3 "kickoff"; do shell script "rm"', start_date="2024-06-03 14:00",
              end_date="", location="Room 2", invitees=["a@example.com", "b@example.com"], notes="", calendar=None)
    assert out == "done"
    (argv,) = fake.calls()
    assert argv[1] == str(SCRIPTS_DIR / "create_calendar_event.applescript")
    assert argv[2:] == ['Q3 "kickoff"; do shell script "rm"', "2024-06-03 14:00:00", "2024-06-03 15:00:00",
                        "Room 2", f"a@example.com{LIST_SEPARATOR}b@example.com", "", ""]


@pytest.mark.parametrize("tool, args, script, expected", [
    ("get_phone_number", dict(name="Sarah"), "get_phone_number", ["Sarah"]),
    ("get_email_address", dict(name="Sarah"), "get_email_address", ["Sarah"]),
    ("compose_new_email", dict(recipients=["a@example.com"], cc=[], subject="Hi", context="Hello there",
                               attachments=[]), "compose_new_email", ["a@example.com", "", "Hi", "Hello there", ""]),
    ("reply_to_email", dict(cc=["c@example.com"], context="Thanks", attachments=None), "reply_to_email",
     ["c@example.com", "Thanks", ""]),
    ("forward_email", dict(recipients=["a@example.com", "b@example.com"], context="FYI"), "forward_email",
     [f"a@example.com{LIST_SEPARATOR}b@example.com", "", "FYI", ""]),
    ("maps_open_location", dict(location="Ferry Building"), "open_maps_url",
     ["https://maps.apple.com/?q=Ferry+Building"]),
    ("maps_show_directions", dict(start_location="", end_location="SFO", transport="walking"), "open_maps_url",
     ["https://maps.apple.com/?daddr=SFO&dirflg=w"]),
    ("open_note", dict(name="Packing", folder=""), "open_note", ["Packing", "", "true"]),
    ("create_note", dict(name="A <b>", content="x & y\nz", folder="Work"), "create_note",
     ["A <b>", "<div><h1>A &lt;b&gt;</h1></div><div>x &amp; y</div><div>z</div>", "Work"]),
    ("append_note_content", dict(name="A", content="more", folder=""), "append_note_content",
     ["A", "<div>more</div>", ""]),
    ("create_reminder", dict(name="Call", due_date="2024-06-01 09:00:00", notes="n", list_name="",
                             priority=1, all_day=False), "create_reminder",
     ["Call", "2024-06-01 09:00:00", "n", "", "1", "false"]),
    ("send_sms", dict(recipients=["+1 415 555 0101", "+1 415 555 0102"], message="Late"), "send_sms",
     [f"+1 415 555 0101{LIST_SEPARATOR}+1 415 555 0102", "Late"]),
])
def test_argv_per_tool(backend, fake, tool, args, script, expected):
    assert backend.prepare(ToolCall(get_tool(tool), args)).summary
    assert fake.calls() == [], "prepare must not run any script"
    run(backend, tool, **args)
    (argv,) = fake.calls()
    assert argv[1:] == [str(SCRIPTS_DIR / f"{script}.applescript"), *expected]


def test_addresses_and_numbers_are_returned_without_asking_contacts(backend, fake):
    assert run(backend, "get_email_address", name="x@example.com") == "x@example.com"
    assert run(backend, "get_phone_number", name="+1 (415) 555-0101") == "+1 (415) 555-0101"
    assert fake.calls() == []


# -- errors --------------------------------------------------------------------------------------
def _err(code: int, message: str = "boom") -> str:
    return f"/path/send_sms.applescript:120:180: execution error: {message} ({code})\n"


@pytest.mark.parametrize("stderr, fragments", [
    (_err(-1743, "Not authorized to send Apple events to Messages."),
     ["did not let tinyagent control Messages", "Privacy & Security › Automation"]),
    (_err(-600, "Application isn’t running."), ["Messages is not running", "Open Messages"]),
    (_err(-1728, "Can’t get participant \"x\"."), ["could not find", "participant"]),
    (_err(-1719, "Invalid index."), ["Accessibility"]),
    (_err(-1712, "AppleEvent timed out."), ["did not answer in time"]),
    (_err(-10004, "A privilege violation occurred."), ["Messages reported an error: A privilege violation"]),
    (_err(1002, "2 contacts match \"Sam\": Sam A, Sam B. Use the full name."), ["send_sms: 2 contacts match"]),
    ("syntax error: Expected end of line (-2741)\n", ["does not compile", "Expected end of line"]),
    ("something odd happened\n", ["osascript failed (exit status 1): something odd happened"]),
])
def test_osascript_errors_become_clear_messages(backend, monkeypatch, stderr, fragments):
    monkeypatch.setenv("FAKE_RC", "1")
    monkeypatch.setenv("FAKE_ERR", stderr)
    with pytest.raises(ToolError) as info:
        run(backend, "send_sms", recipients=["+14155550101"], message="hi")
    for fragment in fragments:
        assert fragment in str(info.value)
    assert explain_osascript_error(stderr, 1, "send_sms", "Messages") == str(info.value)


def test_timeout_kills_osascript_and_its_children(fake, monkeypatch, tmp_path):
    child_file = tmp_path / "child.pid"
    monkeypatch.setenv("FAKE_SLEEP", "1")
    monkeypatch.setenv("FAKE_CHILD", str(child_file))
    backend = AppleScriptBackend(osascript=fake.path, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ToolError, match="did not answer within 1.5 s"):
        run(backend, "open_note", name="x")
    assert time.monotonic() - started < 10
    pid = int(child_file.read_text())
    for _ in range(50):  # the killed child may take a moment to be reaped by init
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the script's child process survived the timeout")


def test_missing_osascript_points_to_the_sandbox(tmp_path):
    backend = AppleScriptBackend(osascript=str(tmp_path / "nope"))
    with pytest.raises(ToolError, match="backend: sandbox"):
        run(backend, "open_note", name="x")


def test_zoom_without_token_is_a_clear_error(backend):
    with pytest.raises(ToolError, match="zoom.token"):
        run(backend, "get_zoom_meeting_link", topic="x", duration=30)


def test_bad_arguments_fail_before_any_script_runs(backend, fake):
    with pytest.raises(ToolError, match="not a phone number"):
        run(backend, "send_sms", recipients=["Sarah"], message="x")
    with pytest.raises(ToolError, match="YYYY-MM-DD HH:MM:SS"):
        run(backend, "create_reminder", name="x", due_date="tomorrow")
    # Only the read-only lookup of the name (which found no number) ran; nothing was sent.
    assert [c[1].rsplit("/", 1)[-1] for c in fake.calls()] == ["get_phone_number.applescript"]


# -- files -----------------------------------------------------------------------------------------
def test_file_search_uses_spotlight_then_opens_the_one_match(tmp_path, fake, monkeypatch):
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Library" / "Caches").mkdir(parents=True)
    report = home / "Documents" / "Budget 2024.pdf"
    report.write_bytes(pdf_bytes("Budget", ["Travel costs rose. Hosting is flat."]))
    (home / "Library" / "Caches" / "Budget 2024.pdf").write_text("cache copy")
    (home / "Documents" / "Budget notes.txt").write_text("x")
    mdfind = tmp_path / "mdfind"
    mdfind.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'mdfind.log'}\n"
                      f"printf '%s\\n' '{home}/Library/Caches/Budget 2024.pdf' '{report}' "
                      f"'{home}/Documents/Budget notes.txt' '{home}/gone.pdf'\n")
    mdfind.chmod(0o755)
    backend = AppleScriptBackend(osascript=fake.path, mdfind=str(mdfind), search_root=home)
    path = run(backend, "open_and_get_file_path", file_name="budget 2024")
    assert path == str(report)
    assert fake.calls()[0][1:] == [str(SCRIPTS_DIR / "open_file.applescript"), str(report)]
    assert (tmp_path / "mdfind.log").read_text().split()[:3] == ["-onlyin", str(home), "-name"]
    with pytest.raises(ToolError, match="2 files match 'budget'"):
        run(backend, "open_and_get_file_path", file_name="budget")
    assert "Travel costs rose." in run(backend, "summarize_pdf", pdf_path=path)
