"""Fetching a model from the hub with our own small resumable downloader.

We do not use `hf_hub_download`: huggingface_hub 2.x writes each attempt to a process-unique
temp file, so an interrupted 4 GB download would start over. Here the bytes go to
`<file>.part`, and the next `pull` continues with an HTTP Range request. Nothing is installed
that was not checked against a known size and checksum.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tinyagent.core.events import DownloadProgress
from tinyagent.core.model_manifest import ModelEntry
from tinyagent.core.modelstore import hub
from tinyagent.core.modelstore.cache import local_path, write_record
from tinyagent.core.modelstore.errors import ChecksumMismatch, DownloadError

CHUNK = 1 << 20
RETRY_DELAY = 1.0  # seconds, times the attempt number

Progress = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class FileInfo:
    """What a download installed: its size and SHA-256 (kept in the model's record)."""
    size: int | None
    sha256: str | None

    def as_record(self) -> dict[str, int | str | None]:
        return {"size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class HubPull:
    """One model's download from a hub: whose files, from which endpoint, who hears of progress."""
    entry: ModelEntry
    endpoint: str | None = None
    progress: Progress | None = None
    retries: int = 3  # quick retries of a failed request before giving up (the next pull resumes)


@dataclass(frozen=True)
class FileWant:
    """One file to fetch, and what it must turn out to be (None: take the server's word for it)."""
    url: str
    dest: Path
    label: str  # what progress and messages call it
    size: int | None = None
    sha256: str | None = None
    sha1: str | None = None


class _Part:
    """`<file>.part`: the bytes so far and their running hashes (kept in step on every write)."""

    def __init__(self, path: Path, total: int):
        self.path, self.total = path, total
        self.hashers = self._fresh()
        self.done = 0
        if path.exists():
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    self._update(chunk)

    def _fresh(self) -> dict[str, hashlib._Hash]:
        git = hashlib.sha1(b"blob %d\0" % self.total)  # git's object id of a file of that size
        return {"sha256": hashlib.sha256(), "sha1": hashlib.sha1(), "git": git}

    def _update(self, chunk: bytes) -> None:
        for h in self.hashers.values():
            h.update(chunk)
        self.done += len(chunk)

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.hashers, self.done = self._fresh(), 0

    def append(self, fh: BinaryIO, chunk: bytes) -> None:
        fh.write(chunk)
        self._update(chunk)


def download(job: HubPull, want: FileWant) -> FileInfo:
    """Fetch want.url into want.dest through dest.part, resuming it.

    Nothing is installed that was not checked: the size must be known (manifest, else the
    server's) so a body cut short is caught, and so must a checksum (the manifest's, else the
    hub's LFS SHA-256 or, for a small file, its git blob id)."""
    entry, url, dest, label = job.entry, want.url, want.dest, want.label
    remote = hub.probe(entry, url, job.endpoint)
    if want.size is not None and remote.size is not None and want.size != remote.size:
        raise DownloadError(f"{url} is {remote.size} bytes but the manifest says {want.size}: the manifest entry "
                            f"for {entry.name} is stale, nothing was downloaded")
    total = want.size if want.size is not None else remote.size
    expected = {"sha256": want.sha256 or remote.sha256, "sha1": want.sha1,
                "git": None if (want.sha256 or want.sha1 or remote.sha256) else remote.git_sha1}
    if total is None or not any(expected.values()):
        missing = " and ".join(w for w, known in (("size", total is not None), ("checksum", any(expected.values())))
                               if not known)
        raise DownloadError(f"{url}: neither the manifest nor the server gives the file's {missing}, so a "
                            "damaged or cut-off download could not be told from a good one; nothing was installed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part_path = dest.with_name(dest.name + ".part")
    if part_path.exists() and part_path.stat().st_size > total:
        part_path.unlink()  # longer than the real file: not ours to resume
    part = _Part(part_path, total)

    def report() -> None:
        if job.progress is not None:
            job.progress(DownloadProgress(label, part.done, total))

    report()
    failures = 0
    while part.done < total:
        before = part.done
        try:
            _fetch_into(url, part, report)
        except urllib.error.HTTPError as exc:
            raise hub.http_error(entry, url, exc) from None
        except ValueError as exc:  # e.g. a redirect to something that is not a URL: retrying will not help
            raise DownloadError(f"download of {label} from {url} failed: {exc}; nothing was installed") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if failures < job.retries:
                failures += 1
                time.sleep(RETRY_DELAY * failures)  # a brief network hiccup often passes
                continue
            if isinstance(exc, urllib.error.URLError) and part.done == 0:
                raise hub.unreachable(entry, job.endpoint, exc.reason) from None
            raise DownloadError(f"download of {label} interrupted after {_mb(part.done)} of {_mb(total)} "
                                f"({exc}); run the same command again to resume it") from None
        if part.done == before:  # the server sent nothing new: do not loop forever
            failures += 1
            if failures > job.retries:
                break
    if part.done != total:
        if part.done > total:
            part_path.unlink()
        raise DownloadError(f"{label}: got {part.done} bytes, expected {total}; run the command again to resume")
    digests = {a: h.hexdigest() for a, h in part.hashers.items()}
    for algo, wanted in expected.items():
        if wanted and digests[algo] != wanted:
            part_path.unlink()
            name = "git blob id" if algo == "git" else algo
            raise ChecksumMismatch(f"{label}: {name} is {digests[algo]}, expected {wanted}; the download was "
                                   "deleted, run the command again to fetch it afresh")
    os.replace(part_path, dest)
    return FileInfo(part.done, digests["sha256"])


def _fetch_into(url: str, part: _Part, report: Callable[[], None]) -> None:
    """One GET from where the part ends, appending what the server sends."""
    headers = {"Range": f"bytes={part.done}-"} if part.done else {}
    resp = urllib.request.urlopen(hub.http_request(url, headers=headers), timeout=hub.TIMEOUT)
    with resp:
        start = _range_start(resp.headers.get("Content-Range")) if resp.status == 206 else 0
        if start != part.done:  # the server ignored the Range header: start over
            part.restart()
        with part.path.open("ab") as fh:
            while chunk := resp.read(CHUNK):
                part.append(fh, chunk)
                report()
                if part.done > part.total:  # the next pull discards a part longer than the file
                    raise DownloadError(f"{url}: the server sent more than the expected {part.total} bytes; "
                                        "nothing was installed")
        length = resp.headers.get("Content-Length")
        if length is not None and hub.digits(length) and part.done - start < int(length):
            raise OSError(f"connection closed after {part.done - start} of {length} bytes")


def _range_start(content_range: str | None) -> int:
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else 0


def _mb(n: int | None) -> str:
    return "an unknown size" if n is None else f"{n / 1e6:.1f} MB"


def pull_hub(job: HubPull, *, force: bool) -> Path:
    """The entry's file (or every file of a snapshot) from the hub into the cache; its record written."""
    entry = job.entry
    dest = local_path(entry)
    if force and not entry.is_snapshot:
        dest.with_name(dest.name + ".part").unlink(missing_ok=True)
    files = hub.snapshot_files(entry, job.endpoint) if entry.filename is None else [entry.filename]
    # A snapshot fills `<dir>.part/` and becomes `<dir>/` only when every file is in.
    into = dest.with_name(dest.name + ".part") if entry.is_snapshot else dest
    record: dict[str, object] = {}
    for filename in files:
        target = into / filename if entry.is_snapshot else dest
        if entry.is_snapshot and not target.resolve().is_relative_to(into.resolve()):
            raise DownloadError(f"{filename!r} would be written outside {into}; nothing more was downloaded")
        label = entry.name if not entry.is_snapshot else f"{entry.name}/{filename}"
        url = hub.file_url(entry, job.endpoint, filename)
        if entry.is_snapshot:  # manifest size/checksums describe the single file only
            want = FileWant(url, target, label)
        else:
            want = FileWant(url, target, label, entry.size, entry.sha256, entry.sha1)
        record[filename] = download(job, want).as_record()
    if entry.is_snapshot:
        if dest.exists():  # --force over an earlier copy
            shutil.rmtree(dest)
        os.replace(into, dest)
    write_record(entry, {"source": "hf", "repo": entry.repo, "files": record})
    return dest
