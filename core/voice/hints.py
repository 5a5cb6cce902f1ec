"""A hint for whisper: words the user is likely to say that a small model mishears.

whisper conditions its decoding on a prompt of earlier text (whisper.cpp's initial_prompt).
A prompt that spells the user's contacts' names makes the decoder prefer them ("And the email
to Anna" rather than "to hand them"). Measured on espeak-ng requests (bench/bench_voice.py):
tiny.en's word error rate 0.27 -> 0.22 with the sandbox's 15 names, no key word lost.

The names come from the user's own contacts, as the configured backend holds them: the
sandbox's database. The AppleScript backend has no cheap way to list the Contacts app, so
there the hint is empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from core.backends import sandbox_db_path
from core.config import Config
from tools.sandbox import SandboxBackend
from tools.sandbox.contacts import full_name

HINT_CHOICES = ("contacts", "none")
# whisper keeps at most n_text_ctx // 2 - 1 = 223 prompt tokens; a name is 2-4 tokens, and
# the hint is decoded before every request, so it stays well under that.
MAX_NAMES = 40


class HintUnavailable(Exception):
    """The contacts could not be read; transcription goes on without a hint."""


def names_hint(names: Iterable[str], limit: int = MAX_NAMES) -> str:
    """'Contacts: John Carter, Sarah Lindqvist.' from the first `limit` distinct names."""
    seen: dict[str, str] = {}
    for name in names:
        clean = " ".join(str(name).split())
        if clean:
            seen.setdefault(clean.casefold(), clean)
        if len(seen) >= limit:
            break
    return f"Contacts: {', '.join(seen.values())}." if seen else ""


def contact_names(config: Config) -> list[str]:
    """The configured backend's contacts' full names ([] where it cannot list them)."""
    if config.resolved_backend() != "sandbox":
        return []
    try:
        contacts = SandboxBackend(sandbox_db_path()).state()["contacts"]
    except (OSError, sqlite3.Error) as exc:
        raise HintUnavailable(f"cannot read the sandbox's contacts for the speech hint ({exc})") from None
    return [full_name(c) for c in contacts]


def voice_hint(config: Config) -> str:
    """The initial prompt `voice.hint` asks for: "" for none."""
    if config.voice.hint != "contacts":
        return ""
    return names_hint(contact_names(config))
