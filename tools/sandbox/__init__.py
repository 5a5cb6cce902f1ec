"""The sandbox backend: the 16 tools against an embedded SQLite demo world."""

from tools.sandbox.backend import SandboxBackend, default_db_path

__all__ = ["SandboxBackend", "default_db_path"]
