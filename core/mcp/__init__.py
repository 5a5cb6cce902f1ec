"""Tools of Model Context Protocol servers: the client side (`McpHub`) and what it hands out.

Importing this package loads no MCP SDK; the hub loads it when a server is first used.
"""

from tinyagent.core.mcp.hub import McpHub
from tinyagent.core.mcp.model import McpError, McpOutput, McpToolInfo

__all__ = ["McpError", "McpHub", "McpOutput", "McpToolInfo"]
