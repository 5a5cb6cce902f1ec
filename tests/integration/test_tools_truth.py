"""What a confirmation names is what the tool then changes or opens, in the sandbox. Each test
was a bug: an append to a note the plan did not name (a part of another's name matched), a
file of another type opened in place of the one named, an all-day reminder shown at 00:00."""

from __future__ import annotations

import pytest

from tinyagent.core.backends import sandbox_db_path
from tinyagent.tools.backend import ToolCall, ToolError
from tinyagent.tools.registry import get_tool
from tinyagent.tools.sandbox import SandboxBackend


@pytest.fixture
def sb(tmp_path, monkeypatch) -> SandboxBackend:
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path / "home"))
    return SandboxBackend(sandbox_db_path())


def test_append_note_content_changes_only_the_note_it_names(sb):
    # A TinyAgent plan's shape. There is no note "Ideas"; "Project Falcon ideas" once got the text.
    before = {n["name"]: n["content"] for n in sb.state()["notes"]}
    call = sb.prepare(ToolCall(get_tool("append_note_content"),
                               {"name": "Ideas", "content": "Try a dark mode", "folder": "Work"}))
    assert "'Ideas'" in call.summary
    with pytest.raises(ToolError, match="no note named 'Ideas'"):  # as the Notes script fails on macOS
        sb.invoke(call)
    assert {n["name"]: n["content"] for n in sb.state()["notes"]} == before
    exact = sb.prepare(ToolCall(get_tool("append_note_content"),
                                {"name": "project falcon IDEAS", "content": "Try a dark mode", "folder": "Work"}))
    assert "Project Falcon ideas" in sb.invoke(exact)  # the whole name, in any case, still finds it


def test_open_note_still_finds_a_note_by_part_of_its_name(sb):
    call = sb.prepare(ToolCall(get_tool("open_note"), {"name": "Falcon", "folder": ""}))
    assert sb.invoke(call)  # reading is not changing: a unique part of a name is enough


@pytest.mark.parametrize("asked", ["lease.docx", "resume.pdf"])
def test_a_named_file_type_must_match(sb, asked):
    # Only "Apartment Lease.pdf" and "Resume.docx" exist; the other type was once opened.
    call = sb.prepare(ToolCall(get_tool("open_and_get_file_path"), {"file_name": asked}))
    with pytest.raises(ToolError, match="no file matches"):
        sb.invoke(call)
    stem = asked.rsplit(".", 1)[0]
    found = sb.invoke(sb.prepare(ToolCall(get_tool("open_and_get_file_path"), {"file_name": stem})))
    assert stem in found.lower()  # without a type the name alone still finds it


def test_the_preview_of_an_all_day_reminder_gives_its_day_alone(sb):
    call = sb.prepare(ToolCall(get_tool("create_reminder"),
                               {"name": "Study for exam", "due_date": "2024-04-04", "notes": "", "list_name": "",
                                "priority": 1, "all_day": True}))
    sb.invoke(call)
    stored = sb.state()["reminders"][-1]
    assert stored["due_date"] == "2024-04-04" and stored["all_day"] == 1
    assert "due Thu 2024-04-04 (all day)" in call.summary and "00:00" not in call.summary
