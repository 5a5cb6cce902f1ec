"""The sandbox backend: all 16 tools against an embedded SQLite world, on any OS.

Reads and writes are real (rows in `sandbox.db`, files in the `files` folder beside it), so
plans can be run, inspected (`tinyagent sandbox show`) and reset without touching the user's
apps. `prepare` only reads; `invoke` changes the database.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from tools import args as A
from tools.backend import ContentWriter, ToolError
from tools.base import BaseBackend, date_text
from tools.files import pick_file, read_pdf_text
from tools.maps import directions_url, location_url
from tools.sandbox import seed
from tools.sandbox.contacts import find_contact, full_name
from tools.sandbox.store import Store, row_dict
from tools.zoom import ZoomClient, local_meeting


def default_db_path() -> Path:
    from core.config import data_dir

    return data_dir() / "sandbox" / "sandbox.db"


def _now() -> str:
    return datetime.now().strftime(A.DATE_FORMAT)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _pick_named(conn: sqlite3.Connection, table: str, wanted: str, create: bool, what: str, tool: str) -> str:
    """The stored name of a calendar / folder / list, matched case-insensitively; "" = the default."""
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    if not wanted:
        defaults = [r["name"] for r in rows if r.get("is_default")]
        return defaults[0] if defaults else rows[0]["name"]
    for r in rows:
        if r["name"].lower() == wanted.lower():
            return r["name"]
    if create:
        columns = "(name)" if table == "note_folders" else "(name, is_default)"
        values = "(?)" if table == "note_folders" else "(?, 0)"
        conn.execute(f"INSERT INTO {table} {columns} VALUES {values}", (wanted,))
        return wanted
    known = ", ".join(r["name"] for r in rows)
    raise ToolError(f"{tool}: there is no {what} named {wanted!r}; {what}s are: {known}")


class SandboxBackend(BaseBackend):
    name = "sandbox"

    def __init__(self, db_path: Path | str | None = None, writer: ContentWriter | None = None,
                 zoom: ZoomClient | None = None):
        super().__init__(writer)
        self.store = Store(Path(db_path) if db_path else default_db_path())
        self.zoom = zoom

    # -- inspection ------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.store.db_path

    @property
    def files_dir(self) -> Path:
        return self.store.files_dir

    def state(self) -> dict[str, Any]:
        return self.store.state()

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def fingerprint(self) -> str:
        return self.store.fingerprint()

    def reset(self) -> None:
        self.store.reset()

    # -- read-only hooks for prepare ---------------------------------------------------------------
    def _contacts(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM contacts ORDER BY id")]

    def display_name(self, address: str) -> str | None:
        for c in self._contacts():
            if c["email"].lower() == address.lower() or (
                    _digits(address) and _digits(c["phone"]) == _digits(address)):
                return full_name(c)
        return None

    def _selected(self) -> dict[str, Any] | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT * FROM mail WHERE mailbox = 'inbox' AND selected = 1 "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        return row_dict(row) if row else None

    def selected_email(self) -> dict[str, str] | None:
        row = self._selected()
        return {"sender": row["sender"], "subject": row["subject"], "body": row.get("body") or ""} if row else None

    def zoom_mode(self) -> str:
        return "" if self.zoom else "sandbox link, no Zoom token set"

    def _activity(self, conn: sqlite3.Connection, app: str, action: str, target: str) -> None:
        conn.execute("INSERT INTO ui_activity (app, action, target, at) VALUES (?,?,?,?)",
                     (app, action, target, _now()))

    # -- contacts ------------------------------------------------------------------------------------
    def lookup_email(self, name: str) -> str | None:
        return find_contact(self._contacts(), name, "get_email_address")["email"] or None

    def lookup_phone(self, name: str) -> str | None:
        return find_contact(self._contacts(), name, "get_phone_number")["phone"] or None

    def find_file(self, name: str) -> str | None:
        self.store.ensure_ready()
        candidates = [p for p in self.files_dir.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.files_dir).parts)]
        return str(pick_file(name, candidates).resolve())

    def do_get_phone_number(self, a: dict, extras: dict) -> str:
        if A.looks_like_phone(a["name"]):
            return a["name"]
        return find_contact(self._contacts(), a["name"], "get_phone_number")["phone"]

    def do_get_email_address(self, a: dict, extras: dict) -> str:
        if A.looks_like_email(a["name"]):
            return a["name"]
        return find_contact(self._contacts(), a["name"], "get_email_address")["email"]

    # -- calendar --------------------------------------------------------------------------------------
    def do_create_calendar_event(self, a: dict, extras: dict) -> str:
        with self.store.write() as conn:
            calendar = _pick_named(conn, "calendars", a["calendar"], False, "calendar", "create_calendar_event")
            conn.execute(
                "INSERT INTO events (calendar, title, start, end, location, invitees, notes, created_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (calendar, a["title"], date_text(a["start_date"]), date_text(a["end_date"]), a["location"],
                 json.dumps(a["invitees"]), a["notes"], _now()))
        where = f" at {a['location']}" if a["location"] else ""
        who = f"; invited {', '.join(a['invitees'])}" if a["invitees"] else ""
        return (f"Created '{a['title']}' in the {calendar} calendar, {A.human_date(a['start_date'])} to "
                f"{A.human_date(a['end_date'])}{where}{who}")

    # -- files -------------------------------------------------------------------------------------------
    def do_open_and_get_file_path(self, a: dict, extras: dict) -> str:
        self.store.ensure_ready()
        candidates = [p for p in self.files_dir.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.files_dir).parts)]
        path = str(pick_file(a["file_name"], candidates).resolve())
        with self.store.write() as conn:
            self._activity(conn, "files", "opened", path)
        return path

    def do_summarize_pdf(self, a: dict, extras: dict) -> str:
        self.store.ensure_ready()  # the demo files are written on first use
        path, text = read_pdf_text(a["pdf_path"])
        try:
            return self.writer.summarize(text, title=path.stem)
        except Exception as exc:
            raise ToolError(f"summarize_pdf: could not summarize {path.name}: {exc}") from exc

    # -- mail -----------------------------------------------------------------------------------------------
    def _save_draft(self, conn: sqlite3.Connection, kind: str, recipients: list[str], cc: list[str],
                    subject: str, body: str, attachments: list[str], in_reply_to: int | None) -> None:
        conn.execute(
            "INSERT INTO mail (mailbox, kind, sender, recipients, cc, subject, body, attachments, in_reply_to, date) "
            "VALUES ('drafts',?,?,?,?,?,?,?,?,?)",
            (kind, seed.ME, json.dumps(recipients), json.dumps(cc), subject, body, json.dumps(attachments),
             in_reply_to, _now()))

    def do_compose_new_email(self, a: dict, extras: dict) -> str:
        with self.store.write() as conn:
            self._save_draft(conn, "new", a["recipients"], a["cc"], a["subject"], extras.get("body", ""),
                             a["attachments"], None)
        return f"Email draft to {', '.join(a['recipients'])} is ready in Mail" + (
            f": '{a['subject']}'" if a["subject"] else "")

    def _require_selected(self, tool: str) -> dict[str, Any]:
        selected = self._selected()
        if selected is None:
            raise ToolError(f"{tool}: no email is selected in Mail; select the email first, or write a "
                            f"new one with compose_new_email")
        return selected

    def do_reply_to_email(self, a: dict, extras: dict) -> str:
        original = self._require_selected("reply_to_email")
        subject = original["subject"]
        subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        quoted = "\n".join("> " + line for line in original["body"].splitlines())
        body = f"{extras.get('body', '')}\n\nOn {original['date']}, {original['sender']} wrote:\n{quoted}"
        with self.store.write() as conn:
            self._save_draft(conn, "reply", [original["sender"]], a["cc"], subject, body, a["attachments"],
                             original["id"])
        return f"Reply draft to {original['sender']} is ready in Mail: '{subject}'"

    def do_forward_email(self, a: dict, extras: dict) -> str:
        original = self._require_selected("forward_email")
        subject = original["subject"]
        subject = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
        body = (f"{extras.get('body', '')}\n\n---------- Forwarded message ----------\n"
                f"From: {original['sender']}\nDate: {original['date']}\nSubject: {original['subject']}\n\n"
                f"{original['body']}")
        with self.store.write() as conn:
            self._save_draft(conn, "forward", a["recipients"], a["cc"], subject, body,
                             original["attachments"] + a["attachments"], original["id"])
        return f"Forward draft to {', '.join(a['recipients'])} is ready in Mail: '{subject}'"

    # -- maps -------------------------------------------------------------------------------------------------
    def do_maps_open_location(self, a: dict, extras: dict) -> str:
        url = location_url(a["location"])
        with self.store.write() as conn:
            self._activity(conn, "maps", "showed location", url)
        return url

    def do_maps_show_directions(self, a: dict, extras: dict) -> str:
        url = directions_url(a["start_location"], a["end_location"], a["transport"])
        with self.store.write() as conn:
            self._activity(conn, "maps", "showed directions", url)
        return url

    # -- notes ------------------------------------------------------------------------------------------------
    def _find_note(self, conn: sqlite3.Connection, name: str, folder: str, tool: str) -> dict[str, Any]:
        if folder:
            folder = _pick_named(conn, "note_folders", folder, False, "folder", tool)
            rows = conn.execute("SELECT * FROM notes WHERE folder = ? ORDER BY id", (folder,)).fetchall()
        else:
            rows = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
        notes = [dict(r) for r in rows]
        wanted = name.lower()
        for matches in ([n for n in notes if n["name"].lower() == wanted],
                        [n for n in notes if wanted in n["name"].lower()]):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                listed = ", ".join(f"'{n['name']}' in {n['folder']}" for n in matches)
                raise ToolError(f"{tool}: {len(matches)} notes match {name!r}: {listed}. "
                                f"Give the full name and the folder.")
        place = f" in folder {folder!r}" if folder else ""
        known = ", ".join(f"'{n['name']}'" for n in notes[:10]) or "(none)"
        raise ToolError(f"{tool}: no note named {name!r}{place}. Known notes: {known}. "
                        f"Use create_note to make a new one.")

    def do_create_note(self, a: dict, extras: dict) -> str:
        with self.store.write() as conn:
            folder = _pick_named(conn, "note_folders", a["folder"], True, "folder", "create_note")
            clash = conn.execute("SELECT 1 FROM notes WHERE folder = ? AND lower(name) = lower(?)",
                                 (folder, a["name"])).fetchone()
            if clash:
                raise ToolError(f"create_note: a note named {a['name']!r} already exists in {folder}; "
                                f"use append_note_content to add to it, or choose another name")
            now = _now()
            conn.execute("INSERT INTO notes (folder, name, content, created_at, modified_at) VALUES (?,?,?,?,?)",
                         (folder, a["name"], extras.get("content", ""), now, now))
        return f"Created the note '{a['name']}' in {folder}"

    def do_open_note(self, a: dict, extras: dict) -> str:
        # Reading is a lookup (Effect.READ): it may run in dry-run, so it must leave no trace.
        with self.store.read() as conn:
            note = self._find_note(conn, a["name"], a["folder"], "open_note")
        return note["content"]

    def do_append_note_content(self, a: dict, extras: dict) -> str:
        with self.store.write() as conn:
            note = self._find_note(conn, a["name"], a["folder"], "append_note_content")
            added = extras.get("content", "")
            content = f"{note['content']}\n{added}" if note["content"] else added
            conn.execute("UPDATE notes SET content = ?, modified_at = ? WHERE id = ?", (content, _now(), note["id"]))
        return f"Added to the note '{note['name']}' in {note['folder']}; it is now {len(content)} characters long"

    # -- reminders --------------------------------------------------------------------------------------------
    def do_create_reminder(self, a: dict, extras: dict) -> str:
        due = a["due_date"]
        due_text = due.strftime("%Y-%m-%d") if due and a["all_day"] else date_text(due)
        with self.store.write() as conn:
            list_name = _pick_named(conn, "reminder_lists", a["list_name"], True, "list", "create_reminder")
            conn.execute(
                "INSERT INTO reminders (list, name, due_date, notes, priority, all_day, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (list_name, a["name"], due_text, a["notes"], a["priority"], int(a["all_day"]), _now()))
        due_words = f", due {due_text}" if due_text else ""
        return f"Created the reminder '{a['name']}' in {list_name}{due_words}"

    # -- messages ---------------------------------------------------------------------------------------------
    def do_send_sms(self, a: dict, extras: dict) -> str:
        with self.store.write() as conn:
            conn.execute("INSERT INTO sms (recipients, message, sent_at) VALUES (?,?,?)",
                         (json.dumps(a["recipients"]), a["message"], _now()))
        return f"Sent to {self._who(a['recipients'])}: '{a['message']}'"

    # -- zoom -------------------------------------------------------------------------------------------------
    def do_get_zoom_meeting_link(self, a: dict, extras: dict) -> str:
        make = self.zoom.create_meeting if self.zoom else local_meeting
        meeting = make(a["topic"], a["start_time"], a["duration"], a["meeting_invitees"])
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO zoom_meetings (meeting_id, topic, start_time, duration, invitees, join_url, source, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                (meeting.meeting_id, a["topic"], date_text(a["start_time"]), a["duration"],
                 json.dumps(a["meeting_invitees"]), meeting.join_url, meeting.source, _now()))
        return meeting.join_url
