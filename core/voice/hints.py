"""A hint for whisper: words the user is likely to say that a small model mishears.

whisper conditions its decoding on a prompt of earlier text (whisper.cpp's initial_prompt).
Two kinds of words go into it:
- how the enabled apps are asked for ("Send a text. Create a note. Start a Zoom meeting."),
  so that a clipped first word is heard as the command it is ("Send an email" rather than
  "And the email", "Start a Zoom meeting" rather than "Tarte Moo meeting");
- the user's contacts' names ("to Anna" rather than "to hand them").
Measured on espeak-ng requests, beam search 5 (bench/bench_voice.py, README "Voice"): tiny.en's
word error rate with both 0.13 on the 12 the tests use and 0.20 on 24 others, with the names
alone 0.26 and 0.31; all key words heard in 9 / 12 and 15 / 24 requests against 7 and 11.

The names come from the user's own contacts, as the configured backend holds them
(core/backends.py `contact_names`: the sandbox's database; the AppleScript backend has no
cheap way to list the Contacts app, so there the hint has no names).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from tinyagent.core.backends import contact_names
from tinyagent.core.config import Config

# How each app is asked for aloud, in the words people use; short and common phrases work
# best (all 16 tools' phrases, 2.5x as long, heard fewer key words).
APP_PHRASES: dict[str, tuple[str, ...]] = {
    "messages": ("Send a text.",),
    "mail": ("Send an email.", "Reply to the email.", "Forward the email."),
    "notes": ("Create a note.", "Open the note."),
    "reminders": ("Remind me.",),
    "calendar": ("Schedule a meeting.",),
    "zoom": ("Start a Zoom meeting.",),
    "maps": ("Show directions.",),
}
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


def _names(config: Config) -> list[str]:
    try:
        return contact_names(config)
    except (OSError, sqlite3.Error) as exc:
        raise HintUnavailable(f"cannot read the sandbox's contacts for the speech hint ({exc})") from None


def commands_hint(apps: Iterable[str] | None) -> str:
    """The phrases of the enabled apps (all of them for None), in one line."""
    enabled = None if apps is None else set(apps)
    return " ".join(p for app, phrases in APP_PHRASES.items() if enabled is None or app in enabled for p in phrases)


def voice_hint(config: Config) -> str:
    """The initial prompt `voice.hint` asks for: "" for none."""
    if config.voice.hint == "none":
        return ""
    names = names_hint(_names(config))
    if config.voice.hint == "contacts":
        return names
    return " ".join(part for part in (commands_hint(config.apps), names) if part)
