"""`tinyagent` in a child process, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def tinyagent(*args, config=None, timeout=300, stdin=""):
    cmd = [sys.executable, "-m", "tinyagent.core.cli"] + (["--config", str(config)] if config else []) + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, input=stdin)
