"""What the hub hands out: a server's tools, a call's output, and its one kind of error.
Plain data, no MCP SDK, so the rest of the program can name them without loading it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tinyagent.core.sanitize import visible

MAX_REASON = 300  # characters of a server's own words kept in one error line


class McpError(Exception):
    """One clear line naming the server: it could not start, went away, or refused a call."""

    def __init__(self, server: str, reason: str):
        self.server, self.reason = server, reason
        super().__init__(f"mcp server {server!r}: {reason}")


@dataclass(frozen=True)
class McpToolInfo:
    server: str
    name: str  # the tool's name on its server
    description: str
    input_schema: dict[str, Any]
    read_only_hint: bool | None  # the server's claim (annotations.readOnlyHint), None when it makes none
    title: str | None = None


@dataclass(frozen=True)
class McpOutput:
    text: str  # the result as text (output.py says how); cut at mcp.max_output, with a line saying so
    is_error: bool  # the server's own tool error (isError): the call ran and failed


def one_line(text: object, limit: int = MAX_REASON) -> str:
    """A server's words fit for one line of ours: whitespace runs as one space, controls made
    visible (core/sanitize.py), cut at `limit`."""
    flat = visible(re.sub(r"\s+", " ", str(text)).strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
