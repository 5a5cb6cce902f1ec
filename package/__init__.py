"""tinyagent, as installed: the top of the one package this project puts in site-packages.

The source keeps its top-level folders (core/, tools/, tui/, models/, applescripts/); the
build maps each of them under this package (pyproject.toml's [tool.setuptools] package-dir),
so the installed names are tinyagent.core, tinyagent.tools, tinyagent.tui, tinyagent.models
and tinyagent.applescripts, and nothing generic lands in site-packages.
"""

from importlib import metadata

try:
    __version__ = metadata.version("tinyagent-tui")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
