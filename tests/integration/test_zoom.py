"""The Zoom client against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tinyagent.core.backends import make_backend
from tinyagent.core.config import Config
from tinyagent.tools.backend import ToolCall, ToolError
from tinyagent.tools.registry import get_tool
from tinyagent.tools.zoom import ZoomClient, local_meeting


class FakeZoom:
    """A tiny stand-in for api.zoom.us: records requests, answers with a configured status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status, self.body, self.headers, self.delay = 201, None, {}, 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                      "body": json.loads(self.rfile.read(length) or b"{}")})
                if fake.delay:
                    threading.Event().wait(fake.delay)
                payload = fake.body if fake.body is not None else {
                    "id": 85746352, "join_url": "https://zoom.us/j/85746352?pwd=abc"}
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(fake.status)
                for k, v in fake.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.api_base = f"http://127.0.0.1:{self.server.server_port}/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def zoom_server():
    server = FakeZoom()
    yield server
    server.close()


def test_creates_a_scheduled_meeting(zoom_server):
    client = ZoomClient("tok123", zoom_server.api_base)
    meeting = client.create_meeting("Design sync", datetime(2024, 6, 4, 10, 0), 45, ["a@example.com"])
    assert meeting.join_url == "https://zoom.us/j/85746352?pwd=abc" and meeting.source == "zoom"
    (req,) = zoom_server.requests
    assert req["path"] == "/v2/users/me/meetings" and req["auth"] == "Bearer tok123"
    assert req["body"] == {"topic": "Design sync", "type": 2, "duration": 45, "start_time": "2024-06-04T10:00:00",
                           "settings": {"meeting_invitees": [{"email": "a@example.com"}]}}


def test_no_start_time_makes_an_instant_meeting(zoom_server):
    ZoomClient("t", zoom_server.api_base).create_meeting("Now", None, 30, [])
    body = zoom_server.requests[0]["body"]
    assert body["type"] == 1 and "start_time" not in body


@pytest.mark.parametrize("status, body, headers, fragment", [
    (401, {"code": 124, "message": "Invalid access token."}, {}, "rejected the token (401: Invalid access token.)"),
    (429, {"message": "Too many requests"}, {"Retry-After": "30"},
     "rate limit was hit (429: Too many requests); try again in 30 s"),
    (404, {"message": "User does not exist"}, {}, "zoom.api_base"),
    (500, b"<html>oops</html>", {}, "refused to create the meeting (HTTP 500)"),
    (201, {"id": 1}, {}, "answer had no join link"),
    (201, b"not json", {}, "answer had no join link"),
])
def test_errors_are_clear(zoom_server, status, body, headers, fragment):
    zoom_server.status, zoom_server.body, zoom_server.headers = status, body, headers
    with pytest.raises(ToolError) as info:
        ZoomClient("t", zoom_server.api_base).create_meeting("x", None, 30, [])
    assert fragment in str(info.value)


def test_unreachable_server_is_a_network_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ToolError, match="could not reach Zoom"):
        ZoomClient("t", f"http://127.0.0.1:{port}/v2", timeout=3).create_meeting("x", None, 30, [])


def test_slow_server_times_out(zoom_server):
    zoom_server.delay = 1.5
    with pytest.raises(ToolError, match="did not answer within 0.3 s"):
        ZoomClient("t", zoom_server.api_base, timeout=0.3).create_meeting("x", None, 30, [])


def test_sandbox_with_a_token_uses_the_api_and_records_the_meeting(zoom_server):
    cfg = Config(backend="sandbox")
    cfg.zoom.token, cfg.zoom.api_base = "tok", zoom_server.api_base
    backend = make_backend(cfg)
    c = backend.prepare(ToolCall(get_tool("get_zoom_meeting_link"),
                                 {"topic": "Standup", "start_time": "2024-06-04 09:30:00", "duration": "15",
                                  "meeting_invitees": ["sarah.lindqvist@example.com"]}))
    assert zoom_server.requests == [], "prepare must not call Zoom"
    assert backend.invoke(c) == "https://zoom.us/j/85746352?pwd=abc"
    row = backend.state()["zoom_meetings"][-1]
    assert (row["source"], row["meeting_id"], row["duration"]) == ("zoom", "85746352", 15)


def test_local_meetings_are_stable_and_distinct():
    a = local_meeting("x", datetime(2024, 1, 1, 9), 30, [])
    assert a == local_meeting("x", datetime(2024, 1, 1, 9), 30, [])
    assert a.join_url != local_meeting("y", datetime(2024, 1, 1, 9), 30, []).join_url
    assert a.source == "local" and len(a.meeting_id) == 10
