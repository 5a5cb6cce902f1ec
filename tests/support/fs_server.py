"""The reference MCP filesystem server from npm (`.ci/setup --dev` installs it under .venv/mcp-node),
configured on a folder, and the processes still running with that folder in their command line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

_BIN = Path("mcp-node") / "node_modules" / ".bin" / "mcp-server-filesystem"


def filesystem_server() -> Path:
    """The server's program: the checkout's .venv, else the virtual environment running the tests."""
    for venv in (ROOT / ".venv", Path(sys.prefix)):
        if (venv / _BIN).exists():
            if shutil.which("node") is None:
                pytest.skip("node is not installed: the npm filesystem server cannot run")
            return venv / _BIN
    pytest.skip("the npm filesystem server is not installed (bash .ci/setup --dev installs it)")


def files_config(folder: Path, *, extra: str = "", server: str = "") -> str:
    """config.yaml text: the sandbox backend and the filesystem server as `files` on `folder`
    (`server`: more settings of the server, indented as its keys; `extra`: more top-level text)."""
    settings = "".join(f"      {line}\n" for line in server.splitlines() if line.strip())
    return (f"backend: sandbox\n{extra}mcp:\n  servers:\n    files:\n      command: {filesystem_server()}\n"
            f"      args: [{str(folder)!r}]\n{settings}")


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds `text` (Linux's /proc; [] where there is none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (entry / "cmdline").read_bytes() and (entry / "stat").read_text().split(") ")[1][0] != "Z":
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found
