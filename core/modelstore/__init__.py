"""The model store: known models (models/manifest.yaml), where they live, and fetching them.

Files go to `cache_dir()/models/<filename>` (a whole-repository model such as ToolRAG to
`cache_dir()/models/<repo name>/`). A user without a network puts the file there by hand, or
passes any path instead of a name: `resolve` returns an existing path as is.

One room per concern, and this module the one door (`from tinyagent.core.modelstore import pull`):
  core/model_manifest.py  the manifest read into ModelEntry (below the store: the planner reads it too)
  cache.py         where files live, what is present, the record of each download
  hub.py           the Hugging Face hub or a mirror: endpoint, URLs, HEAD probes, file lists
  download.py      the resumable, checked download of a hub's files
  pypi.py          models carried in PyPI wheels (wheels.py: pip and zip), assembled and converted
  terms.py         terms of use that come with a PyPI model
  verification.py  checking a downloaded model's header, size and checksums
  choice.py        which file the app loads for a configured name, stand-ins included
  fetch.py         pull (hub first, else PyPI) and ensure_* (one model of a kind here)

A test swaps the manifest with `core.model_manifest.load_manifest` (the store calls it through
that module), and download retries' delay with `core.modelstore.download.RETRY_DELAY`.
"""

from __future__ import annotations

from tinyagent.core.model_manifest import (
    KINDS,
    ManifestError,
    ModelEntry,
    ModelMissing,
    ModelStoreError,
    PypiSource,
    WheelPart,
    adapter_path,
    default_model,
    find,
    load_manifest,
    parse_manifest,
)
from tinyagent.core.modelstore.cache import local_path, models_dir, onnx_dir, wheels_dir
from tinyagent.core.modelstore.choice import (
    ModelChoice,
    PlannerChoice,
    model_choice,
    planner_choice,
    present_models,
    present_planners,
    resolve,
    status,
)
from tinyagent.core.modelstore.download import Progress
from tinyagent.core.modelstore.errors import BadEndpoint, ChecksumMismatch, DownloadError, TermsNotAccepted, Unreachable
from tinyagent.core.modelstore.fetch import (
    OFFLINE_PLANNER,
    OFFLINE_WHISPER,
    SOURCES,
    Notice,
    ensure_model,
    ensure_planner,
    ensure_whisper,
    pull,
    sources,
)
from tinyagent.core.modelstore.hub import DEFAULT_ENDPOINT, check_endpoint, hub_answers, manual_instructions, manual_step
from tinyagent.core.modelstore.pypi import Converter, PypiOptions
from tinyagent.core.modelstore.terms import AcceptTerms, terms_accepted
from tinyagent.core.modelstore.verification import VerifyResult, verify

__all__ = [
    "DEFAULT_ENDPOINT", "KINDS", "OFFLINE_PLANNER", "OFFLINE_WHISPER", "SOURCES",
    "AcceptTerms", "BadEndpoint", "ChecksumMismatch", "Converter", "DownloadError", "ManifestError",
    "ModelChoice", "ModelEntry", "ModelMissing", "ModelStoreError", "Notice", "PlannerChoice", "Progress",
    "PypiOptions", "PypiSource", "TermsNotAccepted", "Unreachable", "VerifyResult", "WheelPart",
    "adapter_path", "check_endpoint", "default_model", "ensure_model", "ensure_planner", "ensure_whisper",
    "find", "hub_answers", "load_manifest", "local_path", "manual_instructions", "manual_step", "model_choice",
    "models_dir", "onnx_dir", "parse_manifest", "planner_choice", "present_models", "present_planners", "pull",
    "resolve", "sources", "status", "terms_accepted", "verify", "wheels_dir",
]
