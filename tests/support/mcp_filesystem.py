"""The reference MCP filesystem server (npm @modelcontextprotocol/server-filesystem), as `.ci/setup --dev`
installs it into the virtual environment, configured on one folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tinyagent.core.config import Config, McpServerConfig

BINARY = Path("mcp-node/node_modules/.bin/mcp-server-filesystem")


def filesystem_server() -> Path:
    """The server's program, from this checkout's .venv or the venv running the tests; skips without one."""
    for venv in (ROOT / ".venv", Path(sys.prefix)):
        if (venv / BINARY).is_file():
            return venv / BINARY
    pytest.skip("the MCP filesystem server is not installed (bash .ci/setup --dev installs it)")


def with_files(config: Config, folder: Path, name: str = "files") -> Config:
    """`config` with the filesystem server on `folder` as MCP server `name`."""
    config.mcp.servers[name] = McpServerConfig(command=str(filesystem_server()), args=[str(folder)])
    return config


def yaml_for(folder: Path, *, prompt: str = "compact", apps: str = "[contacts, messages, notes]",
             extra: str = "") -> str:
    """A config.yaml with the sandbox backend, `prompt` and the filesystem server on `folder`."""
    return (f"backend: sandbox\napps: {apps}\nplanner: {{prompt: {prompt}, max_replans: 0}}\n{extra}"
            f"mcp:\n  servers:\n    files:\n      command: {filesystem_server()}\n      args: [\"{folder}\"]\n")
