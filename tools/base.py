"""What every backend shares: checking a call's arguments, writing its text, describing it.

`prepare` never changes anything (it also runs for dry runs and the approval prompt); it only
reads. `invoke` re-checks the arguments (cheap, and a call may arrive unprepared) and hands
them to the backend's `do_<tool>` method.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from tools import args as A
from tools.backend import ContentWriter, PlainWriter, ToolCall, ToolError

_NONE_WORDS = {"none", "null", "default"}

# Where a tool expects email addresses, phone numbers or file paths, a name is looked up
# instead of failing, as TinyAgent's tools do (ensure_email_formatting,
# ensure_phone_number_formatting, ensure_file_paths in src/tiny_agent/tiny_agent_tools.py).
EMAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "create_calendar_event": ("invitees",), "compose_new_email": ("recipients", "cc"), "reply_to_email": ("cc",),
    "forward_email": ("recipients", "cc"), "get_zoom_meeting_link": ("meeting_invitees",),
}
PHONE_FIELDS: dict[str, tuple[str, ...]] = {"send_sms": ("recipients",)}
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "compose_new_email": ("attachments",), "reply_to_email": ("attachments",), "forward_email": ("attachments",),
    "summarize_pdf": ("pdf_path",),
}


def checked_args(call: ToolCall) -> dict[str, Any]:
    """The call's arguments, typed and validated; dates become `datetime`s."""
    tool = call.tool
    a = A.coerce_args(tool, call.args)
    name = tool.name
    if name in ("get_phone_number", "get_email_address"):
        A.require(a["name"], name, "the person's name")
    elif name == "create_calendar_event":
        A.require(a["title"], name, "a title")
        A.require(a["start_date"], name, "start_date ('YYYY-MM-DD HH:MM:SS')")
        a["start_date"] = A.parse_date(a["start_date"], f"{name}: start_date")
        end = A.parse_optional_date(a["end_date"], f"{name}: end_date")
        a["end_date"] = end or a["start_date"] + timedelta(hours=1)
        if a["end_date"] <= a["start_date"]:
            raise ToolError(f"{name}: end_date {A.format_date(a['end_date'])} is not after start_date "
                            f"{A.format_date(a['start_date'])}")
        A.check_emails(a["invitees"], f"{name}: invitees")
        if a["calendar"].lower() in _NONE_WORDS:
            a["calendar"] = ""
    elif name == "open_and_get_file_path":
        A.require(a["file_name"], name, "a file name")
    elif name == "summarize_pdf":
        A.require(a["pdf_path"], name, "the PDF's path")
    elif name in ("compose_new_email", "reply_to_email", "forward_email"):
        if name != "reply_to_email":
            A.require(a["recipients"], name, "at least one recipient email address")
            A.check_emails(a["recipients"], f"{name}: recipients")
        A.check_emails(a["cc"], f"{name}: cc")
        _check_attachments(a["attachments"], name)
    elif name == "maps_open_location":
        A.require(a["location"], name, "a place or address")
    elif name == "maps_show_directions":
        A.require(a["end_location"], name, "end_location")
        a["transport"] = A.check_transport(a["transport"])
    elif name in ("create_note", "open_note", "append_note_content"):
        A.require(a["name"], name, "the note's name")
        if name == "append_note_content":
            A.require(a["content"], name, "content to add")
    elif name == "create_reminder":
        A.require(a["name"], name, "what to be reminded of")
        day_only = A.is_day_only(a["due_date"])  # "2024-06-01": the model's way of saying all day
        a["due_date"] = A.parse_optional_date(a["due_date"], f"{name}: due_date", day_only_ok=True)
        a["priority"] = A.check_priority(a["priority"])
        a["all_day"] = (a["all_day"] or day_only) and a["due_date"] is not None  # all-day needs a day
    elif name == "send_sms":
        A.require(a["recipients"], name, "at least one phone number")
        A.check_phones(a["recipients"], f"{name}: recipients")
        A.require(a["message"], name, "the message text")
    elif name == "get_zoom_meeting_link":
        a["topic"] = a["topic"] or "Zoom meeting"
        a["start_time"] = A.parse_optional_date(a["start_time"], f"{name}: start_time")
        duration = 60 if a["duration"] is None else a["duration"]
        if not 1 <= duration <= 24 * 60:
            raise ToolError(f"{name}: duration must be between 1 and 1440 minutes, not {duration}")
        a["duration"] = duration
        A.check_emails(a["meeting_invitees"], f"{name}: meeting_invitees")
    return a


def _has_digits(text: str) -> bool:
    """TinyAgent's test for "already a phone number": it has a digit."""
    return any(c.isdigit() for c in text)


def _is_file(text: str) -> bool:
    return os.path.isfile(os.path.expanduser(text))


def _check_attachments(paths: list[str], where: str) -> None:
    for path in paths:
        if not os.path.isabs(os.path.expanduser(path)) or not os.path.isfile(os.path.expanduser(path)):
            raise ToolError(f"{where}: attachment {path!r} is not an existing file; pass the absolute path "
                            f"that open_and_get_file_path returns")


class BaseBackend:
    """prepare/invoke for all 16 tools; subclasses implement `do_<tool>(args, extras)`."""

    name = "base"

    def __init__(self, writer: ContentWriter | None = None):
        self.writer: ContentWriter = writer or PlainWriter()

    # -- hooks a backend may override (all read-only) -----------------------------------------
    def display_name(self, address: str) -> str | None:
        """The contact name behind an email address or phone number, if known."""
        return None

    def selected_email(self) -> dict[str, str] | None:
        """{"sender", "subject"} of the email reply/forward would use, if it can be known now."""
        return None

    def zoom_mode(self) -> str:
        return ""

    # Lookups for arguments given as names (read-only; None or ToolError: not found).
    def lookup_email(self, name: str) -> str | None:
        return None

    def lookup_phone(self, name: str) -> str | None:
        return None

    def find_file(self, name: str) -> str | None:
        """The path of the file `name` means, found without opening it."""
        return None

    # -- the protocol -----------------------------------------------------------------------------
    def prepare(self, call: ToolCall) -> ToolCall:
        self._resolve_names(call)
        a = checked_args(call)
        self._write_text(call, a)
        call.summary = self._describe(call, a)
        looked_up = call.extras.get("resolved") or {}
        if looked_up:  # the confirmation says what a name was taken to mean
            call.summary += " (looked up: " + ", ".join(f"{k} → {v}" for k, v in looked_up.items()) + ")"
        return call

    # -- names where addresses, numbers or paths belong ---------------------------------------------
    def _resolve_names(self, call: ToolCall) -> None:
        name = call.tool.name
        kinds = [(f, A.looks_like_email, self.lookup_email) for f in EMAIL_FIELDS.get(name, ())]
        kinds += [(f, _has_digits, self.lookup_phone) for f in PHONE_FIELDS.get(name, ())]
        kinds += [(f, _is_file, self.find_file) for f in PATH_FIELDS.get(name, ())]
        if not kinds:
            return
        typed = A.coerce_args(call.tool, call.args)
        resolved: dict[str, str] = {}
        changed: dict[str, Any] = {}
        for field, fine, lookup in kinds:
            value = typed[field]
            values = value if isinstance(value, list) else [value]
            out = [self._resolve_one(v, fine, lookup, resolved) for v in values]
            if out != values:
                changed[field] = out if isinstance(value, list) else out[0]
        if changed:
            call.args = {**call.args, **changed}
            call.extras["resolved"] = {**call.extras.get("resolved", {}), **resolved}

    @staticmethod
    def _resolve_one(value: str, fine: Any, lookup: Any, resolved: dict[str, str]) -> str:
        if not isinstance(value, str) or not value.strip() or fine(value):
            return value
        try:
            found = lookup(value.strip())
        except Exception:  # not found (or the lookup broke): the check that follows says what is wrong
            found = None
        if not found or not fine(found):  # a lookup that gave no usable value changes nothing
            return value
        resolved[value] = found
        return found

    def invoke(self, call: ToolCall) -> Any:
        if not call.summary:
            self.prepare(call)
        a = checked_args(call)
        return getattr(self, f"do_{call.tool.name}")(a, call.extras)

    # -- text written by the ContentWriter ---------------------------------------------------------
    def _write_text(self, call: ToolCall, a: dict[str, Any]) -> None:
        name = call.tool.name
        try:
            request = call.request
            if name == "compose_new_email":
                call.extras["body"] = self.writer.email_body(
                    a["context"], kind="new", recipients=a["recipients"], subject=a["subject"], request=request)
            elif name == "reply_to_email":
                selected = self.selected_email() or {}
                sender = [selected["sender"]] if selected.get("sender") else []
                call.extras["body"] = self.writer.email_body(
                    a["context"], kind="reply", recipients=sender, subject=selected.get("subject", ""),
                    request=request, thread=selected.get("body", ""))
            elif name == "forward_email":
                selected = self.selected_email() or {}
                call.extras["body"] = self.writer.email_body(
                    a["context"], kind="forward", recipients=a["recipients"], subject=selected.get("subject", ""),
                    request=request, thread=selected.get("body", ""))
            elif name in ("create_note", "append_note_content"):
                call.extras["content"] = self.writer.note_content(a["content"], name=a["name"], request=request)
        except ToolError:
            raise
        except Exception as exc:  # a model-backed writer failing must not crash the executor
            raise ToolError(f"{name}: could not write the text: {exc}") from exc

    # -- one-line descriptions for the approval prompt ------------------------------------------------
    def _who(self, addresses: list[str]) -> str:
        shown = []
        for address in addresses:
            person = self.display_name(address)
            shown.append(f"{person} ({address})" if person else address)
        return ", ".join(shown)

    def _describe(self, call: ToolCall, a: dict[str, Any]) -> str:
        name, q = call.tool.name, A.quote
        cc = f" (cc {self._who(a['cc'])})" if a.get("cc") else ""
        attach = f" with {len(a['attachments'])} attachment(s)" if a.get("attachments") else ""
        if name == "get_phone_number":
            return f"Look up {a['name']}'s phone number in Contacts"
        if name == "get_email_address":
            return f"Look up {a['name']}'s email address in Contacts"
        if name == "create_calendar_event":
            where = f" at {a['location']}" if a["location"] else ""
            who = f", inviting {self._who(a['invitees'])}" if a["invitees"] else ""
            cal = a["calendar"] or "the default"
            return (f"Add '{q(a['title'])}' to {cal} calendar, {A.human_date(a['start_date'])} to "
                    f"{A.human_date(a['end_date'])}{where}{who}")
        if name == "open_and_get_file_path":
            return f"Find the file '{a['file_name']}' and open it"
        if name == "summarize_pdf":
            return f"Read and summarize {os.path.basename(a['pdf_path']) or a['pdf_path']}"
        if name == "compose_new_email":
            subject = f": '{q(a['subject'])}'" if a["subject"] else ""
            return f"Draft an email to {self._who(a['recipients'])}{cc}{attach}{subject}"
        if name == "reply_to_email":
            selected = self.selected_email()
            about = (f" to {self._who([selected['sender']])} about '{q(selected['subject'])}'"
                     if selected else " to the email selected in Mail")
            return f"Draft a reply{about}{cc}{attach}: '{q(call.extras.get('body', ''))}'"
        if name == "forward_email":
            selected = self.selected_email()
            what = f"'{q(selected['subject'])}'" if selected else "the email selected in Mail"
            return f"Forward {what} to {self._who(a['recipients'])}{cc}{attach}"
        if name == "maps_open_location":
            return f"Show {a['location']} in Maps"
        if name == "maps_show_directions":
            start = a["start_location"] or "your current location"
            return (f"Show {A.TRANSPORT_WORDS[a['transport']]} directions from {start} to "
                    f"{a['end_location']} in Maps")
        if name == "create_note":
            return f"Create the note '{q(a['name'])}' in {a['folder'] or 'the default'} folder: " \
                   f"'{q(call.extras.get('content', ''))}'"
        if name == "open_note":
            return f"Open the note '{q(a['name'])}'"
        if name == "append_note_content":
            return f"Add to the note '{q(a['name'])}': '{q(call.extras.get('content', ''))}'"
        if name == "create_reminder":
            due = f", due {A.human_date(a['due_date'])}" if a["due_date"] else ""
            prio = A.priority_word(a["priority"])
            return (f"Add the reminder '{q(a['name'])}' to {a['list_name'] or 'the default'} list"
                    f"{due}{', ' + prio + ' priority' if prio else ''}")
        if name == "send_sms":
            return f"Send an SMS to {self._who(a['recipients'])}: '{q(a['message'])}'"
        if name == "get_zoom_meeting_link":
            when = A.human_date(a["start_time"]) if a["start_time"] else "now"
            who = f", inviting {self._who(a['meeting_invitees'])}" if a["meeting_invitees"] else ""
            mode = f" ({self.zoom_mode()})" if self.zoom_mode() else ""
            return f"Create a Zoom meeting '{q(a['topic'])}', {when}, {a['duration']} min{who}{mode}"
        return f"Run {call.tool.name}"


def date_text(value: datetime | None) -> str:
    return A.format_date(value) if value else ""
