"""tinyagent, as installed: the top of the one package this project puts in site-packages.

The source keeps its top-level folders (core/, tools/, tui/, models/, applescripts/); the
build maps each of them under this package (pyproject.toml's [tool.setuptools] package-dir),
so the installed names are tinyagent.core, tinyagent.tools, tinyagent.tui, tinyagent.models
and tinyagent.applescripts, and nothing generic lands in site-packages.

This module imports nothing at import time: every command imports it first, before the CLI
takes over Ctrl-C, so the moment of a Ctrl-C that would print a traceback stays as short as it was.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`tinyagent.__version__`: the installed distribution's version (pyproject.toml's), read when asked."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata

    try:
        return metadata.version("tinyagent-tui")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
