"""llama-cpp-python's own server (`python -m llama_cpp.server`, extra `llama-cpp-python[server]`)
as a child process on 127.0.0.1 and a free port, for tests and bench/bench_server.py.

`with llama_cpp_server(model, threads=1) as server:` yields a `RunningServer` (url, log);
leaving the block, also by an exception, stops the process (terminate, then kill).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_available() -> str | None:
    """None when llama-cpp-python's server extra is installed, else why not."""
    try:
        import llama_cpp.server.app  # noqa: F401
    except ImportError as exc:
        return f"llama-cpp-python[server] is not installed ({exc})"
    return None


# `python -m llama_cpp.server`, with llama.cpp's extra buffer types as the app sets them (off where
# the CPU has AMX: quantized models crash llama.cpp there); the server has no option for it, so it
# runs inside the app's own patch of the default model params (core/planner/llm.py).
_SERVER_MAIN = """
import runpy
from tinyagent.core.planner.llm import _model_params_patched, want_extra_bufts
with _model_params_patched(want_extra_bufts("auto")):
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


@contextlib.contextmanager
def llama_cpp_server(model: Path, *, threads: int = 1, n_ctx: int = 2048, api_key: str = "",
                     start_timeout: float = 300.0, extra: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="llama-server-"))
    log_path = log_dir / "server.log"
    cmd = [sys.executable, "-c", _SERVER_MAIN, "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", str(threads), "--n_threads_batch", str(threads),
           "--n_ctx", str(n_ctx), *extra]
    if api_key:
        cmd += ["--api_key", api_key]
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(server, start_timeout, api_key)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_ready(server: RunningServer, timeout: float, api_key: str) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited ({server.process.returncode}):\n{server.log[-3000:]}")
        try:
            with urllib.request.urlopen(urllib.request.Request(server.url + "/v1/models", headers=headers),
                                        timeout=5) as answer:
                json.loads(answer.read())
                return
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.3)
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout:g} s:\n{server.log[-3000:]}")
