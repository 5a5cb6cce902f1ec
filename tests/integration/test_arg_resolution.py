"""Names where an email address, phone number or file path belongs are looked up, as TinyAgent's tools do.

Sandbox: its Contacts and files. AppleScript: its Contacts scripts and Spotlight, run against a
fake `osascript` that prints a canned answer (as tests/integration/test_applescript.py does).
"""

from __future__ import annotations

import pytest

from tests.integration.test_applescript import fake  # noqa: F401 - the fake osascript fixture
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolCall, ToolError
from tinyagent.tools.registry import REGISTRY
from tinyagent.tools.sandbox.backend import SandboxBackend

SARAH_EMAIL, SARAH_PHONE = "sarah.lindqvist@example.com", "+1 415 555 0102"


@pytest.fixture
def sb(tmp_path):
    return SandboxBackend(tmp_path / "s.db")


def prepare(b, tool, **args):
    return b.prepare(ToolCall(REGISTRY[tool], args))


def test_email_fields_take_names(sb):
    call = prepare(sb, "compose_new_email", recipients=["Sarah"], cc=[], subject="Hi", context="hello",
                   attachments=[])
    assert call.args["recipients"] == [SARAH_EMAIL]
    assert f"Sarah → {SARAH_EMAIL}" in call.summary and SARAH_EMAIL in call.summary
    event = prepare(sb, "create_calendar_event", title="Sync", start_date="2024-06-07 15:00:00", end_date="",
                    location="", invitees=["Sarah", "ann@example.org"], notes="", calendar=None)
    assert event.args["invitees"] == [SARAH_EMAIL, "ann@example.org"]


def test_phone_fields_take_names_and_keep_numbers(sb):
    call = prepare(sb, "send_sms", recipients=["Sarah", "+1 650 555 0199"], message="Running late")
    assert call.args["recipients"] == [SARAH_PHONE, "+1 650 555 0199"]
    assert f"Sarah → {SARAH_PHONE}" in call.summary
    assert sb.invoke(call)  # and it sends to the looked-up number


def test_paths_take_file_names(sb):
    call = prepare(sb, "summarize_pdf", pdf_path="Quarterly Report")
    assert call.args["pdf_path"].endswith("Quarterly Report Q2.pdf")
    mail = prepare(sb, "compose_new_email", recipients=[SARAH_EMAIL], cc=[], subject="Report", context="Here.",
                   attachments=["Quarterly Report"])
    assert mail.args["attachments"][0].endswith("Quarterly Report Q2.pdf") and "looked up" in mail.summary


def test_unknown_names_still_fail_with_a_clear_error(sb):
    with pytest.raises(ToolError, match="recipients"):
        prepare(sb, "compose_new_email", recipients=["Nobody Atall"], cc=[], subject="", context="x", attachments=[])


def test_applescript_looks_names_up_in_contacts(fake, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FAKE_OUT", SARAH_EMAIL)
    b = AppleScriptBackend(osascript=fake.path, timeout=10)
    call = prepare(b, "forward_email", recipients=["Sarah"], cc=[], context="", attachments=[])
    assert call.args["recipients"] == [SARAH_EMAIL] and "looked up: Sarah" in call.summary
    assert any("Sarah" in argv for argv in fake.calls())
