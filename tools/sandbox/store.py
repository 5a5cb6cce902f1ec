"""The sandbox's SQLite database: schema, seeding, and read-outs of the whole state.

One connection per operation (sqlite3 connections are not shared across threads); WAL mode
and a busy timeout let the executor's worker threads read and write concurrently.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinyagent.tools.backend import begin_effect
from tinyagent.tools.sandbox import seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    email TEXT NOT NULL, phone TEXT NOT NULL, company TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS calendars (name TEXT PRIMARY KEY, is_default INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, calendar TEXT NOT NULL REFERENCES calendars(name), title TEXT NOT NULL,
    start TEXT NOT NULL, end TEXT NOT NULL, location TEXT NOT NULL, invitees TEXT NOT NULL,
    notes TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mail (
    id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL,
    recipients TEXT NOT NULL, cc TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
    attachments TEXT NOT NULL, in_reply_to INTEGER REFERENCES mail(id),
    selected INTEGER NOT NULL DEFAULT 0, date TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sms (id INTEGER PRIMARY KEY, recipients TEXT NOT NULL, message TEXT NOT NULL,
    sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS note_folders (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, folder TEXT NOT NULL REFERENCES note_folders(name), name TEXT NOT NULL,
    content TEXT NOT NULL, created_at TEXT NOT NULL, modified_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reminder_lists (name TEXT PRIMARY KEY, is_default INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reminders (
    id INTEGER PRIMARY KEY, list TEXT NOT NULL REFERENCES reminder_lists(name), name TEXT NOT NULL,
    due_date TEXT NOT NULL, notes TEXT NOT NULL, priority INTEGER NOT NULL, all_day INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zoom_meetings (
    id INTEGER PRIMARY KEY, meeting_id TEXT NOT NULL, topic TEXT NOT NULL, start_time TEXT NOT NULL,
    duration INTEGER NOT NULL, invitees TEXT NOT NULL, join_url TEXT NOT NULL, source TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ui_activity (
    id INTEGER PRIMARY KEY, app TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, at TEXT NOT NULL);
"""

@contextmanager
def _first_setup_lock(db_path: Path) -> Iterator[None]:
    """Serialise first-time setup of one database file across threads and processes."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; setup then relies on SQLite's own locks
        yield
        return
    with open(db_path.with_name(db_path.name + ".setup-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


TABLES = ("contacts", "calendars", "events", "mail", "sms", "note_folders", "notes", "reminder_lists",
          "reminders", "zoom_meetings", "ui_activity")
JSON_COLUMNS = {"invitees", "recipients", "cc", "attachments"}


class Store:
    """The database file plus the folder of demo files beside it."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self.files_dir = self.db_path.parent / "files"
        self._ready = False
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=15, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        self.ensure_ready()
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that holds the write lock from the start, so check-then-insert is atomic.

        It commits only if the call is still wanted, decided while the lock is held: a call the
        executor abandoned (timeout, Ctrl-C) rolls back, one that claimed its change commits.
        """
        self.ensure_ready()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                begin_effect()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # -- setup -------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            with _first_setup_lock(self.db_path):
                self._set_up()
                if not self.files_dir.is_dir():
                    seed.write_files(self.files_dir)
            self._ready = True

    def _set_up(self) -> None:
        conn = self._connect()
        try:
            # Switching to WAL ignores the busy timeout ("database is locked" at once when another
            # connection is opening the new file), so it runs under the setup lock, and only once:
            # the mode is stored in the file.
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            # Look under the write lock too: a process without flock may be seeding the same file.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT value FROM meta WHERE key = 'seed_version'").fetchone() is None:
                    _insert_seed(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    def reset(self) -> None:
        """Back to the freshly seeded world: every table emptied and refilled, demo files rewritten."""
        self.ensure_ready()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in reversed(TABLES):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM meta")
            _insert_seed(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        if self.files_dir.is_dir():
            for path in self.files_dir.iterdir():
                if path.is_file():
                    path.unlink()
        seed.write_files(self.files_dir)

    # -- read-outs -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Every table as a list of plain dicts (JSON columns decoded), plus the files folder."""
        out: dict[str, Any] = {}
        with self.read() as conn:
            for table in TABLES:
                rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                out[table] = [row_dict(r) for r in rows]
        out["files"] = [
            {"name": p.name, "size": p.stat().st_size}
            for p in sorted(self.files_dir.iterdir()) if p.is_file() and not p.name.startswith(".")
        ] if self.files_dir.is_dir() else []
        return out

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.state().items()}

    def fingerprint(self) -> str:
        """A hash of the whole state: equal before and after means nothing changed."""
        blob = json.dumps(self.state(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in JSON_COLUMNS & out.keys():
        out[key] = json.loads(out[key])
    return out


def _insert_seed(conn: sqlite3.Connection) -> None:
    at = seed.SEEDED_AT
    conn.executemany("INSERT INTO contacts (first_name, last_name, email, phone, company) VALUES (?,?,?,?,?)",
                     seed.CONTACTS)
    conn.executemany("INSERT INTO calendars VALUES (?,?)", seed.CALENDARS)
    conn.executemany(
        "INSERT INTO events (calendar, title, start, end, location, invitees, notes, created_at) "
        "VALUES (?,?,?,?,?,?,?,?)",
        [(c, t, s, e, loc, json.dumps(inv), n, at) for c, t, s, e, loc, inv, n in seed.EVENTS])
    conn.executemany("INSERT INTO note_folders VALUES (?)", [(f,) for f in seed.NOTE_FOLDERS])
    conn.executemany("INSERT INTO notes (folder, name, content, created_at, modified_at) VALUES (?,?,?,?,?)",
                     [(f, n, c, at, at) for f, n, c in seed.NOTES])
    conn.executemany("INSERT INTO reminder_lists VALUES (?,?)", seed.REMINDER_LISTS)
    conn.executemany(
        "INSERT INTO reminders (list, name, due_date, notes, priority, all_day, created_at) "
        "VALUES (?,?,?,?,?,0,?)", [(*r, at) for r in seed.REMINDERS])
    conn.executemany(
        "INSERT INTO mail (mailbox, kind, sender, recipients, cc, subject, body, attachments, selected, date) "
        "VALUES ('inbox', 'received', ?, ?, '[]', ?, ?, '[]', ?, ?)",
        [(s, json.dumps([seed.ME]), subj, body, sel, date) for s, subj, body, date, sel in seed.INBOX])
    conn.execute("INSERT INTO meta VALUES ('seed_version', ?)", (seed.SEED_VERSION,))
