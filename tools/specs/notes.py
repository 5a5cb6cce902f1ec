"""create_note, open_note, append_note_content: notes in Notes, their text from the writer."""

from __future__ import annotations

import html
import sqlite3
from typing import Any

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import ToolError, in_dry_run
from tinyagent.tools.base import BaseBackend, extras_text
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text, pick_named
from tinyagent.tools.spec import STR, Args, Check, Effect, Extras, Param, ToolSpec

_NAME = Param("name", STR, "the note's title")
_ANY_FOLDER = Param("folder", STR, "folder name, or an empty string to search all folders")


def notes_html(text: str) -> str:
    """Plain text as the HTML Notes stores: one <div> per line, so line breaks survive."""
    lines = text.splitlines() or [""]
    return "".join(f"<div>{html.escape(line) if line else '<br>'}</div>" for line in lines)


def _needs_name(tool: str) -> Check:
    def check(a: Args) -> None:
        A.require(a["name"], tool, "the note's name")
        if tool == "append_note_content":
            A.require(a["content"], tool, "content to add")
    return check


def _write_content(b: BaseBackend, a: Args, request: str) -> Extras:
    return {"content": b.writer.note_content(a["content"], name=a["name"], request=request)}


def _find_note(conn: sqlite3.Connection, name: str, folder: str, tool: str, partial: bool = True) -> dict[str, Any]:
    """The one note `name` means (exact name, else, where `partial`, a unique part of one);
    ambiguity is an error. A write takes the exact name only, as the Notes script does: its
    confirmation named that note, so it must not change another."""
    if folder:
        folder = pick_named(conn, "note_folders", folder, False, "folder", tool)
        rows = conn.execute("SELECT * FROM notes WHERE folder = ? ORDER BY id", (folder,)).fetchall()
    else:
        rows = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
    notes = [dict(r) for r in rows]
    wanted = name.lower()
    tiers = [[n for n in notes if n["name"].lower() == wanted]]
    if partial:
        tiers.append([n for n in notes if wanted in n["name"].lower()])
    for matches in tiers:
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


# -- create_note -------------------------------------------------------------------------------
def _create_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return (f"Create the note '{A.quote(a['name'])}' in {a['folder'] or 'the default'} folder: "
            f"'{A.quote(extras_text(extras, 'content'))}'")


def _create_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        folder = pick_named(conn, "note_folders", a["folder"], True, "folder", "create_note")
        clash = conn.execute("SELECT 1 FROM notes WHERE folder = ? AND lower(name) = lower(?)",
                             (folder, a["name"])).fetchone()
        if clash:
            raise ToolError(f"create_note: a note named {a['name']!r} already exists in {folder}; "
                            f"use append_note_content to add to it, or choose another name")
        now = now_text()
        conn.execute("INSERT INTO notes (folder, name, content, created_at, modified_at) VALUES (?,?,?,?,?)",
                     (folder, a["name"], extras_text(extras, "content"), now, now))
    return f"Created the note '{a['name']}' in {folder}"


def _create_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    body = f"<div><h1>{html.escape(a['name'])}</h1></div>" + notes_html(extras_text(extras, "content"))
    return b.run_script(CREATE_NOTE, a["name"], body, a["folder"])


CREATE_NOTE = ToolSpec(
    "create_note", "notes", Effect.WRITE,
    "Creates a note with the given name and content in Notes.",
    (
        _NAME,
        Param("content", STR, "what the note should contain"),
        Param("folder", STR, "folder name, or an empty string for the default folder"),
    ),
    "a confirmation of the new note",
    undone="written", what="the note",
    hint="creates a note",
    check=_needs_name("create_note"), write=_write_content, describe=_create_summary, sandbox=_create_sandbox,
    applescript=_create_mac, script="create_note",
)


# -- open_note -------------------------------------------------------------------------------------
def _open_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Open the note '{A.quote(a['name'])}'"


def _open_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    # Reading is a lookup (Effect.READ): it may run in dry-run, so it must leave no trace.
    with b.store.read() as conn:
        note = _find_note(conn, a["name"], a["folder"], "open_note")
    return str(note["content"])


def _open_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    # A dry run may look a note up, but must not bring Notes to the front showing it.
    return b.run_script(OPEN_NOTE, a["name"], a["folder"], not in_dry_run())


OPEN_NOTE = ToolSpec(
    "open_note", "notes", Effect.READ,
    "Finds a note by name, opens it and returns its content.",
    (_NAME, _ANY_FOLDER),
    "the note's content",
    undone="read",
    hint="returns a note's content",
    check=_needs_name("open_note"), describe=_open_summary, sandbox=_open_sandbox, applescript=_open_mac,
    script="open_note",
)


# -- append_note_content ------------------------------------------------------------------------------
def _append_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Add to the note '{A.quote(a['name'])}': '{A.quote(extras_text(extras, 'content'))}'"


def _append_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        note = _find_note(conn, a["name"], a["folder"], "append_note_content", partial=False)
        added = extras_text(extras, "content")
        content = f"{note['content']}\n{added}" if note["content"] else added
        conn.execute("UPDATE notes SET content = ?, modified_at = ? WHERE id = ?", (content, now_text(), note["id"]))
    return f"Added to the note '{note['name']}' in {note['folder']}; it is now {len(content)} characters long"


def _append_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(APPEND_NOTE_CONTENT, a["name"], notes_html(extras_text(extras, "content")), a["folder"])


APPEND_NOTE_CONTENT = ToolSpec(
    "append_note_content", "notes", Effect.WRITE,
    "Adds content to the end of an existing note.",
    (_NAME, Param("content", STR, "what to add"), _ANY_FOLDER),
    "a confirmation with the note's new length",
    undone="written", what="the note",
    hint="adds content to the end of a note",
    check=_needs_name("append_note_content"), write=_write_content, describe=_append_summary,
    sandbox=_append_sandbox, applescript=_append_mac, script="append_note_content",
)
