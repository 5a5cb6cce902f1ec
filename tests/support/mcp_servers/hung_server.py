"""A server that never answers: `python hung_server.py`, for the startup-timeout case.

It starts a child process, ignores SIGTERM and never reads stdin, so only the client's
process-group kill ends the two. It imports nothing beyond the standard library, so both are
running well within the startup timeout even on a loaded machine (odd_server.py's
hang-at-start mode first imports the SDK, which can take longer than that). Its pid and its
child's go to ODD_SERVER_MARKS/pids, one a line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    marks = os.environ.get("ODD_SERVER_MARKS")
    if marks:
        (Path(marks) / "pids").write_text(f"{os.getpid()}\n{child.pid}\n", encoding="utf-8")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
