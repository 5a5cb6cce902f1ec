"""The sandbox backend: every tool against an embedded SQLite world, on any OS.

Reads and writes are real (rows in `sandbox.db`, files in the `files` folder beside it), so
plans can be run, inspected (`tinyagent sandbox show`) and reset without touching the user's
apps. `prepare` only reads; `invoke` runs the tool's `sandbox` handler (tools/specs/), which
changes the database through `store.write()`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from tinyagent.tools import args as A
from tinyagent.tools.backend import ContentWriter, ToolError
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.files import pick_file
from tinyagent.tools.sandbox.contacts import find_contact, full_name
from tinyagent.tools.sandbox.store import Store, row_dict
from tinyagent.tools.spec import Run, ToolSpec
from tinyagent.tools.zoom import ZoomClient


def now_text() -> str:
    return datetime.now().strftime(A.DATE_FORMAT)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def pick_named(conn: sqlite3.Connection, table: str, wanted: str, create: bool, what: str, tool: str) -> str:
    """The stored name of a calendar / folder / list, matched case-insensitively; "" = the default."""
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    if not wanted:
        defaults = [r["name"] for r in rows if r.get("is_default")]
        return str(defaults[0] if defaults else rows[0]["name"])
    for r in rows:
        if r["name"].lower() == wanted.lower():
            return str(r["name"])
    if create:
        columns = "(name)" if table == "note_folders" else "(name, is_default)"
        values = "(?)" if table == "note_folders" else "(?, 0)"
        conn.execute(f"INSERT INTO {table} {columns} VALUES {values}", (wanted,))
        return wanted
    known = ", ".join(r["name"] for r in rows)
    raise ToolError(f"{tool}: there is no {what} named {wanted!r}; {what}s are: {known}")


class SandboxBackend(BaseBackend):
    name = "sandbox"

    def __init__(self, db_path: Path | str, writer: ContentWriter | None = None, zoom: ZoomClient | None = None):
        super().__init__(writer)
        self.store = Store(Path(db_path))
        self.zoom = zoom

    def handler(self, tool: ToolSpec) -> Run | None:
        return tool.sandbox

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

    # -- what the tools' handlers share -------------------------------------------------------------
    def contacts(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM contacts ORDER BY id")]

    def contact(self, name: str, tool: str) -> dict[str, Any]:
        """The one contact `name` means; ToolError when none or several do."""
        return find_contact(self.contacts(), name, tool)

    def files(self) -> list[Path]:
        """The demo files (written on first use), hidden ones left out."""
        self.store.ensure_ready()
        return [p for p in self.files_dir.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.files_dir).parts)]

    def selected_row(self) -> dict[str, Any] | None:
        """The inbox email selected in Mail, as a row."""
        with self.store.read() as conn:
            row = conn.execute("SELECT * FROM mail WHERE mailbox = 'inbox' AND selected = 1 "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        return row_dict(row) if row else None

    @staticmethod
    def activity(conn: sqlite3.Connection, app: str, action: str, target: str) -> None:
        """Record what would have appeared on screen (a file opened, a map shown)."""
        conn.execute("INSERT INTO ui_activity (app, action, target, at) VALUES (?,?,?,?)",
                     (app, action, target, now_text()))

    # -- read-only hooks for prepare ---------------------------------------------------------------
    def display_name(self, address: str) -> str | None:
        for c in self.contacts():
            if c["email"].lower() == address.lower() or (
                    _digits(address) and _digits(c["phone"]) == _digits(address)):
                return full_name(c)
        return None

    def selected_email(self) -> dict[str, str] | None:
        row = self.selected_row()
        return {"sender": row["sender"], "subject": row["subject"], "body": row.get("body") or ""} if row else None

    def zoom_mode(self) -> str:
        return "" if self.zoom else "sandbox link, no Zoom token set"

    def lookup_email(self, name: str) -> str | None:
        return str(self.contact(name, "get_email_address")["email"]) or None

    def lookup_phone(self, name: str) -> str | None:
        return str(self.contact(name, "get_phone_number")["phone"]) or None

    def find_file(self, name: str) -> str | None:
        return str(pick_file(name, self.files()).resolve())
