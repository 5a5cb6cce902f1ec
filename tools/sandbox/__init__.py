"""The sandbox backend: the tools against an embedded SQLite demo world."""

from tinyagent.tools.sandbox.backend import SandboxBackend

__all__ = ["SandboxBackend"]
