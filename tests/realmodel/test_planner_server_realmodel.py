"""The Done-when of planning on a server, on real weights: llama-cpp-python's server serves
Qwen2.5-Coder-0.5B on 127.0.0.1 (one thread), and `tinyagent ask --server URL --dry-run --json`
plans "Text Emily Okafor that I'm running late" through it: one request, which the server's log
shows, and a plan that looks Emily's number up and then texts it."""
from __future__ import annotations

import json

import pytest

from tests.support.cli import tinyagent
from tests.support.llama_server import llama_cpp_server, server_available
from tests.support.realmodels import real_model

pytestmark = pytest.mark.realmodel


def test_ask_plans_through_a_real_server(tmp_path):
    why = server_available()
    if why:
        pytest.skip(why)
    qwen = real_model("qwen2.5-coder-0.5b")
    config = tmp_path / "config.yaml"
    config.write_text("backend: sandbox\ntoolrag: {enabled: false}\napps: [contacts, messages]\n"
                      "planner: {max_replans: 0}\n")
    with llama_cpp_server(qwen, threads=1, n_ctx=4096) as server:  # stopped on leaving, also on failure
        result = tinyagent("ask", "Text Emily Okafor that I'm running late", "--server", server.url,
                           "--dry-run", "--json", config=config, timeout=600)
        log = server.log
    assert "Traceback" not in result.stderr, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [e["tool"] for e in events if e.get("event") == "task_started"]
    assert started[:2] == ["get_phone_number", "send_sms"], result.stdout[-2000:]
    assert log.count("POST /v1/completions") == 1
