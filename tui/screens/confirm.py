"""Asked before every task that changes something: what it is, what it will change, every
resolved argument in full; approve, deny, or approve the rest of this plan. Keyboard first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tinyagent.core.approval import ApprovalRequest, Decision
from tinyagent.core.sanitize import visible

EFFECT_WORDS = {
    "ui": "opens something on your screen", "draft": "prepares a message for you to send",
    "send": "sends something to other people", "write": "creates or changes your data",
    "network": "calls an online service", "read": "only looks something up",
    "external": "runs a tool of an MCP server",
}


def _text(value: Any) -> str:
    """A value as shown for approval: control and escape characters made visible (core.sanitize)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) if value else "(none)"
    if value is None or value == "":
        return "(none)"
    return visible(value, keep_newlines=True)


class ConfirmModal(ModalScreen[Decision]):
    BINDINGS = [
        # Same keys as the terminal prompt of `run-plan` / `ask`: y, n, a(ll).
        Binding("y", "decide('approve')", "Approve", id="confirm.approve"),
        Binding("n,escape", "decide('deny')", "Deny", id="confirm.deny"),
        Binding("a", "decide('approve_all')", "Approve rest of plan", id="confirm.approve_all"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request
        self.rows: list[tuple[str, str]] = []  # what the person is shown, as plain text

    def plain(self) -> str:
        call = self.request.call
        return "\n".join([call.tool.name, *self._server_line(), visible(call.summary),
                          *(f"{k}: {v}" for k, v in self.rows)])

    def _server_line(self) -> list[str]:
        """Whose tool this is, for a tool of an MCP server: a program the person chose to trust or not."""
        server = self.request.call.tool.server
        return [f"a tool of the MCP server {visible(server)}"] if server else []

    def compose(self) -> ComposeResult:
        call, task = self.request.call, self.request.task
        effect = call.tool.effect.value
        details = Table.grid(padding=(0, 1))
        details.add_column(style="bold", no_wrap=True)
        details.add_column(overflow="fold")
        shown = {_text(v) for v in call.args.values()}
        extras = [(k, v) for k, v in (call.extras or {}).items() if _text(v) not in shown]  # no repeats
        for name, value in [*call.args.items(), *extras]:
            self.rows.append((name, _text(value)))
            details.add_row(name, Text(_text(value)))
        with Vertical(id="confirm-box"):
            yield Label(Text.assemble(("Allow task ", ""), (f"{task.id}: {call.tool.name}", "bold"),
                                      ("?  ", ""), (f"[{effect}: {EFFECT_WORDS.get(effect, effect)}]", "italic")),
                        id="confirm-title")
            for line in self._server_line():
                yield Label(Text(line, style="bold"), id="confirm-server")
            yield Static(Text(visible(call.summary) or f"runs {call.tool.name}"), id="confirm-summary")
            with VerticalScroll(id="confirm-details"):
                yield Static(details)
            with Horizontal(id="confirm-buttons"):
                yield Button("Approve (y)", id="approve", variant="success")
                yield Button("Deny (n)", id="deny", variant="error")
                yield Button("Approve rest of plan (a)", id="approve_all", variant="warning")

    def on_mount(self) -> None:
        # Deny has the focus: the modal can open while the person types, and their Enter
        # must not approve a change they have not read. Approving takes y, a or a click.
        self.query_one("#deny", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_decide(event.button.id or "deny")

    def action_decide(self, decision: str) -> None:
        self.dismiss(Decision(decision))


async def ask_person(app: App, request: ApprovalRequest) -> Decision:
    """Show the modal on `app` (from its own loop) and wait for the person's decision; a
    cancelled wait (the run was stopped) closes the modal as a denial."""
    answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

    def done(decision: Decision | None) -> None:
        if not answer.done():
            answer.set_result(decision or Decision.DENY)

    modal = ConfirmModal(request)
    await app.push_screen(modal, done)
    try:
        return await answer
    except asyncio.CancelledError:
        if modal.is_attached and app.screen is modal:
            modal.dismiss(Decision.DENY)
        raise


class PersonApprover:
    """The core's approver in the app: each step that asks is shown in the confirmation modal,
    and the run waits for the person. `activity` tells the status line while it waits."""

    def __init__(self, app: App[Any], activity: Callable[[str], None]) -> None:
        self.app = app
        self.activity = activity
        self.loop: asyncio.AbstractEventLoop | None = None  # the app's own, set once it runs

    async def __call__(self, request: ApprovalRequest) -> Decision:
        if asyncio.get_running_loop() is not self.loop:  # a pipeline on a loop of its own, in a thread
            return await asyncio.to_thread(self.app.call_from_thread, self._confirm, request)
        return await self._confirm(request)

    async def _confirm(self, request: ApprovalRequest) -> Decision:
        self.activity("waiting for your approval")
        try:
            return await ask_person(self.app, request)
        finally:
            self.activity("running")
