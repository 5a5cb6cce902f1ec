"""Which processes are alive: psutil where it is installed, else Linux's /proc. A zombie (dead,
not yet reaped by whoever inherited it) counts as gone: it runs nothing and holds nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    import psutil
except ImportError:  # psutil is a test convenience, not a dependency
    psutil = None


def _need_a_way() -> None:
    if psutil is None and not Path("/proc/self/stat").exists():
        pytest.skip("needs psutil or /proc to see processes")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # after "pid (name) ": state, ppid, ...


def alive(pid: int) -> bool:
    _need_a_way()
    if psutil is not None:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int | None = None) -> set[int]:
    """Every live process below `pid` (default: this one)."""
    _need_a_way()
    root = os.getpid() if pid is None else pid
    if psutil is not None:
        try:
            return {p.pid for p in psutil.Process(root).children(recursive=True) if alive(p.pid)}
        except psutil.NoSuchProcess:
            return set()
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found
