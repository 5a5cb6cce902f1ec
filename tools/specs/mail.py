"""compose_new_email, reply_to_email, forward_email: drafts in Mail, written by the writer."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolError
from tinyagent.tools.base import BaseBackend, extras_text
from tinyagent.tools.sandbox import seed
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text
from tinyagent.tools.spec import EMAIL, LIST_STR, PATH, STR, Args, Effect, Extras, Param, ToolSpec

_CC = Param("cc", LIST_STR, "email addresses to copy", resolve=EMAIL)


# -- shared by the three --------------------------------------------------------------------
def _check_mail(a: Args, tool: str) -> None:
    if "recipients" in a:
        A.require(a["recipients"], tool, "at least one recipient email address")
        A.check_emails(a["recipients"], f"{tool}: recipients")
    A.check_emails(a["cc"], f"{tool}: cc")
    for path in a["attachments"]:
        if not os.path.isabs(os.path.expanduser(path)) or not os.path.isfile(os.path.expanduser(path)):
            raise ToolError(f"{tool}: attachment {path!r} is not an existing file; pass the absolute path "
                            f"that open_and_get_file_path returns")


def _extras_words(b: BaseBackend, a: Args) -> tuple[str, str]:
    cc = f" (cc {b.who(a['cc'])})" if a["cc"] else ""
    attach = f" with {len(a['attachments'])} attachment(s)" if a["attachments"] else ""
    return cc, attach


def _require_selected(b: SandboxBackend, tool: str) -> dict[str, Any]:
    selected = b.selected_row()
    if selected is None:
        raise ToolError(f"{tool}: no email is selected in Mail; select the email first, or write a "
                        f"new one with compose_new_email")
    return selected


def _save_draft(conn: sqlite3.Connection, kind: str, recipients: list[str], cc: list[str], subject: str,
                body: str, attachments: list[str], in_reply_to: int | None) -> None:
    conn.execute(
        "INSERT INTO mail (mailbox, kind, sender, recipients, cc, subject, body, attachments, in_reply_to, date) "
        "VALUES ('drafts',?,?,?,?,?,?,?,?,?)",
        (kind, seed.ME, json.dumps(recipients), json.dumps(cc), subject, body, json.dumps(attachments),
         in_reply_to, now_text()))


# -- compose_new_email ---------------------------------------------------------------------------
def _new_check(a: Args) -> None:
    _check_mail(a, "compose_new_email")


def _new_write(b: BaseBackend, a: Args, request: str) -> Extras:
    return {"body": b.writer.email_body(a["context"], kind="new", recipients=a["recipients"],
                                        subject=a["subject"], request=request)}


def _new_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    cc, attach = _extras_words(b, a)
    subject = f": '{A.quote(a['subject'])}'" if a["subject"] else ""
    return f"Draft an email to {b.who(a['recipients'])}{cc}{attach}{subject}"


def _new_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        _save_draft(conn, "new", a["recipients"], a["cc"], a["subject"], extras_text(extras, "body"),
                    a["attachments"], None)
    return f"Email draft to {', '.join(a['recipients'])} is ready in Mail" + (
        f": '{a['subject']}'" if a["subject"] else "")


def _new_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(COMPOSE_NEW_EMAIL, a["recipients"], a["cc"], a["subject"], extras_text(extras, "body"),
                        a["attachments"])


COMPOSE_NEW_EMAIL = ToolSpec(
    "compose_new_email", "mail", Effect.DRAFT,
    "Writes a new email from the given context and opens it in Mail, ready to send.",
    (
        Param("recipients", LIST_STR, "email addresses to send to", resolve=EMAIL),
        _CC,
        Param("subject", STR, "the subject line"),
        Param("context", STR, "what the email should say; the body is written from it"),
        Param("attachments", LIST_STR, "absolute paths of files to attach", resolve=PATH),
    ),
    "a confirmation of the draft",
    companions=("get_email_address",),
    undone="drafted", what="the email",
    hint="drafts a new email saying what context says; attachments are file paths",
    check=_new_check, write=_new_write, describe=_new_summary, sandbox=_new_sandbox, applescript=_new_mac,
    script="compose_new_email",
)


# -- reply_to_email ---------------------------------------------------------------------------------
def _reply_check(a: Args) -> None:
    _check_mail(a, "reply_to_email")


def _reply_write(b: BaseBackend, a: Args, request: str) -> Extras:
    selected = b.selected_email() or {}
    sender = [selected["sender"]] if selected.get("sender") else []
    return {"body": b.writer.email_body(a["context"], kind="reply", recipients=sender,
                                        subject=selected.get("subject", ""), request=request,
                                        thread=selected.get("body", ""))}


def _reply_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    cc, attach = _extras_words(b, a)
    selected = b.selected_email()
    about = (f" to {b.who([selected['sender']])} about '{A.quote(selected['subject'])}'"
             if selected else " to the email selected in Mail")
    return f"Draft a reply{about}{cc}{attach}: '{A.quote(extras_text(extras, 'body'))}'"


def _reply_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    original = _require_selected(b, "reply_to_email")
    subject = original["subject"]
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    quoted = "\n".join("> " + line for line in original["body"].splitlines())
    body = f"{extras_text(extras, 'body')}\n\nOn {original['date']}, {original['sender']} wrote:\n{quoted}"
    with b.store.write() as conn:
        _save_draft(conn, "reply", [original["sender"]], a["cc"], subject, body, a["attachments"], original["id"])
    return f"Reply draft to {original['sender']} is ready in Mail: '{subject}'"


def _reply_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(REPLY_TO_EMAIL, a["cc"], extras_text(extras, "body"), a["attachments"])


REPLY_TO_EMAIL = ToolSpec(
    "reply_to_email", "mail", Effect.DRAFT,
    "Replies to the email currently selected in Mail with a reply written from the context.",
    (
        _CC,
        Param("context", STR, "what the reply should say"),
        Param("attachments", LIST_STR, "absolute paths of files to attach", resolve=PATH),
    ),
    "a confirmation of the reply draft",
    undone="drafted", what="the reply",
    hint="drafts a reply to the selected email saying what context says",
    check=_reply_check, write=_reply_write, describe=_reply_summary, sandbox=_reply_sandbox,
    applescript=_reply_mac, script="reply_to_email",
)


# -- forward_email -------------------------------------------------------------------------------------
def _forward_check(a: Args) -> None:
    _check_mail(a, "forward_email")


def _forward_write(b: BaseBackend, a: Args, request: str) -> Extras:
    selected = b.selected_email() or {}
    return {"body": b.writer.email_body(a["context"], kind="forward", recipients=a["recipients"],
                                        subject=selected.get("subject", ""), request=request,
                                        thread=selected.get("body", ""))}


def _forward_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    cc, attach = _extras_words(b, a)
    selected = b.selected_email()
    what = f"'{A.quote(selected['subject'])}'" if selected else "the email selected in Mail"
    return f"Forward {what} to {b.who(a['recipients'])}{cc}{attach}"


def _forward_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    original = _require_selected(b, "forward_email")
    subject = original["subject"]
    subject = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
    body = (f"{extras_text(extras, 'body')}\n\n---------- Forwarded message ----------\n"
            f"From: {original['sender']}\nDate: {original['date']}\nSubject: {original['subject']}\n\n"
            f"{original['body']}")
    with b.store.write() as conn:
        _save_draft(conn, "forward", a["recipients"], a["cc"], subject, body,
                    original["attachments"] + a["attachments"], original["id"])
    return f"Forward draft to {', '.join(a['recipients'])} is ready in Mail: '{subject}'"


def _forward_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(FORWARD_EMAIL, a["recipients"], a["cc"], extras_text(extras, "body"), a["attachments"])


FORWARD_EMAIL = ToolSpec(
    "forward_email", "mail", Effect.DRAFT,
    "Forwards the email currently selected in Mail, with a note written from the context.",
    (
        Param("recipients", LIST_STR, "email addresses to forward to", resolve=EMAIL),
        _CC,
        Param("context", STR, "what the note above the forwarded email should say"),
        Param("attachments", LIST_STR, "absolute paths of extra files to attach", resolve=PATH),
    ),
    "a confirmation of the forward draft",
    companions=("get_email_address",),
    undone="forwarded", what="the forward",
    hint="forwards the selected email with a note saying what context says",
    check=_forward_check, write=_forward_write, describe=_forward_summary, sandbox=_forward_sandbox,
    applescript=_forward_mac, script="forward_email",
)
