"""McpHub against real servers: our own odd one (tests/support/mcp_servers/odd_server.py, the SDK's
MCPServer) for every fault, and the reference filesystem server from npm (`.ci/setup --dev`).
Each fault is one McpError line naming the server, and no process of the server is left."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.fs_server import filesystem_server
from tests.support.mcp_servers.odd_server import INJECTION, PNG
from tests.support.processes import alive, descendants
from tinyagent.core.config import McpConfig, McpServerConfig
from tinyagent.core.mcp import McpError, McpHub
from tinyagent.tools.backend import CallGuard

ODD = ROOT / "tests" / "support" / "mcp_servers" / "odd_server.py"
HUNG = ODD.with_name("hung_server.py")
BIG = 10 * 1024 * 1024 // 1025 * 1025  # the characters of big(10): 10230 lines of 1025


def wait_for(condition, what: str, seconds: float = 20.0) -> None:
    """Polls until `condition()` holds: the end of something we do not control the moment of."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds} s")
        time.sleep(0.05)


class Odd:
    """One odd server's settings and the folder where it leaves its marks."""

    def __init__(self, folder: Path, mode: str = "normal", **settings):
        self.marks = folder
        folder.mkdir(parents=True, exist_ok=True)
        env = {"ODD_SERVER_MARKS": str(folder), **settings.pop("env", {})}
        self.config = McpServerConfig(command=sys.executable, args=[str(ODD), mode], env=env, **settings)

    def pids(self) -> list[int]:
        path = self.marks / "pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def mark(self, name: str) -> bool:
        return (self.marks / name).exists()


@pytest.fixture
def odd(tmp_path):
    return lambda name="odd", mode="normal", **settings: Odd(tmp_path / "marks" / name, mode, **settings)


@pytest.fixture
def hub_of(tmp_path):
    hubs = []

    def make(servers: dict[str, McpServerConfig], max_output: int = 100_000) -> McpHub:
        hub = McpHub(McpConfig(max_output=max_output, servers=servers), log_dir=tmp_path / "logs")
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


def _one_line_naming(exc: McpError, server: str) -> str:
    text = str(exc)
    assert "\n" not in text and text.startswith(f"mcp server {server!r}: ")
    return text


# -- starting, listing, calling --------------------------------------------------------------------
def test_nothing_starts_before_first_use(odd, hub_of):
    server = odd()
    before = descendants()
    hub = hub_of({"odd": server.config})
    assert hub.servers() == ["odd"] and hub.status() == {"odd": "not started"}
    assert not any(t.name == "mcp-hub" for t in threading.enumerate())
    assert descendants() == before and server.pids() == []

    hub.tools("odd")
    assert hub.status() == {"odd": "running"}
    [pid] = server.pids()
    assert pid in descendants()


def test_tools_come_with_their_schema_hints_and_descriptions_as_given(odd, hub_of):
    tools = {t.name: t for t in hub_of({"odd": odd().config}).tools("odd")}
    assert {"echo", "add", "fail", "crash", "sleep", "big", "image", "stats", "move_note", "search_notes"} <= set(tools)
    assert tools["echo"].read_only_hint is True and tools["add"].read_only_hint is None
    assert tools["add"].server == "odd" and tools["add"].description == "Adds two whole numbers."
    assert tools["add"].input_schema["required"] == ["a", "b"]
    assert tools["add"].input_schema["properties"]["a"]["type"] == "integer"
    assert tools["move_note"].input_schema["required"] == ["note", "folder"]  # an object parameter (helper B refuses it)
    # An injection attempt is handed on as the server wrote it: what to make of it is the caller's business.
    assert tools["search_notes"].description == INJECTION and tools["search_notes"].read_only_hint is True


def test_a_call_gives_its_output_as_text(odd, hub_of):
    hub = hub_of({"odd": odd().config})
    assert hub.call("odd", "echo", {"text": "hello"}).text == "hello"
    assert hub.call("odd", "add", {"a": 2, "b": 40}).text == "42"
    stats = hub.call("odd", "stats", {"folder": "notes"})
    assert json.loads(stats.text) == {"folder": "notes", "files": 3, "names": ["a.txt", "b.txt", "c.txt"]}
    assert hub.call("odd", "structured_only", {}).text == json.dumps({"temperature": 21.5, "unit": "C"})
    image = hub.call("odd", "image", {})
    assert image.text == f"[image: image/png, {len(PNG)} bytes]" and not image.is_error


def test_a_tool_error_is_the_output_not_an_exception(odd, hub_of):
    hub = hub_of({"odd": odd().config})
    out = hub.call("odd", "fail", {"reason": "the disk is full"})
    assert out.is_error and "the disk is full" in out.text
    assert hub.call("odd", "echo", {"text": "still here"}).text == "still here"


def test_a_10_mb_output_is_cut_at_max_output_and_says_so(odd, hub_of):
    out = hub_of({"odd": odd().config}, max_output=1000).call("odd", "big", {"megabytes": 10})
    kept, note = out.text.split("\n[cut: ")
    assert kept == ("0123456789abcdef" * 64 + "\n" + "0123456789abcdef" * 64)[:1000]
    assert note == f"{BIG - 1000:,} of {BIG:,} characters not shown (mcp.max_output is 1,000)]"


def test_calls_from_many_threads_share_one_server(odd, hub_of):
    server = odd()
    hub = hub_of({"odd": server.config})
    answers: dict[int, str] = {}

    def ask(n: int) -> None:
        answers[n] = hub.call("odd", "echo", {"text": f"call {n}"}).text

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == {n: f"call {n}" for n in range(8)}
    assert len(server.pids()) == 1  # started once


# -- faults: one line each, nothing left behind -------------------------------------------------------
def test_a_server_that_exits_at_start(odd, hub_of):
    server = odd("dead", "exit-at-start")
    hub = hub_of({"dead": server.config})
    with pytest.raises(McpError) as info:
        hub.tools("dead")
    assert _one_line_naming(info.value, "dead") == (
        "mcp server 'dead': exited while starting; its last words on stderr: odd server: refusing to start (exit-at-start)")
    [pid] = server.pids()
    assert not alive(pid)
    assert hub.status()["dead"] == "failed: " + info.value.reason
    with pytest.raises(McpError, match="exited while starting"):  # failed stays failed: not started again
        hub.call("dead", "echo", {"text": "x"})
    assert server.pids() == [pid]


def test_a_command_that_cannot_run(hub_of, tmp_path):
    hub = hub_of({"nope": McpServerConfig(command=str(tmp_path / "no-such-server"))})
    with pytest.raises(McpError) as info:
        hub.tools("nope")
    assert _one_line_naming(info.value, "nope").endswith(f"cannot start {str(tmp_path / 'no-such-server')!r}: "
                                                         "No such file or directory")


@pytest.mark.slow
def test_a_server_that_hangs_at_start_is_ended_with_its_child(odd, hub_of):
    server = odd("hung", startup_timeout=3.0)
    server.config = replace(server.config, args=[str(HUNG)])  # starts its child at once (stdlib only)
    hub = hub_of({"hung": server.config})
    with pytest.raises(McpError) as info:
        hub.tools("hung")
    assert _one_line_naming(info.value, "hung") == "mcp server 'hung': did not answer within 3 s of starting (startup_timeout)"
    pids = server.pids()
    assert len(pids) == 2  # the server and the child it started; it ignores SIGTERM and never reads stdin
    assert not any(alive(p) for p in pids)  # gone before the error was raised, not only at close()


def test_a_server_that_exits_mid_call(odd, hub_of):
    server = odd()
    hub = hub_of({"odd": server.config})
    with pytest.raises(McpError) as info:
        hub.call("odd", "crash", {})
    assert _one_line_naming(info.value, "odd") == ("mcp server 'odd': exited during the call to crash; its last "
                                                   "words on stderr: odd server: crashing in the middle of a call")
    wait_for(lambda: not alive(server.pids()[0]), "the crashed server to be reaped")
    assert hub.status()["odd"].startswith("failed: exited during the call to crash")
    with pytest.raises(McpError, match="exited during the call to crash"):
        hub.call("odd", "echo", {"text": "anyone?"})


@pytest.mark.slow
def test_a_server_that_ignores_the_end_of_its_input_is_ended_by_close_with_its_child(odd, hub_of):
    server = odd("stubborn", "stubborn")
    hub = hub_of({"stubborn": server.config})
    assert hub.call("stubborn", "add", {"a": 1, "b": 1}).text == "2"
    pids = server.pids()
    assert len(pids) == 2 and all(alive(p) for p in pids)
    hub.close()
    assert not any(alive(p) for p in pids)


def test_a_call_past_its_call_timeout_is_cancelled_on_the_server(odd, hub_of):
    server = odd(call_timeout=1.0)
    hub = hub_of({"odd": server.config})
    with pytest.raises(McpError) as info:
        hub.call("odd", "sleep", {"seconds": 60, "tag": "late"})
    assert _one_line_naming(info.value, "odd") == (
        "mcp server 'odd': sleep did not answer within 1 s (call_timeout); the call was cancelled")
    wait_for(lambda: server.mark("cancelled-late"), "the server to see the cancellation")
    assert hub.call("odd", "echo", {"text": "next"}).text == "next"


def test_an_abandoned_call_is_cancelled_on_the_server(odd, hub_of):
    server = odd()
    hub = hub_of({"odd": server.config})
    guard, failures = CallGuard(), []

    def call() -> None:
        try:
            hub.call("odd", "sleep", {"seconds": 60, "tag": "gone"}, on_abandon=guard.on_abandon)
        except McpError as exc:
            failures.append(str(exc))

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: server.mark("started-gone"), "the call to reach the server")
    guard.abandon()
    caller.join(30)
    assert failures == ["mcp server 'odd': the call to sleep was stopped"]
    wait_for(lambda: server.mark("cancelled-gone"), "the server to see the cancellation")
    assert hub.call("odd", "echo", {"text": "next"}).text == "next"


def test_unknown_and_disabled_servers_are_one_line(odd, hub_of):
    hub = hub_of({"odd": odd().config, "off": odd("off", enabled=False).config})
    assert hub.servers() == ["odd"] and hub.status() == {"odd": "not started", "off": "disabled"}
    with pytest.raises(McpError, match=r"^mcp server 'off': is disabled \(enabled: false\)$"):
        hub.tools("off")
    with pytest.raises(McpError, match=r"^mcp server 'other': no such server in mcp.servers \(odd, off\)$"):
        hub.call("other", "echo", {"text": "x"})


def test_close_is_idempotent_and_final(odd, hub_of):
    server = odd()
    hub = hub_of({"odd": server.config, "idle": odd("idle").config})
    hub.tools("odd")
    [pid] = server.pids()
    hub.close()
    hub.close()
    assert not alive(pid)
    assert hub.status() == {"odd": "stopped", "idle": "stopped"}
    assert not any(t.name == "mcp-hub" for t in threading.enumerate())
    with pytest.raises(McpError, match="the MCP servers were stopped"):
        hub.tools("odd")


def test_a_hub_closed_before_first_use_started_nothing(odd, hub_of):
    server = odd()
    hub = hub_of({"odd": server.config})
    hub.close()
    assert server.pids() == [] and hub.status() == {"odd": "stopped"}


# -- a server at a URL ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "ODD_SERVER_TOKEN": "sesame"}
    with (tmp_path / "http.log").open("w") as log:
        process = subprocess.Popen([sys.executable, str(ODD), "http", str(port)], env=env, stdout=log, stderr=log)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, "the HTTP server to listen")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def test_a_server_at_a_url_gets_its_header_from_the_environment(http_server, hub_of, monkeypatch):
    monkeypatch.setenv("ODD_TOKEN", "Bearer sesame")
    monkeypatch.setenv("WRONG_TOKEN", "Bearer guess")
    monkeypatch.delenv("UNSET_TOKEN", raising=False)
    hub = hub_of({
        "web": McpServerConfig(url=http_server, headers_env={"Authorization": "ODD_TOKEN"}),
        "wrong": McpServerConfig(url=http_server, headers_env={"Authorization": "WRONG_TOKEN"}),
        "unset": McpServerConfig(url=http_server, headers_env={"Authorization": "UNSET_TOKEN"}),
        "closed": McpServerConfig(url=f"http://127.0.0.1:{_free_port()}/mcp"),
    })
    assert hub.call("web", "add", {"a": 20, "b": 22}).text == "42"
    for name, reason in (("wrong", "refused to start: "),
                         ("unset", "headers_env: the environment variable UNSET_TOKEN (for Authorization) is not set"),
                         ("closed", "cannot be reached at http://127.0.0.1:")):
        with pytest.raises(McpError) as info:
            hub.tools(name)
        assert _one_line_naming(info.value, name).startswith(f"mcp server {name!r}: {reason}")


# -- the reference filesystem server -------------------------------------------------------------------
def test_the_filesystem_server_reads_and_writes_its_folder_only(hub_of, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("buy milk\n")
    before = descendants()
    hub = hub_of({"files": McpServerConfig(command=str(filesystem_server()), args=[str(folder)])})
    tools = {t.name: t for t in hub.tools("files")}
    assert tools["read_text_file"].read_only_hint is True and not tools["write_file"].read_only_hint
    assert tools["read_text_file"].input_schema["required"] == ["path"]
    started = descendants() - before
    assert started

    assert hub.call("files", "read_text_file", {"path": str(folder / "todo.txt")}).text == "buy milk\n"
    wrote = hub.call("files", "write_file", {"path": str(folder / "done.txt"), "content": "milk bought"})
    assert not wrote.is_error and (folder / "done.txt").read_text() == "milk bought"
    outside = hub.call("files", "read_text_file", {"path": str(tmp_path / "secret.txt")})
    assert outside.is_error and "outside allowed directories" in outside.text

    hub.close()
    assert not any(alive(p) for p in started)



def _program(server: Odd, name: str, then: str) -> subprocess.CompletedProcess:
    """A Python program of its own (no pytest handlers on its logging) using one hub of `server`."""
    code = (
        "import sys\n"
        "from tinyagent.core.config import McpConfig, McpServerConfig\n"
        "from tinyagent.core.mcp import McpHub\n"
        f"config = McpServerConfig(command=sys.executable, args={server.config.args!r}, env={server.config.env!r})\n"
        f"hub = McpHub(McpConfig(servers={{{name!r}: config}}))\n"
        f"print(hub.call({name!r}, 'echo', {{'text': 'ready'}}).text)\n" + then
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_program_that_never_closes_its_hub_leaves_no_server_at_exit(odd):
    """atexit runs close(): the stubborn server outlives the end of its input, so only close()'s
    process-group kill ends it."""
    server = odd("stubborn", "stubborn")
    out = _program(server, "stubborn", then="")
    assert out.returncode == 0 and out.stdout == "ready\n", out.stderr
    pids = server.pids()
    assert len(pids) == 2 and not any(alive(p) for p in pids)


def test_a_stray_line_on_a_servers_stdout_prints_nothing_on_ours(odd):
    """The SDK logs such a line with a traceback; with nobody's handler to take it, Python would
    print it on stderr, across the terminal UI."""
    out = _program(odd("noisy", "noisy"), "noisy", then="hub.close()\n")
    assert (out.returncode, out.stdout, out.stderr) == (0, "ready\n", "")


def test_a_server_starts_in_its_cwd_with_its_env_and_a_leading_tilde_is_home(odd, hub_of, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "work").mkdir()
    server = odd(cwd="~/work", env={"ODD_SERVER_GREETING": "hi"})
    assert hub_of({"odd": server.config}).call("odd", "where", {}).text == f"{tmp_path / 'work'} hi"
    missing = hub_of({"lost": odd("lost", cwd=str(tmp_path / "gone")).config})
    with pytest.raises(McpError) as info:
        missing.tools("lost")
    assert str(info.value).endswith(f"No such file or directory: {str(tmp_path / 'gone')!r}")
