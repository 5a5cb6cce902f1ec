"""The sandbox backend: every tool really reads or writes its SQLite world; prepare changes nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tinyagent.core.backends import BackendUnavailable, describe_backend, make_backend, sandbox_db_path
from tinyagent.core.cli import main as cli_main
from tinyagent.core.config import Config, data_dir
from tinyagent.tools.backend import ToolCall, ToolError
from tinyagent.tools.registry import TOOL_NAMES, get_tool
from tinyagent.tools.sandbox import SandboxBackend
from tinyagent.tools.sandbox.pdf import pdf_bytes


@pytest.fixture
def sb() -> SandboxBackend:
    return SandboxBackend(sandbox_db_path())


def call(tool: str, **args) -> ToolCall:
    return ToolCall(get_tool(tool), args)


def run(backend: SandboxBackend, tool: str, **args):
    return backend.invoke(backend.prepare(call(tool, **args)))


class RecordingWriter:
    """A ContentWriter that marks its text, to show the backend stores what the writer wrote."""

    def email_body(self, context, *, kind, recipients, subject="", request="", thread=""):
        return f"[{kind} to {','.join(recipients)}] {context}"

    def note_content(self, content, *, name, request=""):
        return f"[{name}] {content}"

    def summarize(self, text, *, title=""):
        return f"{title}: {len(text.split())} words"


def test_db_lives_in_the_app_data_dir_and_is_seeded_on_first_use(sb):
    assert sb.db_path == data_dir() / "sandbox" / "sandbox.db"
    assert not sb.db_path.exists()  # constructing touches nothing
    counts = sb.counts()
    assert counts["contacts"] >= 15 and counts["notes"] >= 3 and counts["reminders"] >= 3
    first_names = {c["first_name"] for c in sb.state()["contacts"]}
    assert {"John", "Sarah", "Emily", "Mike", "David", "Lisa", "Tom", "Mary", "Alex", "Anna"} <= first_names
    assert sum(m["selected"] for m in sb.state()["mail"]) == 1


def test_every_tool_through_prepare_and_invoke(sb):
    """All 16 tools on a fresh world: prepare alone changes nothing, invoke changes what it should."""
    before = sb.state()
    lookups = [sb.prepare(call("get_email_address", name="sarah")),
               sb.prepare(call("get_phone_number", name="John Carter"))]
    assert sb.state() == before and all(c.summary for c in lookups)
    email, phone = (sb.invoke(c) for c in lookups)
    assert (email, phone) == ("sarah.lindqvist@example.com", "+1 415 555 0101")
    assert sb.state() == before  # lookups only read
    pdf = str(sb.files_dir / "Quarterly Report Q2.pdf")
    calls = {
        "open_and_get_file_path": dict(file_name="quarterly report"),
        "summarize_pdf": dict(pdf_path=pdf),
        "create_calendar_event": dict(title="Design review", start_date="2024-06-03 14:00:00", end_date="",
                                      location="Room 2", invitees=[email], notes="bring mocks", calendar="Work"),
        "compose_new_email": dict(recipients=[email], cc=["tom.whitfield@example.org"], subject="Budget",
                                  context="The numbers look fine", attachments=[pdf]),
        "reply_to_email": dict(cc=[], context="Will do by Thursday", attachments=[]),
        "forward_email": dict(recipients=["lisa.tanaka@example.com"], cc=[], context="FYI", attachments=[]),
        "maps_open_location": dict(location="Ferry Building"),
        "maps_show_directions": dict(start_location="Home", end_location="Ferry Building", transport="r"),
        "create_note": dict(name="Gift ideas", content="Book for Anna", folder="Personal"),
        "open_note": dict(name="packing list", folder=""),
        "append_note_content": dict(name="Meeting notes", content="Vendor list due Friday", folder="Work"),
        "create_reminder": dict(name="Water plants", due_date="2024-06-02 08:00:00", notes="", list_name="",
                                priority=5, all_day=False),
        "send_sms": dict(recipients=[phone], message="Running late"),
        "get_zoom_meeting_link": dict(topic="Sync", start_time="2024-06-04 10:00:00", duration=30,
                                      meeting_invitees=[email]),
    }
    assert set(calls) | {"get_email_address", "get_phone_number"} == set(TOOL_NAMES)
    fingerprint = sb.fingerprint()
    ready = {tool: sb.prepare(call(tool, **args)) for tool, args in calls.items()}
    assert sb.fingerprint() == fingerprint, "prepare must not change anything"
    assert all(c.summary for c in ready.values())
    assert "Sarah Lindqvist" in ready["compose_new_email"].summary
    assert "John Carter" in ready["send_sms"].summary

    out = {tool: sb.invoke(c) for tool, c in ready.items()}
    after = sb.state()

    assert out["open_and_get_file_path"] == pdf and Path(pdf).is_absolute()
    assert "twelve percent" in out["summarize_pdf"]
    event = after["events"][-1]
    assert (event["title"], event["calendar"], event["end"]) == ("Design review", "Work", "2024-06-03 15:00:00")
    assert event["invitees"] == [email]
    drafts = [m for m in after["mail"] if m["mailbox"] == "drafts"]
    assert [d["kind"] for d in drafts] == ["new", "reply", "forward"]
    assert drafts[0]["attachments"] == [pdf] and drafts[0]["cc"] == ["tom.whitfield@example.org"]
    selected = next(m for m in after["mail"] if m["selected"])
    assert drafts[1]["recipients"] == [selected["sender"]] and drafts[1]["in_reply_to"] == selected["id"]
    assert drafts[1]["subject"] == "Re: " + selected["subject"]
    assert drafts[2]["subject"] == "Fwd: " + selected["subject"] and selected["body"] in drafts[2]["body"]
    assert out["maps_open_location"] == "https://maps.apple.com/?q=Ferry+Building"
    assert out["maps_show_directions"] == "https://maps.apple.com/?saddr=Home&daddr=Ferry+Building&dirflg=r"
    assert "Personal" in [f["name"] for f in after["note_folders"]]
    assert any(n["name"] == "Gift ideas" and n["content"] == "Book for Anna" for n in after["notes"])
    assert out["open_note"].startswith("Passport")
    meeting_note = next(n for n in after["notes"] if n["name"] == "Meeting notes")
    assert meeting_note["content"].endswith("\nVendor list due Friday")
    reminder = after["reminders"][-1]
    assert (reminder["name"], reminder["list"], reminder["priority"]) == ("Water plants", "Reminders", 5)
    assert after["sms"][-1]["recipients"] == [phone] and after["sms"][-1]["message"] == "Running late"
    assert after["zoom_meetings"][-1]["join_url"] == out["get_zoom_meeting_link"]
    assert out["get_zoom_meeting_link"].startswith("https://zoom.us/j/")
    activity = [(u["app"], u["action"]) for u in after["ui_activity"]]
    assert ("files", "opened") in activity
    assert not [a for a in activity if a[0] == "notes"], "open_note is a read: it leaves no trace"
    assert len([a for a in activity if a[0] == "maps"]) == 2
    # nothing else changed
    for table in ("contacts", "calendars"):
        assert after[table] == before[table]


def test_writer_text_is_what_gets_stored():
    sb = SandboxBackend(sandbox_db_path(), writer=RecordingWriter())
    c = sb.prepare(call("compose_new_email", recipients=["anna.kowalski@example.com"], subject="Hi",
                        context="see you", cc=None, attachments=None))
    assert c.extras["body"] == "[new to anna.kowalski@example.com] see you"
    sb.invoke(c)
    assert sb.state()["mail"][-1]["body"] == c.extras["body"]
    path = sb.invoke(sb.prepare(call("open_and_get_file_path", file_name="Apartment Lease.pdf")))
    assert sb.invoke(sb.prepare(call("summarize_pdf", pdf_path=path))).startswith("Apartment Lease: ")


@pytest.mark.parametrize("name, expected", [
    ("john", "john.carter@example.com"),
    ("SARAH LINDQVIST", "sarah.lindqvist@example.com"),
    ("Kowalski", "anna.kowalski@example.com"),
    ("Emily Okafor", "emily.okafor@example.org"),
    ("Lisa's", "lisa.tanaka@example.com"),
    ("someone@elsewhere.org", "someone@elsewhere.org"),
])
def test_contact_lookup(sb, name, expected):
    assert run(sb, "get_email_address", name=name) == expected


@pytest.mark.parametrize("name, fragment", [
    ("Okafor", "Emily Okafor, Daniel Okafor"),  # ambiguous: both listed, no silent pick
    ("Zed", "no contact named 'Zed'. Known contacts include: John Carter"),
])
def test_contact_lookup_failures_name_candidates(sb, name, fragment):
    with pytest.raises(ToolError, match=fragment):
        run(sb, "get_phone_number", name=name)


@pytest.mark.parametrize("tool, args, fragment", [
    ("create_calendar_event", dict(title="x", start_date="next friday"), "YYYY-MM-DD HH:MM:SS"),
    ("create_calendar_event", dict(title="x", start_date="2024-06-03 14:00:00", end_date="2024-06-03 13:00:00"),
     "not after start_date"),
    ("create_calendar_event", dict(title="x", start_date="2024-06-03 14:00:00", invitees=["Nobody Atall"]),
     "get_email_address"),
    ("create_calendar_event", dict(title="x", start_date="2024-06-03 14:00:00", calendar="Gym"),
     "no calendar named 'Gym'; calendars are: Home, Work, Family"),
    ("create_reminder", dict(name="x", due_date="2024-13-45 10:00:00"), "YYYY-MM-DD HH:MM:SS"),
    ("create_reminder", dict(name="x", priority=12), "priority must be"),
    ("create_reminder", dict(name="x", priority="high"), "whole number"),
    ("maps_show_directions", dict(end_location="Park", transport="x"), "'d' \\(driving\\)"),
    ("send_sms", dict(recipients=["Nobody Atall"], message="hi"), "get_phone_number"),
    ("send_sms", dict(recipients=[], message="hi"), "at least one phone number"),
    ("compose_new_email", dict(recipients=["a@example.com"], attachments=["/no/such/file.pdf"]),
     "not an existing file"),
    ("summarize_pdf", dict(pdf_path="taxes 2019.pdf"), "not a full path"),
    ("summarize_pdf", dict(pdf_path="/no/such.pdf"), "no file at"),
    ("open_and_get_file_path", dict(file_name="pdf"), "files match 'pdf'"),
    ("open_and_get_file_path", dict(file_name="taxes 2019"), "no file matches"),
    ("open_note", dict(name="Shopping"), "no note named 'Shopping'"),
    ("open_note", dict(name="Packing list", folder="Gym"), "no folder named 'Gym'; folders are: Notes"),
    ("append_note_content", dict(name="Nope", content="x"), "Known notes: .Packing list.*Use create_note"),
    ("create_note", dict(name="packing list", content="x"), "already exists in Notes; use append_note_content"),
    ("get_zoom_meeting_link", dict(topic="x", duration=0), "between 1 and 1440"),
    ("get_phone_number", dict(name=""), "name is required"),
    ("get_phone_number", dict(name="Sarah", nickname="S"), "no parameter"),
])
def test_bad_arguments_give_clear_tool_errors_and_change_nothing(sb, tool, args, fragment):
    fingerprint = sb.fingerprint()
    with pytest.raises(ToolError, match=fragment):
        run(sb, tool, **args)
    assert sb.fingerprint() == fingerprint


def test_summarize_rejects_non_pdf_and_broken_pdf(sb):
    with pytest.raises(ToolError, match="not a PDF"):
        run(sb, "summarize_pdf", pdf_path=str(sb.files_dir / "Resume.docx"))
    broken = sb.files_dir / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(ToolError, match="cannot read broken.pdf"):
        run(sb, "summarize_pdf", pdf_path=str(broken))


def test_reply_without_selected_email_says_what_to_do(sb):
    import sqlite3

    sb.counts()
    with sqlite3.connect(sb.db_path) as conn:
        conn.execute("UPDATE mail SET selected = 0")
    with pytest.raises(ToolError, match="no email is selected"):
        run(sb, "reply_to_email", context="ok")


def test_all_day_reminder_stores_the_day_and_strings_are_coerced(sb):
    run(sb, "create_reminder", name="Holiday", due_date="2024-07-04 00:00:00", list_name="groceries",
        priority="1", all_day="True")
    r = sb.state()["reminders"][-1]
    assert (r["due_date"], r["all_day"], r["list"], r["priority"]) == ("2024-07-04", 1, "Groceries", 1)


def test_a_day_alone_makes_an_all_day_reminder_but_not_an_event(sb):
    run(sb, "create_reminder", name="Pay rent", due_date="2024-07-01")
    assert sb.state()["reminders"][-1]["due_date"] == "2024-07-01"
    assert sb.state()["reminders"][-1]["all_day"] == 1
    with pytest.raises(ToolError, match="not a date and time"):
        run(sb, "create_calendar_event", title="x", start_date="2024-07-01")


def test_zoom_links_are_deterministic_without_a_token(sb, tmp_path):
    args = dict(topic="Sync", start_time="2024-06-04 10:00:00", duration=30, meeting_invitees=[])
    first = run(sb, "get_zoom_meeting_link", **args)
    other = SandboxBackend(db_path=tmp_path / "other.db")
    assert run(other, "get_zoom_meeting_link", **args) == first
    assert run(sb, "get_zoom_meeting_link", **{**args, "duration": 45}) != first


def test_reset_restores_the_seeded_world(sb):
    seeded = sb.fingerprint()
    run(sb, "send_sms", recipients=["+1 415 555 0109"], message="hi")
    (sb.files_dir / "Resume.docx").unlink()
    assert sb.fingerprint() != seeded
    sb.reset()
    assert sb.fingerprint() == seeded


def test_concurrent_writes_from_threads_all_land(sb):
    sb.counts()
    errors = []

    def send(i):
        try:
            run(sb, "send_sms", recipients=["+1 415 555 0101"], message=f"msg {i}")
            run(sb, "create_note", name=f"note {i}", content="x", folder="Threads")
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state = sb.state()
    assert sorted(s["message"] for s in state["sms"]) == sorted(f"msg {i}" for i in range(12))
    assert len([n for n in state["notes"] if n["folder"] == "Threads"]) == 12


def test_pdf_writer_output_reads_back_with_pypdf(tmp_path):
    import pypdf

    paragraphs = ["(Parentheses) and back\\slashes survive.", "word " * 900]
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf_bytes("Title", paragraphs))
    reader = pypdf.PdfReader(str(path))
    assert len(reader.pages) >= 2
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "(Parentheses) and back\\slashes survive." in text and text.count("word") == 900


def test_factory_builds_the_sandbox_and_refuses_applescript_off_macos(monkeypatch):
    backend = make_backend(Config(backend="sandbox"))
    assert backend.name == "sandbox"
    assert "sandbox" in describe_backend(Config(backend="sandbox"))
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(BackendUnavailable, match="backend: sandbox"):
        make_backend(Config(backend="applescript"))


def test_factory_passes_the_zoom_token():
    cfg = Config(backend="sandbox")
    cfg.zoom.token = "abc"
    cfg.zoom.api_base = "http://127.0.0.1:9/v2"
    backend = make_backend(cfg)
    assert backend.zoom is not None and backend.zoom.api_base == "http://127.0.0.1:9/v2"


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_show_dump_reset(capsys):
    sb = SandboxBackend(sandbox_db_path())
    run(sb, "send_sms", recipients=["+1 415 555 0104"], message="Lunch at noon?")
    assert cli_main(["sandbox", "show"]) == 0
    shown = capsys.readouterr().out
    assert "Messages: 1 sent" in shown and "Lunch at noon?" in shown and "Contacts: 15" in shown

    assert cli_main(["sandbox", "dump", "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["sms"][0]["message"] == "Lunch at noon?"
    assert cli_main(["sandbox", "dump"]) == 0
    assert "[sms] 1" in capsys.readouterr().out

    assert cli_main(["sandbox", "reset"]) == 0
    assert "reset to the demo world" in capsys.readouterr().out
    assert sb.counts()["sms"] == 0


def test_cli_reports_a_corrupt_database_cleanly(capsys):
    path = data_dir() / "sandbox" / "sandbox.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    assert cli_main(["sandbox", "show"]) == 1
    err = capsys.readouterr().err
    assert "cannot read the sandbox database" in err and "Traceback" not in err
