"""A stand-in for the MCP hub (core/mcp/hub.py): its interface, with tools from a table and calls
answered from a list, and no process. For the tests of what is built on the hub's answers."""

from __future__ import annotations

from typing import Any

from tinyagent.core.config import Config, McpConfig, McpServerConfig
from tinyagent.core.mcp import McpError, McpHub, McpOutput, McpToolInfo

# The reference filesystem server's schemas for two of its tools, as it lists them.
FS_READ = {"type": "object", "properties": {
    "path": {"type": "string"},
    "tail": {"description": "If provided, returns only the last N lines of the file", "type": "number"},
    "head": {"description": "If provided, returns only the first N lines of the file", "type": "number"}},
    "required": ["path"]}
FS_WRITE = {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"]}


class StandInHub(McpHub):
    """The hub's interface: tools from `tools` (server -> its tools), calls answered from `answers`."""

    def __init__(self, tools: dict[str, list[McpToolInfo]], *, failing: dict[str, str] | None = None,
                 answers: list[McpOutput | Exception] | None = None):
        super().__init__(McpConfig())
        self.table, self.failing = tools, failing or {}
        self.answers = list(answers or [])
        self.calls: list[tuple[str, str, dict[str, Any], Any]] = []

    def servers(self) -> list[str]:
        return [*self.table, *self.failing]

    def tools(self, server: str) -> list[McpToolInfo]:
        if server in self.failing:
            raise McpError(server, self.failing[server])
        return self.table[server]

    def call(self, server: str, tool: str, arguments: dict[str, Any], *, on_abandon: Any = None) -> McpOutput:
        self.calls.append((server, tool, arguments, on_abandon))
        answer = self.answers.pop(0) if self.answers else McpOutput("ok", False)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


def tool(name: str, schema: dict[str, Any], *, server: str = "files", description: str = "",
         read_only: bool | None = None) -> McpToolInfo:
    return McpToolInfo(server, name, description, schema, read_only)


def config(**servers: McpServerConfig) -> Config:
    cfg = Config()
    cfg.mcp.servers.update(servers or {"files": McpServerConfig(command="mcp-server-filesystem")})
    return cfg
