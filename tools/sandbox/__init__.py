"""The sandbox backend: the tools against an embedded SQLite demo world."""

from tools.sandbox.backend import SandboxBackend

__all__ = ["SandboxBackend"]
