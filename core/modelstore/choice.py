"""Which model file the app loads: what is downloaded, a name resolved to its file, and the
model of a kind for a configured name (with a stand-in where the default is not here)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tinyagent.core import model_manifest
from tinyagent.core.model_manifest import ModelEntry, ModelMissing, adapter_path
from tinyagent.core.modelstore.cache import local_path, onnx_dir, present, usable
from tinyagent.core.modelstore.hub import manual_instructions


def status() -> list[tuple[ModelEntry, Path | None]]:
    """Every known model with its downloaded path, or None."""
    return [(entry, present(entry)) for entry in model_manifest.load_manifest()]


def resolve(name_or_path: str | Path) -> Path:
    """An existing path as is; a manifest name as its cached file, else `ModelMissing`."""
    text = str(name_or_path).strip()
    if not text:
        raise ModelMissing("no model given: name one from `tinyagent models list` or give a file path")
    path = Path(text).expanduser()
    if path.exists():
        return path
    entries = model_manifest.load_manifest()
    if not any(e.name == text for e in entries) and (
            os.sep in text or "/" in text or path.suffix or text.startswith(("~", "."))):
        raise ModelMissing(f"no such model file: {path}")
    entry = model_manifest.find(text, entries)  # an unknown name raises with the list of known names
    found = usable(entry)
    if found is not None:
        return found
    if entry.kind == "toolrag" and present(entry) is not None:
        raise ModelMissing(f"model {entry.name} is downloaded but not converted to ONNX yet: run "
                           f"`tinyagent models convert-toolrag {local_path(entry)} {onnx_dir(entry)}`")
    raise ModelMissing(f"model {entry.name} is not downloaded. {manual_instructions(entry)}")


def present_models(kind: str) -> list[tuple[ModelEntry, Path]]:
    """Downloaded models of a kind, the default first, then in manifest order."""
    rows = [(e, p) for e, p in status() if e.kind == kind and p is not None]
    return sorted(rows, key=lambda row: not row[0].default)


def present_planners() -> list[tuple[ModelEntry, Path]]:
    return present_models("planner")


@dataclass(frozen=True)
class ModelChoice:
    name: str  # what the app shows: a store name, or a file's name
    path: Path | None  # None: nothing here to load
    notice: str | None = None  # one line where the default is missing and another model stands in
    adapter: Path | None = None  # a planner entry's LoRA adapter, applied at load


PlannerChoice = ModelChoice  # the planner's choice, as the app and its tests name it

# How a stand-in's notice says what it does instead, and what pulling the missing default gets.
_STANDS_IN = {"planner": ("plans", "the model tinyagent is built for"),
              "whisper": ("transcribes", "the default voice model")}


def model_choice(kind: str, configured: str = "") -> ModelChoice:
    """The model of `kind` the app loads for its configured name (empty = the manifest's default).

    Where that is the default and it is not downloaded, any model of the kind that is here is
    used instead, with a one-line notice; a path or another model named on purpose is never swapped."""
    text = str(configured or "").strip()
    entries = model_manifest.load_manifest()
    default = next((e for e in entries if e.kind == kind and e.default), None)
    entry = next((e for e in entries if e.name == text), None) if text else default
    if entry is None:  # a file path (or an unknown name, which loading reports)
        path = Path(text).expanduser()
        return ModelChoice(path.name or text, path if path.is_file() else None)
    here = usable(entry)
    if here is not None or entry is not default:
        return ModelChoice(entry.name, here, adapter=adapter_path(entry))
    others = present_models(kind)
    if not others:
        return ModelChoice(entry.name, None)
    other, path = others[0]
    does, gets = _STANDS_IN.get(kind, ("is used", "it"))
    return ModelChoice(other.name, path, f"{entry.name} is not downloaded, so {other.name} {does} instead "
                                         f"(`tinyagent models pull {entry.name}` gets {gets})",
                       adapter_path(other))


def planner_choice(configured: str = "") -> ModelChoice:
    """The planner the app loads for `models.planner` (see `model_choice`)."""
    return model_choice("planner", configured)
