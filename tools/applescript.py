"""The macOS backend: each tool runs one script from `applescripts/` with `osascript`.

Arguments are passed as osascript's argv (`on run argv`), never pasted into script text, so
no input can change what a script does. Encoding of argv items:
  - text: as is (NUL characters, which argv cannot carry, are dropped);
  - list[str]: one item, entries joined by ASCII 31 (unit separator); "" is the empty list;
  - dates: "YYYY-MM-DD HH:MM:SS"; int: decimal; bool: "true" / "false".
File search uses Spotlight (`mdfind`), PDF text is read in Python, Zoom goes through its API.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

from tools import args as A
from tools.backend import ContentWriter, ToolError
from tools.base import BaseBackend, date_text
from tools.files import pick_file, read_pdf_text
from tools.maps import directions_url, location_url
from tools.zoom import ZoomClient

LIST_SEPARATOR = "\x1f"
SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "applescripts"

# tool -> the script it runs (summarize_pdf and get_zoom_meeting_link need no AppleScript)
SCRIPTS = {
    "get_phone_number": "get_phone_number",
    "get_email_address": "get_email_address",
    "create_calendar_event": "create_calendar_event",
    "open_and_get_file_path": "open_file",
    "compose_new_email": "compose_new_email",
    "reply_to_email": "reply_to_email",
    "forward_email": "forward_email",
    "maps_open_location": "open_maps_url",
    "maps_show_directions": "open_maps_url",
    "create_note": "create_note",
    "open_note": "open_note",
    "append_note_content": "append_note_content",
    "create_reminder": "create_reminder",
    "send_sms": "send_sms",
}
PYTHON_ONLY = ("summarize_pdf", "get_zoom_meeting_link")
MAC_APPS = {"contacts": "Contacts", "calendar": "Calendar", "files": "Finder", "mail": "Mail",
            "maps": "Maps", "notes": "Notes", "reminders": "Reminders", "messages": "Messages",
            "zoom": "Zoom"}

_ERROR_RE = re.compile(r"(?P<kind>execution|syntax) error: (?P<message>.*?)\s*\((?P<code>-?\d+)\)\s*$", re.S)
_AUTOMATION = "System Settings › Privacy & Security › Automation"


def encode_arg(value: Any) -> str:
    """One argv item for osascript (see the module docstring for the encoding)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(encode_arg(v).replace(LIST_SEPARATOR, " ") for v in value)
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return date_text(value)
    return str(value).replace("\x00", "")


def explain_osascript_error(stderr: str, returncode: int, tool: str, app: str) -> str:
    """osascript's stderr as a message a user can act on (including the macOS permission prompts)."""
    text = stderr.strip()
    match = _ERROR_RE.search(text)
    if not match:
        last = text.splitlines()[-1] if text else "no error output"
        return f"{tool}: osascript failed (exit status {returncode}): {last}"
    message, code = match.group("message").strip(), int(match.group("code"))
    if match.group("kind") == "syntax":
        return (f"{tool}: the AppleScript for this tool does not compile on this macOS ({message}, {code}); "
                f"please report it")
    if code in (-1743, -1744):
        return (f"{tool}: macOS did not let tinyagent control {app} ({code}). Open {_AUTOMATION}, "
                f"find the terminal app you run tinyagent in, turn on {app} under it, then try again.")
    if code in (-600, -609):
        return f"{tool}: {app} is not running or could not be reached ({code}). Open {app} and try again."
    if code == -1712:
        return (f"{tool}: {app} did not answer in time (-1712); it may be busy or showing a dialog. "
                f"Check {app} and try again.")
    if code == -1728:
        return f"{tool}: {app} could not find what it was asked for (-1728): {message}"
    if code == -1719:
        return (f"{tool}: {app} could not get an item by its index (-1719): {message}. If {app} needs "
                f"UI control, allow your terminal app in System Settings › Privacy & Security › Accessibility.")
    if code == -25211:
        return (f"{tool}: UI control of {app} is not allowed (-25211). Allow your terminal app in "
                f"System Settings › Privacy & Security › Accessibility.")
    if code == -128:
        return f"{tool}: cancelled in {app} (-128)."
    if code in (-10810, -10814, -10660):
        return f"{tool}: {app} could not be launched ({code}); is it installed?"
    if code == -1708:
        return f"{tool}: {app} did not understand the request (-1708); this macOS version may not support it."
    if code == -2700 or code >= 1000:  # errors our scripts raise on purpose: their message says it all
        return f"{tool}: {message}"
    return f"{tool}: {app} reported an error: {message} ({code})"


def notes_html(text: str) -> str:
    """Plain text as the HTML Notes stores: one <div> per line, so line breaks survive."""
    lines = text.splitlines() or [""]
    return "".join(f"<div>{html.escape(line) if line else '<br>'}</div>" for line in lines)


class AppleScriptBackend(BaseBackend):
    name = "applescript"

    def __init__(self, writer: ContentWriter | None = None, *, osascript: str = "/usr/bin/osascript",
                 scripts_dir: Path | str | None = None, timeout: float = 20.0, zoom: ZoomClient | None = None,
                 mdfind: str = "/usr/bin/mdfind", search_root: Path | str | None = None):
        super().__init__(writer)
        self.osascript = osascript
        self.scripts_dir = Path(scripts_dir) if scripts_dir else SCRIPTS_DIR
        self.timeout = timeout
        self.zoom = zoom
        self.mdfind = mdfind
        self.search_root = Path(search_root) if search_root else Path.home()

    def zoom_mode(self) -> str:
        return "" if self.zoom else "no Zoom token set: this will fail"

    # -- running things -------------------------------------------------------------------------
    def _run(self, argv: list[str], tool: str, app: str) -> str:
        """Run a command (no shell) with the timeout; on expiry kill it and everything it started."""
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, encoding="utf-8", errors="replace", start_new_session=True)
        except (FileNotFoundError, PermissionError) as exc:
            raise ToolError(f"{tool}: cannot run {argv[0]} ({exc.strerror}). The AppleScript backend needs "
                            f"macOS; elsewhere set 'backend: sandbox' in config.yaml") from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise ToolError(f"{tool}: {app} did not answer within {self.timeout:g} s (timeouts.applescript in "
                            f"config.yaml). If macOS is showing a permission prompt, answer it and try again.") from None
        if proc.returncode != 0:
            raise ToolError(explain_osascript_error(err, proc.returncode, tool, app))
        return out.strip()

    def run_script(self, tool: str, *args: Any) -> str:
        script = self.scripts_dir / f"{SCRIPTS[tool]}.applescript"
        if not script.is_file():
            raise ToolError(f"{tool}: the script {script} is missing; reinstall tinyagent")
        app = MAC_APPS[_app_of(tool)]
        return self._run([self.osascript, str(script), *(encode_arg(a) for a in args)], tool, app)

    # -- the tools --------------------------------------------------------------------------------
    def lookup_email(self, name: str) -> str | None:
        return self.run_script("get_email_address", name).strip() or None

    def lookup_phone(self, name: str) -> str | None:
        return self.run_script("get_phone_number", name).strip() or None

    def find_file(self, name: str) -> str | None:
        return str(pick_file(name, self._spotlight(name)))  # Spotlight only: nothing is opened

    def do_get_phone_number(self, a: dict, extras: dict) -> str:
        if A.looks_like_phone(a["name"]):
            return a["name"]
        return self.run_script("get_phone_number", a["name"])

    def do_get_email_address(self, a: dict, extras: dict) -> str:
        if A.looks_like_email(a["name"]):
            return a["name"]
        return self.run_script("get_email_address", a["name"])

    def do_create_calendar_event(self, a: dict, extras: dict) -> str:
        return self.run_script("create_calendar_event", a["title"], a["start_date"], a["end_date"], a["location"],
                               a["invitees"], a["notes"], a["calendar"])

    def _spotlight(self, query: str) -> list[Path]:
        words = query.split()
        terms = [query] + ([max(words, key=len)] if len(words) > 1 else [])
        for term in terms:
            out = self._run([self.mdfind, "-onlyin", str(self.search_root), "-name", term],
                            "open_and_get_file_path", "Spotlight")
            found = [Path(line) for line in out.splitlines() if line.strip()]
            found = [p for p in found if p.is_file() and not _hidden_or_library(p, self.search_root)]
            if found:
                return found
        return []

    def do_open_and_get_file_path(self, a: dict, extras: dict) -> str:
        path = str(pick_file(a["file_name"], self._spotlight(a["file_name"])))
        self.run_script("open_and_get_file_path", path)
        return path

    def do_summarize_pdf(self, a: dict, extras: dict) -> str:
        path, text = read_pdf_text(a["pdf_path"])
        try:
            return self.writer.summarize(text, title=path.stem)
        except Exception as exc:
            raise ToolError(f"summarize_pdf: could not summarize {path.name}: {exc}") from exc

    def do_compose_new_email(self, a: dict, extras: dict) -> str:
        return self.run_script("compose_new_email", a["recipients"], a["cc"], a["subject"], extras.get("body", ""),
                               a["attachments"])

    def do_reply_to_email(self, a: dict, extras: dict) -> str:
        return self.run_script("reply_to_email", a["cc"], extras.get("body", ""), a["attachments"])

    def do_forward_email(self, a: dict, extras: dict) -> str:
        return self.run_script("forward_email", a["recipients"], a["cc"], extras.get("body", ""), a["attachments"])

    def do_maps_open_location(self, a: dict, extras: dict) -> str:
        url = location_url(a["location"])
        self.run_script("maps_open_location", url)
        return url

    def do_maps_show_directions(self, a: dict, extras: dict) -> str:
        url = directions_url(a["start_location"], a["end_location"], a["transport"])
        self.run_script("maps_show_directions", url)
        return url

    def do_create_note(self, a: dict, extras: dict) -> str:
        body = f"<div><h1>{html.escape(a['name'])}</h1></div>" + notes_html(extras.get("content", ""))
        return self.run_script("create_note", a["name"], body, a["folder"])

    def do_open_note(self, a: dict, extras: dict) -> str:
        return self.run_script("open_note", a["name"], a["folder"])

    def do_append_note_content(self, a: dict, extras: dict) -> str:
        return self.run_script("append_note_content", a["name"], notes_html(extras.get("content", "")), a["folder"])

    def do_create_reminder(self, a: dict, extras: dict) -> str:
        return self.run_script("create_reminder", a["name"], a["due_date"], a["notes"], a["list_name"],
                               a["priority"], a["all_day"])

    def do_send_sms(self, a: dict, extras: dict) -> str:
        return self.run_script("send_sms", a["recipients"], a["message"])

    def do_get_zoom_meeting_link(self, a: dict, extras: dict) -> str:
        if self.zoom is None:
            raise ToolError("get_zoom_meeting_link: Zoom is not set up. Add an OAuth access token as zoom.token "
                            "in config.yaml (a made-up link would be sent to real people)")
        return self.zoom.create_meeting(a["topic"], a["start_time"], a["duration"], a["meeting_invitees"]).join_url


def _app_of(tool: str) -> str:
    from tools.registry import get_tool

    return get_tool(tool).app


def _hidden_or_library(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") for p in parts) or (len(parts) > 1 and parts[0] == "Library")
