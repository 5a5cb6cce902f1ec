"""`planner.server` and `--server`: the URL of a llama.cpp server that plans instead of the
in-process model. Standard library only, so the config can check it without loading anything.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class ServerURLError(ValueError):
    """A server URL that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class ServerURL:
    scheme: str  # http or https
    host: str
    port: int
    base: str  # path prefix ("" or "/llm"), without a trailing slash or "/v1"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def label(self) -> str:
        """How people see it: "127.0.0.1:8080" (the scheme only when it is https)."""
        return ("https://" if self.scheme == "https" else "") + self.netloc + self.base

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def cleartext_remote(self) -> bool:
        """http:// to another machine: requests, contacts and notes cross the network unencrypted."""
        return self.scheme == "http" and not self.loopback

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.base}"


def parse_server_url(text: str) -> ServerURL:
    """`http(s)://HOST[:PORT][/PREFIX]`; a trailing `/v1` (OpenAI-style base URLs) is dropped."""
    text = (text or "").strip()
    if not text:
        raise ServerURLError("no server URL given")
    if len(text) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ServerURLError("a server URL is one line without spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port out of range or not a number
        raise ServerURLError(f"{text!r} is not a usable URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ServerURLError(f"{text!r} must start with http:// or https://")
    if not parts.hostname:
        raise ServerURLError(f"{text!r} names no host")
    if parts.username or parts.password:
        raise ServerURLError("put no credentials in the server URL; name the variable holding the key in "
                             "planner.api_key_env")
    if parts.query or parts.fragment:
        raise ServerURLError(f"{text!r}: a server URL takes no ?query or #fragment")
    base = parts.path.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return ServerURL(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), base)


def check_env_name(name: str) -> str:
    """`planner.api_key_env`: the name of an environment variable (never the key itself)."""
    if name and not _ENV_NAME.fullmatch(name):
        raise ServerURLError(f"{name[:40]!r} is not an environment variable name (letters, digits and _): "
                             "planner.api_key_env names the variable that holds the key")
    return name
