"""Drive the real app in tmux as a person would: keys in, screen text out (capture-pane)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.tmux import Tmux

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def tmux_app(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.yaml").write_text("backend: sandbox\n")
    exe = ROOT / ".venv" / "bin" / "tinyagent"
    cmd = str(exe) if exe.exists() else f"{sys.executable} -c 'from tinyagent.core.cli import run; run()'"
    env = f"cd {ROOT} && TINYAGENT_HOME={home} TERM=xterm-256color COLORTERM=truecolor"
    session = Tmux(f"{env} {cmd}; echo EXITED $?; sleep 30")
    yield session, home
    session.close()


def toggle_dry_run_on(t: Tmux) -> None:
    """ctrl+d until the banner shows. On a busy machine the first key can reach the app before it
    listens (a CI run lost it); it is pressed again only while the status line still says off
    after 10 s, never on top of a press that is merely slow."""
    for _ in range(3):
        t.keys("C-d")
        try:
            t.wait_for("DRY RUN on", timeout=10.0)
            return
        except AssertionError:
            if "dry run off" not in t.screen():
                raise
    t.wait_for("DRY RUN on")


def test_tmux_plan_editor_dry_run_then_for_real(tmux_app):
    t, home = tmux_app
    t.wait_for("dry run off")  # the status line: the app is up
    t.wait_for("Plan editor")  # footer bindings
    toggle_dry_run_on(t)
    t.keys("C-e")
    t.wait_for("Plan editor")
    t.keys('1. get_phone_number("Mike")', literal=True)
    t.keys("Enter")
    t.keys('2. send_sms(["$1"], "Running late")', literal=True)
    t.keys("Enter")
    t.keys("3. join()<END_OF_PLAN>", literal=True)
    screen = t.wait_for("valid: 2 tasks")
    assert "get_phone_number" in screen and "send_sms" in screen  # drawn in the preview
    t.keys("C-s")
    screen = t.wait_for("Dry run finished")
    assert "dry-run" in screen  # send_sms shown as a dry run in the graph
    t.keys("C-g")
    screen = t.wait_for("Allow task 2: send_sms?")
    assert "+1 415 555 0104" in screen and "Running late" in screen  # the resolved arguments
    t.keys("y")
    screen = t.wait_for("Finished:")
    assert "✓ done" in screen and "dry-run" not in screen.split("Finished:")[-1]
    history = [json.loads(line) for line in (home / "data" / "history.jsonl").read_text().splitlines()]
    assert [h["dry_run"] for h in history] == [True, False]  # the dry run, then the same plan for real
    assert history[1]["statuses"] == {"1": "done", "2": "done"}
    t.keys("C-q")
    t.wait_for("EXITED 0", timeout=30)
