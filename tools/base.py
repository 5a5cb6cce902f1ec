"""What every backend shares: checking a call's arguments, writing its text, describing it.

`prepare` never changes anything (it also runs for dry runs and the approval prompt); it only
reads. `invoke` re-checks the arguments (cheap, and a call may arrive unprepared) and runs
the tool's handler for this backend (`ToolSpec.sandbox` / `ToolSpec.applescript`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tinyagent.tools import args as A
from tinyagent.tools.backend import WRITER_ERRORS, Backend, ContentWriter, PlainWriter, ToolCall, ToolError, guarded
from tinyagent.tools.spec import EMAIL, PATH, PHONE, Args, Extras, Run, ToolSpec


def checked_args(call: ToolCall) -> Args:
    """The call's arguments, typed and validated by the tool's own check; dates become `datetime`s."""
    a = A.coerce_args(call.tool, call.args)
    call.tool.check(a)
    return a


def _has_digits(text: str) -> bool:
    """TinyAgent's test for "already a phone number": it has a digit."""
    return any(c.isdigit() for c in text)


def _is_file(text: str) -> bool:
    return os.path.isfile(os.path.expanduser(text))


class BaseBackend(Backend):
    """prepare/invoke for every tool; a subclass names the ToolSpec field holding its handlers."""

    name = "base"
    honours_guard = True  # every change goes through begin_effect() (see tools.backend.CallGuard)

    def __init__(self, writer: ContentWriter | None = None):
        self.writer: ContentWriter = writer or PlainWriter()

    # -- hooks a backend may override (all read-only) -----------------------------------------
    def display_name(self, address: str) -> str | None:
        """The contact name behind an email address or phone number, if known."""
        return None

    def selected_email(self) -> dict[str, str] | None:
        """{"sender", "subject", "body"} of the email reply/forward would use, if it can be known now."""
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

    def handler(self, tool: ToolSpec) -> Run | None:
        """The function that runs `tool` on this backend (None: this backend cannot)."""
        return None

    # -- the protocol -----------------------------------------------------------------------------
    def prepare(self, call: ToolCall) -> ToolCall:
        self._resolve_names(call)
        a = checked_args(call)
        self._write_text(call, a)
        describe = call.tool.describe
        call.summary = describe(self, a, call.extras) if describe else f"Run {call.tool.name}"
        looked_up = call.extras.get("resolved") or {}
        if looked_up:  # the confirmation says what a name was taken to mean
            call.summary += " (looked up: " + ", ".join(f"{k} → {v}" for k, v in looked_up.items()) + ")"
        return call

    def invoke(self, call: ToolCall) -> Any:
        if not call.summary:
            self.prepare(call)
        a = checked_args(call)
        run = self.handler(call.tool)
        if run is None:
            raise ToolError(f"{call.tool.name}: the {self.name} backend cannot run this tool")
        with guarded(call):
            return self.run_tool(run, call, a)

    def run_tool(self, run: Run, call: ToolCall, a: Args) -> Any:
        """The one place a handler runs (a test's subclass may wrap it)."""
        return run(self, a, call.extras)

    # -- names where addresses, numbers or paths belong ---------------------------------------------
    def _resolve_names(self, call: ToolCall) -> None:
        checks: dict[str, tuple[Callable[[str], bool], Callable[[str], str | None]]] = {
            EMAIL: (A.looks_like_email, self.lookup_email),
            PHONE: (_has_digits, self.lookup_phone),
            PATH: (_is_file, self.find_file),
        }
        fields = [(p.name, *checks[p.resolve]) for p in call.tool.params if p.resolve in checks]
        if not fields:
            return
        typed = A.coerce_args(call.tool, call.args)
        resolved: dict[str, str] = {}
        changed: dict[str, Any] = {}
        for field, fine, lookup in fields:
            value = typed[field]
            values = value if isinstance(value, list) else [value]
            out = [self._resolve_one(v, fine, lookup, resolved) for v in values]
            if out != values:
                changed[field] = out if isinstance(value, list) else out[0]
        if changed:
            call.args = {**call.args, **changed}
            call.extras["resolved"] = {**call.extras.get("resolved", {}), **resolved}

    @staticmethod
    def _resolve_one(value: str, fine: Callable[[str], bool], lookup: Callable[[str], str | None],
                     resolved: dict[str, str]) -> str:
        if not isinstance(value, str) or not value.strip() or fine(value):
            return value
        try:
            found = lookup(value.strip())
        except ToolError:  # not found: the check that follows says what is wrong
            found = None
        if not found or not fine(found):  # a lookup that gave no usable value changes nothing
            return value
        resolved[value] = found
        return found

    # -- text written by the ContentWriter ---------------------------------------------------------
    def _write_text(self, call: ToolCall, a: Args) -> None:
        try:
            call.extras.update(call.tool.write(self, a, call.request))
        except WRITER_ERRORS as exc:  # a model-backed writer failing must not crash the executor
            raise ToolError(f"{call.tool.name}: could not write the text: {exc}") from exc

    # -- pieces of one-line descriptions --------------------------------------------------------------
    def who(self, addresses: list[str]) -> str:
        shown = []
        for address in addresses:
            person = self.display_name(address)
            shown.append(f"{person} ({address})" if person else address)
        return ", ".join(shown)

    def summarize_text(self, text: str, path: Path) -> str:
        """The writer's summary of a document's text (summarize_pdf on every backend)."""
        try:
            return self.writer.summarize(text, title=path.stem)
        except WRITER_ERRORS as exc:
            raise ToolError(f"summarize_pdf: could not summarize {path.name}: {exc}") from exc


def date_text(value: datetime | None) -> str:
    return A.format_date(value) if value else ""


def extras_text(extras: Extras, key: str) -> str:
    """Text `prepare` wrote for the call ("" when it wrote none)."""
    return str(extras.get(key, ""))
