"""Checking a downloaded model: its header, then the manifest's (or recorded) size and checksums."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tinyagent.core import model_manifest
from tinyagent.core.model_manifest import ModelEntry, ModelMissing, adapter_path
from tinyagent.core.modelstore.cache import inside_folder, present, read_record

CHUNK = 1 << 20
MAGIC = {"planner": (b"GGUF", "GGUF"), "whisper": (b"lmgg", "ggml")}  # ggml: u32 0x67676d6c, little-endian
_INTEGRITY = {"size", "sha256", "sha1"}  # what tells a good copy from a damaged one; a magic number does not


def hash_file(path: Path, algos: tuple[str, ...] = ("sha256", "sha1")) -> dict[str, str]:
    """The file's hex digests, one read for all of `algos`."""
    hashers = {a: hashlib.new(a) for a in algos}
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


@dataclass
class VerifyResult:
    name: str
    path: Path | None
    checked: list[str] = field(default_factory=list)  # what was compared: magic, size, sha256, sha1
    problems: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """ok | bad | unverified (present, nothing known to check it against) | missing."""
        if self.path is None:
            return "missing"
        if self.problems:
            return "bad"
        return "ok" if _INTEGRITY & set(self.checked) else "unverified"

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def describe(self) -> str:
        if self.path is None:
            return f"{self.name}: not downloaded"
        if self.problems:
            return f"{self.name}: BAD ({'; '.join(self.problems)}) at {self.path}"
        if self.state == "unverified":
            header = " (its header is right)" if "magic" in self.checked else ""
            return (f"{self.name}: unverified: no size or checksum is known to check it against{header}, "
                    f"at {self.path}")
        return f"{self.name}: ok ({', '.join(sorted(set(self.checked)))}) at {self.path}"


def verify(name: str) -> VerifyResult:
    """Check a downloaded model: its header, then the manifest's (or recorded) size and checksums."""
    entry = model_manifest.find(name)
    path = present(entry)
    result = VerifyResult(entry.name, path)
    if path is None:
        result.problems.append("not downloaded")
        return result
    record = read_record(entry)
    recorded = record.get("files", {}) if isinstance(record, dict) else {}
    recorded = recorded if isinstance(recorded, dict) else {}
    if entry.is_snapshot:
        for filename, want in recorded.items():
            if isinstance(want, dict) and inside_folder(filename):
                _check_file(result, path / filename, want.get("size"), want.get("sha256"), None, filename)
        return result
    if not _check_magic(result, entry, path):
        return result
    want = recorded.get(entry.filename, {})
    want = want if isinstance(want, dict) else {}
    if isinstance(record, dict) and record.get("converted"):  # made here from another format: the record knows it
        _check_file(result, path, want.get("size"), want.get("sha256"), None, "")
    else:
        _check_file(result, path, entry.size or want.get("size"), entry.sha256 or want.get("sha256"), entry.sha1, "")
    if entry.adapter:  # shipped in the package, so a changed file is a broken install, not a download
        try:
            adapter = adapter_path(entry)
        except ModelMissing as exc:
            result.problems.append(str(exc))
        else:
            if adapter is not None:
                _check_file(result, adapter, None, entry.adapter_sha256, None, f"adapter {entry.adapter}")
    return result


def _check_magic(result: VerifyResult, entry: ModelEntry, path: Path) -> bool:
    magic, kind = MAGIC.get(entry.kind, (None, ""))
    if magic is None:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(len(magic))
    except OSError as exc:
        result.problems.append(f"cannot read it ({exc})")
        return False
    result.checked.append("magic")
    if head != magic:
        result.problems.append(f"not a {kind} file (it starts with {head!r}, not {magic!r})")
        return False
    return True


def _check_file(result: VerifyResult, path: Path, size: int | None, sha256: str | None, sha1: str | None,
                label: str) -> None:
    prefix = f"{label}: " if label else ""
    if not path.is_file():
        result.problems.append(f"{prefix}missing")
        return
    if size is not None:
        result.checked.append("size")
        actual = path.stat().st_size
        if actual != size:
            result.problems.append(f"{prefix}size is {actual} bytes, expected {size}")
            return
    algos = tuple(a for a, want in (("sha256", sha256), ("sha1", sha1)) if want)
    if not algos:
        return
    digests = hash_file(path, algos)
    for algo, want in (("sha256", sha256), ("sha1", sha1)):
        if want:
            result.checked.append(algo)
            if digests[algo] != want:
                result.problems.append(f"{prefix}{algo} is {digests[algo]}, expected {want}")
