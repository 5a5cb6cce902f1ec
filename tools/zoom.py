"""Creating Zoom meetings: a small HTTPS client for the Zoom REST API (stdlib only).

POST {api_base}/users/me/meetings with an OAuth bearer token; the answer's `join_url` is the
tool's output. Without a token the sandbox makes a deterministic local link instead
(`local_meeting`), so demos and tests never need the network.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from tinyagent.tools.backend import ToolError

_WHERE = "get_zoom_meeting_link"


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    join_url: str
    source: str  # "zoom" (created through the API) or "local" (made up in the sandbox)


class ZoomClient:
    def __init__(self, token: str, api_base: str = "https://api.zoom.us/v2", timeout: float = 20.0):
        if not token.strip():
            raise ValueError("a Zoom token is required")
        self.token = token.strip()
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def create_meeting(self, topic: str, start_time: datetime | None, duration: int,
                       invitees: list[str]) -> Meeting:
        body: dict = {"topic": topic, "type": 2 if start_time else 1, "duration": duration,
                      "settings": {"meeting_invitees": [{"email": e} for e in invitees]}}
        if start_time:
            body["start_time"] = start_time.strftime("%Y-%m-%dT%H:%M:%S")  # local time of the Zoom user
        request = urllib.request.Request(
            f"{self.api_base}/users/me/meetings", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                     "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ToolError(_http_error_message(exc)) from None
        except TimeoutError:
            raise ToolError(f"{_WHERE}: Zoom did not answer within {self.timeout:g} s; try again later") from None
        except urllib.error.URLError as exc:
            raise ToolError(f"{_WHERE}: could not reach Zoom at {self.api_base} ({exc.reason}); "
                            f"check the network connection") from None
        except OSError as exc:
            raise ToolError(f"{_WHERE}: could not reach Zoom at {self.api_base} ({exc})") from None
        try:
            answer = json.loads(raw)
            return Meeting(str(answer.get("id", "")), str(answer["join_url"]), "zoom")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ToolError(f"{_WHERE}: Zoom's answer had no join link: {raw[:200]!r}") from None


def _http_error_message(exc: urllib.error.HTTPError) -> str:
    detail = ""
    try:
        detail = str(json.loads(exc.read() or b"{}").get("message", ""))
    except (ValueError, AttributeError, OSError):
        pass
    said = f": {detail}" if detail else ""
    if exc.code == 401:
        return (f"{_WHERE}: Zoom rejected the token (401{said}). It is wrong or expired, or lacks the "
                f"meeting:write scope; get a new one and set zoom.token in config.yaml")
    if exc.code == 429:
        wait = exc.headers.get("Retry-After") if exc.headers else None
        later = f"in {wait} s" if wait else "in a minute"
        return f"{_WHERE}: Zoom's rate limit was hit (429{said}); try again {later}"
    if exc.code == 404:
        return f"{_WHERE}: Zoom has no such user or address (404{said}); check zoom.api_base in config.yaml"
    return f"{_WHERE}: Zoom refused to create the meeting (HTTP {exc.code}{said})"


def local_meeting(topic: str, start_time: datetime | None, duration: int, invitees: list[str]) -> Meeting:
    """A made-up but stable meeting: the same request always gives the same link."""
    key = "|".join([topic, start_time.isoformat() if start_time else "now", str(duration), *invitees])
    digest = hashlib.sha256(key.encode()).hexdigest()
    meeting_id = str(1_000_000_000 + int(digest[:12], 16) % 9_000_000_000)
    return Meeting(meeting_id, f"https://zoom.us/j/{meeting_id}?pwd={digest[12:28]}", "local")
