"""How fetching a model fails: each error's message says what is wrong and what to do.

The base `ModelStoreError` (and the manifest's own errors) live in core/model_manifest.py.
"""

from __future__ import annotations

from tinyagent.core.model_manifest import ModelStoreError


class DownloadError(ModelStoreError):
    pass


class ChecksumMismatch(DownloadError):
    pass


class Unreachable(DownloadError):
    """The hub (or mirror) did not answer at all; another source may."""


class BadEndpoint(DownloadError):
    """The endpoint (--endpoint or $HF_ENDPOINT) is not an http(s) URL with a host."""


class TermsNotAccepted(ModelStoreError):
    """The model comes under terms of use that were not accepted (the CLI exits 2)."""
