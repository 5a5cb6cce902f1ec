"""`tinyagent sandbox show|dump|reset`: look into and reset the sandbox's demo world."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from typing import Any

from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.cli.common import CliError, print_json, say
from tinyagent.tools.sandbox import SandboxBackend


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="inspect or reset the sandbox backend's demo world",
                                   description="The sandbox runs the tools against a local SQLite database "
                                   "instead of your real apps. Inspect it or put it back as it was.")
    actions = parser.add_subparsers(dest="sandbox_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="counts and recent items per app")
    show.set_defaults(func=cmd_show)
    dump = actions.add_parser("dump", help="the whole state, table by table")
    dump.add_argument("--json", action="store_true", help="print one JSON object")
    dump.set_defaults(func=cmd_dump)
    reset = actions.add_parser("reset", help="back to the freshly seeded demo world")
    reset.set_defaults(func=cmd_reset)


def _backend() -> SandboxBackend:
    return SandboxBackend(sandbox_db_path())


def _state(backend: SandboxBackend) -> dict[str, Any]:
    try:
        return backend.state()
    except sqlite3.DatabaseError as exc:
        raise CliError(f"cannot read the sandbox database {backend.db_path} ({exc}); "
                       f"run 'tinyagent sandbox reset' or delete the file", status=1) from None


def _latest(rows: list[dict[str, Any]], describe: Callable[[dict[str, Any]], str], n: int = 3) -> list[str]:
    return [f"    {describe(r)}" for r in rows[-n:][::-1]]


def show_lines(state: dict[str, Any], db_path: str) -> list[str]:
    mail = state["mail"]
    inbox = [m for m in mail if m["mailbox"] == "inbox"]
    drafts = [m for m in mail if m["mailbox"] == "drafts"]
    selected = next((m for m in inbox if m["selected"]), None)
    lines = [f"Sandbox database: {db_path}"]
    people = ", ".join(f"{c['first_name']} {c['last_name']}" for c in state["contacts"])
    lines.append(f"Contacts: {len(state['contacts'])}: {people}")
    lines.append(f"Calendar: {len(state['events'])} events in {len(state['calendars'])} calendars")
    lines += _latest(state["events"], lambda e: f"{e['start']}  {e['title']} ({e['calendar']})")
    picked = f"; selected: '{selected['subject']}' from {selected['sender']}" if selected else ""
    lines.append(f"Mail: {len(inbox)} in the inbox, {len(drafts)} drafts{picked}")
    lines += _latest(drafts, lambda m: f"{m['kind']} to {', '.join(m['recipients'])}: '{m['subject']}'")
    lines.append(f"Messages: {len(state['sms'])} sent")
    lines += _latest(state["sms"], lambda s: f"to {', '.join(s['recipients'])}: '{s['message']}'")
    lines.append(f"Notes: {len(state['notes'])} in {len(state['note_folders'])} folders")
    lines += _latest(state["notes"], lambda n: f"{n['folder']}/{n['name']} ({len(n['content'])} characters)")
    lines.append(f"Reminders: {len(state['reminders'])} in {len(state['reminder_lists'])} lists")
    lines += _latest(state["reminders"],
                     lambda r: f"{r['list']}: {r['name']}" + (f", due {r['due_date']}" if r["due_date"] else ""))
    lines.append(f"Zoom: {len(state['zoom_meetings'])} meetings")
    lines += _latest(state["zoom_meetings"], lambda z: f"{z['topic']}: {z['join_url']} ({z['source']})")
    lines.append(f"Files: {len(state['files'])}: {', '.join(f['name'] for f in state['files'])}")
    lines.append(f"Opened on screen: {len(state['ui_activity'])} times")
    lines += _latest(state["ui_activity"], lambda u: f"{u['app']} {u['action']}: {u['target']}")
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    backend = _backend()
    say("\n".join(show_lines(_state(backend), str(backend.db_path))))
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    state = _state(_backend())
    if args.json:
        print_json(state)
        return 0
    for table, rows in state.items():
        print(f"[{table}] {len(rows)}")
        for row in rows:
            print("  " + "  ".join(f"{k}={v!r}" for k, v in row.items()))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    backend = _backend()
    try:
        backend.reset()
    except sqlite3.DatabaseError as exc:
        raise CliError(f"cannot reset the sandbox database {backend.db_path} ({exc}); delete the file and "
                       f"run this again", status=1) from None
    counts = backend.counts()
    print(f"Sandbox reset to the demo world: {counts['contacts']} contacts, {counts['events']} events, "
          f"{counts['mail']} emails, {counts['notes']} notes, {counts['reminders']} reminders, "
          f"{counts['files']} files")
    return 0
