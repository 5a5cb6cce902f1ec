"""Where models live on this machine: `cache_dir()/models/`, and the record of where each came from.

A model's file is `models/<filename>` (a whole-repository model such as ToolRAG is the folder
`models/<repo name>/`). A user without a network puts the file there by hand. Beside the files,
`models/.records/<name>.json` says where a download came from and its checked size and SHA-256
(what `verify` compares a converted or snapshot model against).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tinyagent.core.config import cache_dir
from tinyagent.core.model_manifest import ModelEntry


def models_dir() -> Path:
    return cache_dir() / "models"


def wheels_dir() -> Path:
    """Downloaded wheels, kept so an interrupted pull (or a --force) does not fetch them again."""
    return models_dir() / "wheels"


def _repo_tail(entry: ModelEntry) -> str:
    """The last part of the model's repository ("TinyAgent-ToolRAG"), else its name."""
    return (entry.repo or entry.name).rsplit("/", 1)[-1]


def local_path(entry: ModelEntry) -> Path:
    return models_dir() / (entry.filename or _repo_tail(entry))


def onnx_dir(entry: ModelEntry) -> Path:
    """Where a converted ToolRAG model goes (see `tinyagent models convert-toolrag`)."""
    return models_dir() / f"{_repo_tail(entry)}-onnx"


def present(entry: ModelEntry) -> Path | None:
    """The downloaded file (or non-empty snapshot folder), else None."""
    path = local_path(entry)
    if entry.is_snapshot:
        return path if path.is_dir() and any(path.iterdir()) else None
    return path if path.is_file() else None


def usable(entry: ModelEntry) -> Path | None:
    """The path the app loads: the file, or for ToolRAG the converted ONNX dir."""
    if entry.kind == "toolrag":
        out = onnx_dir(entry)
        return out if (out / "model.onnx").is_file() else None
    return present(entry)


def _record_path(entry: ModelEntry) -> Path:
    return models_dir() / ".records" / f"{entry.name}.json"


def read_record(entry: ModelEntry) -> object:
    """The entry's record as JSON gives it ({} where there is none or it cannot be read)."""
    try:
        return json.loads(_record_path(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}


def write_record(entry: ModelEntry, record: dict[str, object]) -> None:
    rec = _record_path(entry)
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text(json.dumps(record, indent=1), encoding="utf-8")


def known_size(entry: ModelEntry) -> int | None:
    """The size `verify` checks a single file against: the manifest's, or the record's for a converted one."""
    record = read_record(entry)
    files = record.get("files") if isinstance(record, dict) else None
    want = files.get(entry.filename) if isinstance(files, dict) else None
    recorded = want.get("size") if isinstance(want, dict) else None
    recorded = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None
    if isinstance(record, dict) and record.get("converted"):
        return recorded
    return entry.size or recorded


def inside_folder(name: str) -> bool:
    """A relative path of plain components: no root, drive, `..`, backslash or control character."""
    if not name or len(name) > 1000 or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(ord(ch) < 32 for ch in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
