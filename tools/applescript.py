"""The macOS backend: each tool runs one script from `applescripts/` with `osascript`.

Arguments are passed as osascript's argv (`on run argv`), never pasted into script text, so
no input can change what a script does. Encoding of argv items:
  - text: as is (NUL characters, which argv cannot carry, are dropped);
  - list[str]: one item, entries joined by ASCII 31 (unit separator); "" is the empty list;
  - dates: "YYYY-MM-DD HH:MM:SS"; int: decimal; bool: "true" / "false".
File search uses Spotlight (`mdfind`), PDF text is read in Python, Zoom goes through its API.
Which script a tool runs, with which arguments, is the tool's `applescript` handler
(tools/specs/); this module runs scripts and explains their failures.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

from tinyagent.tools.backend import ContentWriter, OutcomeUnknown, ToolError, current_guard
from tinyagent.tools.base import BaseBackend, date_text
from tinyagent.tools.files import pick_file
from tinyagent.tools.spec import Run, ToolSpec
from tinyagent.tools.zoom import ZoomClient

LIST_SEPARATOR = "\x1f"
MAX_ARG_BYTES = 100 * 1024
SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "applescripts"

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
    def _run(self, argv: list[str], tool: str, app: str, *, changes: bool = False) -> str:
        """Run a command (no shell) with the timeout; on expiry kill it and everything it started.

        `changes`: the script changes something, so once it has started, a kill (timeout or the
        executor abandoning the call) leaves its outcome unknown and is reported so.
        """
        guard = current_guard()
        if changes and guard is not None:
            guard.begin_effect()  # raises CallStopped if the call was abandoned before it began
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                    errors="replace", start_new_session=True)
        except (FileNotFoundError, PermissionError) as exc:
            raise ToolError(f"{tool}: cannot run {argv[0]} ({exc.strerror}). The AppleScript backend needs "
                            f"macOS; elsewhere set 'backend: sandbox' in config.yaml") from None
        except OSError as exc:  # e.g. E2BIG: argv too long
            raise ToolError(f"{tool}: cannot start {argv[0]}: {exc.strerror or exc}") from None

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        unregister = guard.on_abandon(kill) if guard is not None else (lambda: None)
        try:
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                kill()
                proc.communicate()
                if changes:
                    raise OutcomeUnknown(f"{tool}: {app} did not answer within {self.timeout:g} s and was stopped; "
                                         f"the change may or may not have happened: check {app}") from None
                raise ToolError(f"{tool}: {app} did not answer within {self.timeout:g} s (timeouts.applescript in "
                                f"config.yaml). If macOS is showing a permission prompt, answer it and try again.") from None
        finally:
            unregister()
        if (guard is not None and guard.abandoned) or proc.returncode == -signal.SIGKILL:  # we stopped it
            if changes:
                raise OutcomeUnknown(f"{tool}: stopped while {app} was working on it; the change may or may not "
                                     f"have happened: check {app}")
            raise ToolError(f"{tool}: stopped before {app} answered")
        if proc.returncode != 0:
            raise ToolError(explain_osascript_error(err, proc.returncode, tool, app))
        return out.strip()

    def run_script(self, tool: ToolSpec, *args: Any) -> str:
        """Run the tool's script with these arguments (argv, never source text)."""
        app = MAC_APPS.get(tool.app, tool.app.title())
        return self.run_named_script(tool.script, tool.name, app, args, changes=tool.effect.changes_something)

    def run_named_script(self, stem: str, tool: str, app: str, args: tuple[Any, ...] | list[Any], *,
                         changes: bool) -> str:
        if not stem:  # a spec whose AppleScript handler runs a script must name it
            raise ToolError(f"{tool}: this tool names no AppleScript to run (ToolSpec.script)")
        script = self.scripts_dir / f"{stem}.applescript"
        if not script.is_file():
            raise ToolError(f"{tool}: the script {script} is missing; reinstall tinyagent")
        argv = [encode_arg(a) for a in args]
        for i, item in enumerate(argv, start=1):
            size = len(item.encode("utf-8"))
            if size > MAX_ARG_BYTES:  # the OS refuses longer argv items (Linux: 128 KiB each)
                raise ToolError(f"{tool}: argument {i} is {size // 1024} KiB; {app} can be given at most "
                                f"{MAX_ARG_BYTES // 1024} KiB per argument. Shorten it and try again.")
        return self._run([self.osascript, str(script), *argv], tool, app, changes=changes)

    def handler(self, tool: ToolSpec) -> Run | None:
        return tool.applescript

    # -- lookups for names where addresses, numbers or paths belong (read-only) ------------------------
    def lookup_email(self, name: str) -> str | None:
        return self.run_named_script("get_email_address", "get_email_address", MAC_APPS["contacts"], [name],
                                     changes=False) or None

    def lookup_phone(self, name: str) -> str | None:
        return self.run_named_script("get_phone_number", "get_phone_number", MAC_APPS["contacts"], [name],
                                     changes=False) or None

    def find_file(self, name: str) -> str | None:
        return str(pick_file(name, self.spotlight(name)))  # Spotlight only: nothing is opened

    def spotlight(self, query: str) -> list[Path]:
        """Files under the search root whose names match `query` (the whole query, then its longest word)."""
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


def _hidden_or_library(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") for p in parts) or (len(parts) > 1 and parts[0] == "Library")
