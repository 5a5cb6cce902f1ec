"""`tinyagent mcp list [--json]` in a child process, as a user runs it, against our odd server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.support.cli import tinyagent
from tests.support.processes import alive

ODD = ROOT / "tests" / "support" / "mcp_servers" / "odd_server.py"


def _config(tmp_path, marks) -> str:
    marks.mkdir()
    server = f"command: {json.dumps(sys.executable)}\n      env: {{ODD_SERVER_MARKS: {json.dumps(str(marks))}}}"
    path = tmp_path / "config.yaml"
    path.write_text(f"""mcp:
  servers:
    odd:
      {server}
      args: [{json.dumps(str(ODD))}]
      trusted: true
    dead:
      {server}
      args: [{json.dumps(str(ODD))}, exit-at-start]
    off:
      command: never-started
      enabled: false
""")
    return str(path)


def test_the_list_shows_each_server_its_tools_and_why_one_failed(tmp_path):
    marks = tmp_path / "marks"
    out = tinyagent("mcp", "list", config=_config(tmp_path, marks), timeout=120)
    assert out.returncode == 1, out.stderr  # a server failed: listed, and exit 1 (README: some step failed)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("odd  (") and lines[0].endswith("  12 tools  trusted")
    echo = next(line for line in lines if line.startswith("  echo "))
    assert echo.split() == ["echo", "read-only", "hint", "Says", "the", "text", "back."]
    assert any(line.split() == ["add", "Adds", "two", "whole", "numbers."] for line in lines)
    injected = next(line for line in lines if line.startswith("  search_notes "))
    assert injected.endswith("…") and len(injected) < 140  # one line of a long description
    assert any(line.startswith("dead  (") and line.endswith(
        "failed: exited while starting; its last words on stderr: odd server: refusing to start (exit-at-start)")
        for line in lines)
    assert lines[-1].startswith("off  (never-started)  disabled")
    assert out.stderr == ""
    # both servers were started (each wrote its pid) and are gone with the command
    pids = [int(p) for p in (marks / "pids").read_text().split()]
    assert len(pids) == 2 and not any(alive(p) for p in pids)


def test_the_json_list(tmp_path):
    out = tinyagent("mcp", "list", "--json", config=_config(tmp_path, tmp_path / "marks"), timeout=120)
    assert out.returncode == 1, out.stderr
    servers = {s["name"]: s for s in json.loads(out.stdout)["servers"]}
    assert list(servers) == ["odd", "dead", "off"]
    odd = servers["odd"]
    assert (odd["status"], odd["error"], odd["transport"], odd["trusted"]) == ("running", None, "stdio", True)
    tools = {t["name"]: t for t in odd["tools"]}
    assert tools["echo"]["read_only_hint"] is True and tools["add"]["read_only_hint"] is None
    assert tools["add"]["input_schema"]["required"] == ["a", "b"]
    assert servers["dead"]["status"] == "failed" and servers["dead"]["tools"] == []
    assert servers["dead"]["error"].startswith("exited while starting")
    assert servers["off"]["status"] == "disabled" and servers["off"]["enabled"] is False


def test_every_server_up_is_exit_0_and_no_server_is_said(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text(f"mcp:\n  servers:\n    odd:\n      command: {json.dumps(sys.executable)}\n"
                    f"      args: [{json.dumps(str(ODD))}]\n")
    assert tinyagent("mcp", "list", config=path, timeout=120).returncode == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("dry_run: false\n")
    out = tinyagent("mcp", "list", config=empty)
    assert out.returncode == 0 and out.stdout.startswith("No MCP servers configured: add them under mcp.servers in ")


def test_a_bad_server_entry_is_a_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("mcp:\n  servers:\n    files:\n      command: npx\n      url: https://example.com/mcp\n")
    out = tinyagent("mcp", "list", config=path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (f"tinyagent: bad config: {path}, line 3: mcp.servers.files: has both a command and a url; "
                          "a server is one or the other\n")


@pytest.mark.slow
def test_ctrl_c_while_a_server_starts_ends_it_and_its_child(tmp_path):
    """The hung server ignores SIGTERM and never reads stdin: only the process-group kill of the
    hub's close() ends it, and that must run on Ctrl-C too."""
    marks = tmp_path / "marks"
    marks.mkdir()
    path = tmp_path / "hang.yaml"
    path.write_text(f"mcp:\n  servers:\n    hung:\n      command: {json.dumps(sys.executable)}\n"
                    f"      args: [{json.dumps(str(ODD))}, hang-at-start]\n"
                    f"      env: {{ODD_SERVER_MARKS: {json.dumps(str(marks))}}}\n      startup_timeout: 300\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "tinyagent.core.cli", "--config", str(path), "mcp", "list"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len((marks / "pids").read_text().split() if (marks / "pids").exists() else []) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "the server never started"
            time.sleep(0.05)
        pids = [int(p) for p in (marks / "pids").read_text().split()]
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err == "tinyagent: interrupted\n"
    assert not any(alive(p) for p in pids)
