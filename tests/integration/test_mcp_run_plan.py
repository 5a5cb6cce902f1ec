"""`tinyagent run-plan` with the reference MCP filesystem server (npm) on a temp folder, in a
child process as a user runs it: the read, the question before the write (answered on the
terminal the approver reads), the write; a dry run writes nothing; with no terminal it declines."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.fs_server import files_config, processes_mentioning
from tinyagent.core.config import parse_config
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline

NOTE = "buy milk\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = (tmp_path / "notes").resolve()
    root.mkdir()
    (root / "in.txt").write_text(NOTE)
    return root


def setup(tmp_path: Path, folder: Path, server: str = "") -> tuple[Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(files_config(folder, server=server))
    plan = tmp_path / "plan.txt"
    plan.write_text(f'1. read_text_file("{folder}/in.txt")\n2. write_file("{folder}/out.txt", "$1")\n'
                    "3. join()<END_OF_PLAN>\n")
    return config, plan


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """No terminal: stdin is empty and the child has no controlling tty (a session of its own)."""
    return subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "--config", str(config), *args], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, start_new_session=True)


class Terminal:
    """`tinyagent` with a terminal for its stdin (a pty, no echo), its output read as it comes."""

    def __init__(self, *args: str):
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.master = master
        self.proc = subprocess.Popen([sys.executable, "-m", "tinyagent.core.cli", *args], cwd=ROOT, stdin=slave,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        os.close(slave)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(lambda: s.read(1), "")), daemon=True).start()

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, text: str, count: int = 1, timeout: float = 60.0) -> None:
        """Until `text` was written `count` times (the timeout only guards against a hang)."""
        deadline = time.monotonic() + timeout
        while self.stderr.count(text) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} x{count}:\n{self.stderr}\n{''.join(self.out)}")
            time.sleep(0.05)

    def answer(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        """Its exit status once it ends; a test that failed while it waited for an answer ends it."""
        try:
            return self.proc.wait(timeout=60 if sys.exc_info()[0] is None else 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            os.close(self.master)


def test_run_plan_reads_asks_before_the_write_and_writes_on_approval(tmp_path, folder):
    config, plan = setup(tmp_path, folder)
    term = Terminal("--config", str(config), "run-plan", str(plan), "--backend", "sandbox")
    try:
        term.wait_for("Run it?")  # an untrusted server's read asks too
        assert "Task 1: read_text_file (external, a tool of the MCP server files)" in term.stderr
        term.answer("y")
        term.wait_for("Run it?", 2)
        asked = term.stderr.split("Task 2: ", 1)[1]
        assert asked.startswith("write_file (external, a tool of the MCP server files)")
        assert f'MCP server files: write_file(path="{folder}/out.txt", content="buy milk")' in asked  # folded
        assert "content: buy milk\\n" in asked  # the resolved $1, in full
        assert not (folder / "out.txt").exists()  # asked before, not after
        term.answer("y")
    finally:
        code = term.close()
    assert code == 0, term.stderr
    assert (folder / "out.txt").read_text() == NOTE  # as written, its newline too
    assert "Successfully wrote" in "".join(term.out)
    assert processes_mentioning(str(folder)) == []  # the server stopped with the program


def test_a_trusted_servers_read_runs_without_asking_and_a_no_declines_the_write(tmp_path, folder):
    config, plan = setup(tmp_path, folder, server="trusted: true")
    term = Terminal("--config", str(config), "run-plan", str(plan), "--backend", "sandbox")
    try:
        term.wait_for("Run it?")
        assert "Task 1" not in term.stderr and "Task 2: write_file" in term.stderr
        term.answer("n")
    finally:
        code = term.close()
    assert code == 1
    assert not (folder / "out.txt").exists()


@pytest.mark.parametrize("trusted", [False, True])
def test_a_dry_run_writes_nothing(tmp_path, folder, trusted):
    config, plan = setup(tmp_path, folder, server=f"trusted: {str(trusted).lower()}")
    out = cli(config, "run-plan", str(plan), "--dry-run", "--json", "--backend", "sandbox")
    assert out.returncode == 0, out.stderr
    finished = {e["task_id"]: e for e in map(json.loads, out.stdout.splitlines()) if e["event"] == "task_finished"}
    # untrusted, the read is a change like any other: not called; trusted, it runs (its output resolves $1)
    assert finished[1]["status"] == ("done" if trusted else "dry-run")
    assert finished[2]["status"] == "dry-run"
    assert not (folder / "out.txt").exists() and sorted(p.name for p in folder.iterdir()) == ["in.txt"]
    if trusted:
        assert finished[1]["output"].strip() == "buy milk"
        assert finished[2]["args"]["content"] == NOTE


def test_with_no_terminal_it_declines(tmp_path, folder):
    config, plan = setup(tmp_path, folder)
    out = cli(config, "run-plan", str(plan), "--backend", "sandbox")
    assert out.returncode == 1
    assert "no terminal to ask: declined" in out.stderr
    assert not (folder / "out.txt").exists()
    assert processes_mentioning(str(folder)) == []


def test_a_server_that_does_not_start_is_one_line_and_its_tools_are_unknown(tmp_path, folder):
    config, plan = setup(tmp_path, folder)
    config.write_text(f"backend: sandbox\nmcp:\n  servers:\n    files:\n      command: {tmp_path / 'no-such-program'}\n")
    out = cli(config, "run-plan", str(plan), "--backend", "sandbox")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"warning: MCP server files is not available: cannot start '{tmp_path / 'no-such-program'}'" in out.stdout
    assert "unknown tool 'read_text_file'" in out.stderr


def test_the_pipeline_registry_has_the_servers_tools_and_close_stops_it(tmp_path, folder):
    pipeline = Pipeline(parse_config(files_config(folder)))
    try:
        registry = pipeline.registry()
        assert registry["write_file"].server == "files" and registry["send_sms"].server == ""
        assert "edit_file" not in registry  # its edits are objects: refused, with the reason said
        assert parse_plan(setup(tmp_path, folder)[1].read_text(), registry).ok
        assert processes_mentioning(str(folder)) != []
    finally:
        pipeline.close()
    assert processes_mentioning(str(folder)) == []
