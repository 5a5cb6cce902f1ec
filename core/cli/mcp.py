"""`tinyagent mcp list [--json]`: the configured MCP servers, whether each starts, and its tools.

Every enabled server is started (all at once, each within its startup_timeout) and stopped
again before the command ends, also on Ctrl-C. A server that fails is listed with its reason;
the exit status is then 1 (README's table: some step failed), 2 for a bad config.
"""

from __future__ import annotations

import argparse
import shlex
import threading
from typing import Any

from tinyagent.core.cli.common import config_from, print_json, say
from tinyagent.core.config import McpServerConfig, config_path
from tinyagent.core.mcp import McpError, McpHub, McpToolInfo

DESCRIPTION_WIDTH = 90  # characters of a tool's description on its line of the list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="MCP servers: their tools and status",
                       description='The servers of mcp.servers in config.yaml (README, "MCP servers").')
    actions = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    lst = actions.add_parser("list", help="start each enabled server, list its tools, stop it",
                             description="Exit 0 when every enabled server started, 1 when one failed "
                             "(it is listed with its reason), 2 for a bad config.")
    lst.add_argument("--json", action="store_true", help="print one JSON object")
    lst.set_defaults(func=list_command)


def _target(server: McpServerConfig) -> str:
    return server.url if server.url else shlex.join([server.command, *server.args])


def _tool_json(tool: McpToolInfo) -> dict[str, Any]:
    return {"name": tool.name, "title": tool.title, "description": tool.description,
            "read_only_hint": tool.read_only_hint, "input_schema": tool.input_schema}


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= DESCRIPTION_WIDTH else line[: DESCRIPTION_WIDTH - 1] + "…"


def _start_all(hub: McpHub) -> dict[str, list[McpToolInfo]]:
    """Each enabled server's tools, the servers started side by side (a hung one costs its own
    startup_timeout, not everyone's); a failed one is left out (hub.status() says why)."""
    found: dict[str, list[McpToolInfo]] = {}

    def start(name: str) -> None:
        try:
            found[name] = hub.tools(name)
        except McpError:
            pass

    threads = [threading.Thread(target=start, args=(name,), daemon=True) for name in hub.servers()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def list_command(args: argparse.Namespace) -> int:
    config = config_from(args)
    servers = config.mcp.servers
    hub = McpHub(config.mcp)
    try:
        tools = _start_all(hub)
        status = hub.status()
    finally:
        hub.close()
    failed = [name for name, state in status.items() if state.startswith("failed")]
    if args.json:
        print_json({"servers": [
            {"name": name, "transport": "http" if server.url else "stdio", "target": _target(server),
             "enabled": server.enabled, "trusted": server.trusted,
             "status": "failed" if name in failed else "disabled" if not server.enabled else "running",
             "error": status[name].removeprefix("failed: ") if name in failed else None,
             "tools": [_tool_json(t) for t in tools.get(name, [])]}
            for name, server in servers.items()]})
        return 1 if failed else 0
    if not servers:
        say(f"No MCP servers configured: add them under mcp.servers in {args.config or config_path()} "
            '(README, "MCP servers").')
        return 0
    for name, server in servers.items():
        state = status[name] if name in failed or not server.enabled else f"{len(tools.get(name, []))} tools"
        say(f"{name}  ({_target(server)})  {state}" + ("  trusted" if server.trusted else ""))
        listed = tools.get(name, [])
        width = max((len(t.name) for t in listed), default=0)
        for tool in listed:
            hint = "read-only hint" if tool.read_only_hint else ""
            say(f"  {tool.name:<{width}}  {hint:<14}  {_first_line(tool.description)}".rstrip())
    return 1 if failed else 0
