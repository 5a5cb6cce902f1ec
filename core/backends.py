"""Choosing and building the tool backend the config asks for (tools/ knows nothing of config).

The sandbox's database lives in the user's data dir; the AppleScript backend needs macOS.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinyagent.core.config import Config, data_dir
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.backend import Backend, ContentWriter, PlainWriter
from tinyagent.tools.sandbox import SandboxBackend
from tinyagent.tools.sandbox.contacts import full_name
from tinyagent.tools.zoom import ZoomClient


class BackendUnavailable(RuntimeError):
    """The configured backend cannot run here; the message says what to change."""


def sandbox_db_path() -> Path:
    """Where the sandbox's demo world is kept (`tinyagent sandbox show` reads it)."""
    return data_dir() / "sandbox" / "sandbox.db"


def contact_names(config: Config) -> list[str]:
    """The configured backend's contacts' full names ([] where it cannot list them: the
    AppleScript backend has no cheap way to list the Contacts app). OSError or sqlite3.Error
    where the sandbox's database cannot be read."""
    if config.resolved_backend() != "sandbox":
        return []
    contacts = SandboxBackend(sandbox_db_path()).state()["contacts"]
    return [full_name(c) for c in contacts]


def _zoom_client(config: Config, timeout: float) -> ZoomClient | None:
    if not config.zoom.token.strip():
        return None
    return ZoomClient(config.zoom.token, config.zoom.api_base, timeout=timeout)


def make_backend(config: Config, writer: ContentWriter | None = None, *, db_path: Path | str | None = None) -> Backend:
    """The sandbox or AppleScript backend from `config.resolved_backend()`, with timeouts and Zoom."""
    writer = writer or PlainWriter()
    kind = config.resolved_backend()
    zoom = _zoom_client(config, config.timeouts.task)
    if kind == "applescript":
        if sys.platform != "darwin":
            raise BackendUnavailable(
                f"the AppleScript backend drives macOS apps and cannot run on {sys.platform}; "
                f"set 'backend: sandbox' (or 'auto') in config.yaml to use the built-in sandbox")
        return AppleScriptBackend(writer, timeout=config.timeouts.applescript, zoom=zoom)
    if kind == "sandbox":
        return SandboxBackend(db_path or sandbox_db_path(), writer=writer, zoom=zoom)
    raise BackendUnavailable(f"unknown backend {kind!r}; use auto, sandbox or applescript")


def describe_backend(config: Config) -> str:
    """One line for status bars: which backend, and where its effects land."""
    kind = config.resolved_backend()
    zoom = "Zoom API" if config.zoom.token.strip() else "Zoom links made up locally"
    if kind == "sandbox":
        return f"sandbox ({sandbox_db_path()}; {zoom})"
    if kind == "applescript":
        zoom = "Zoom API" if config.zoom.token.strip() else "Zoom not set up"
        return f"AppleScript (macOS apps, {config.timeouts.applescript:g} s timeout; {zoom})"
    return kind
