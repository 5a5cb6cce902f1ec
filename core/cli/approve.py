"""Asking in the terminal before a step changes anything (`run-plan`, `ask` without --yes)."""

from __future__ import annotations

import sys
from typing import TextIO

from tinyagent.core.approval import ApprovalRequest, Decision
from tinyagent.core.executor import run_in_daemon_thread
from tinyagent.core.plan import format_value
from tinyagent.core.sanitize import visible

_ANSWERS = {"y": Decision.APPROVE, "yes": Decision.APPROVE, "n": Decision.DENY, "no": Decision.DENY,
            "a": Decision.APPROVE_ALL, "all": Decision.APPROVE_ALL}


def describe_request(request: ApprovalRequest) -> str:
    """What the person approves, every character visible (core.sanitize): nothing can rewrite it."""
    call = request.call
    server = f", a tool of the MCP server {visible(call.tool.server)}" if call.tool.server else ""
    lines = [f"Task {request.task.id}: {call.tool.name} ({request.effect.value}{server})"]
    if call.summary:
        lines.append(f"  {visible(call.summary)}")
    for name, value in call.args.items():
        shown = value if isinstance(value, str) else format_value(value) if value is not None else "None"
        lines.append(f"  {name}: {visible(shown)}")
    for name, value in call.extras.items():
        lines.append(f"  {name}:")
        lines.extend(f"    {line}" for line in visible(value, keep_newlines=True).split("\n"))
    return "\n".join(lines)


def _open_terminal() -> TextIO | None:
    """Where to read answers: stdin if it is a terminal, else the controlling tty, else nothing."""
    if sys.stdin is not None and sys.stdin.isatty():
        return sys.stdin
    try:
        return open("/dev/tty", encoding="utf-8")  # stdin may carry the plan itself (`run-plan -`)
    except OSError:
        return None


class TerminalApprover:
    """Async approver that asks y/n/a on the terminal; with no terminal it declines."""

    def __init__(self, out: TextIO = sys.stderr):
        self.out = out
        self._tty: TextIO | None = None
        self._warned = False

    async def __call__(self, request: ApprovalRequest) -> Decision:
        # A daemon thread: one blocked on the terminal must not keep the process alive after Ctrl-C.
        return await run_in_daemon_thread(self._ask, request)

    def _ask(self, request: ApprovalRequest) -> Decision:
        print(describe_request(request), file=self.out)
        if self._tty is None:
            self._tty = _open_terminal()
        if self._tty is None:
            if not self._warned:
                print("  no terminal to ask: declined (use --yes to approve, or --dry-run to preview)", file=self.out)
                self._warned = True
            return Decision.DENY
        while True:
            print("  Run it? [y]es / [n]o / [a]ll remaining: ", end="", file=self.out, flush=True)
            line = self._tty.readline()
            if not line:
                print("\n  no answer: declined", file=self.out)
                return Decision.DENY
            answer = _ANSWERS.get(line.strip().lower())
            if answer is not None:
                return answer
