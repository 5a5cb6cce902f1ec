"""The planner model the config asks for, built as core/backends.py builds the tool backend:
in process from a GGUF found through the model store, or a llama.cpp server.

The planner layer (core/planner/) sits below the model store and knows nothing of it: it is
handed the file to load (`PlannerFile`). Finding that file is done here: `--model` as given;
else the configured planner, or where the default is not downloaded, a planner that is (the
store decides, and says so in a notice).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tinyagent.core.config import Config
from tinyagent.core.modelstore import ModelStoreError, planner_choice, resolve
from tinyagent.core.planner.llm import LocalLLM, ModelLoadError, PlannerFile, PlannerModel
from tinyagent.core.planner.server import ServerLLM


def load_planner(config: Config, model_override: str | Path | None = None) -> PlannerModel:
    """The planner named by `--model`, or config `models.planner` (a path or a store name); on
    `planner.server`, that server, with `--model` naming a local copy of its GGUF.
    Raises ModelLoadError, or ServerError for a server that cannot be used."""
    if config.planner.server:
        if config.planner.adapter:
            raise ModelLoadError("planner.adapter applies to in-process planning; a llama.cpp server loads its "
                                 "adapter itself (llama-server --lora)")
        copy = resolve_model_path(str(model_override)) if model_override else None
        return ServerLLM.from_config(config, copy)
    name = str(model_override or config.models.planner or "")
    found = planner_file(name, explicit=bool(model_override))
    if config.planner.adapter:  # the user's adapter (e.g. train-planner's) in place of the entry's
        found = dataclasses.replace(found, adapter=Path(config.planner.adapter).expanduser())
    return LocalLLM.from_config(config, found)


def planner_file(name: str, *, explicit: bool) -> PlannerFile:
    """The file to load for a configured (or, `explicit`, a --model) name. --model is taken as
    given; else the store's choice, a stand-in with its notice where the default is missing.
    A manifest name brings its adapter (e.g. qwen2.5-coder-0.5b-tinyagent), given or configured."""
    try:
        choice = planner_choice(name) if not explicit or not _looks_like_path(name) else None
    except ModelStoreError:  # e.g. a broken manifest: resolve_model_path says what is wrong
        choice = None
    if choice is not None and choice.path is not None and (not explicit or choice.name == name):
        return PlannerFile(choice.path, choice.adapter, choice.notice)
    if choice is not None and not name:
        name = choice.name  # the default's name: the store says how to get it
    return PlannerFile(resolve_model_path(name))


def _looks_like_path(name: str) -> bool:
    return name.endswith(".gguf") or os.sep in name or "/" in name or name.startswith((".", "~"))


def resolve_model_path(name: str) -> Path:
    """A GGUF path, or a model-store name resolved by `core.modelstore`."""
    if not name:
        raise ModelLoadError("no planner model is configured: pass --model PATH to a GGUF file, or download "
                             "one with `tinyagent models pull` and set models.planner in config.yaml")
    if _looks_like_path(name) or Path(name).expanduser().exists():
        return Path(name).expanduser()
    try:
        return Path(resolve(name))
    except ModelStoreError as exc:  # the store says what to download and where
        raise ModelLoadError(str(exc)) from None
