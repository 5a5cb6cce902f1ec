"""Typical spoken requests for the real-speech tests and bench/bench_voice.py: what is said,
and the words the planner cannot do without (contact names, the verb, the object).

espeak-ng speaks them with an American voice a little slower than its default (150 words a
minute instead of 175), which whisper tiny.en understood best of the settings tried.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ESPEAK_VOICE = ["-v", "en-us", "-s", "150"]

# (request, key words); a key word is matched as a whole word of the lower-cased transcript
REQUESTS: list[tuple[str, tuple[str, ...]]] = [
    ("Text Sarah that I'm running late", ("text", "sarah", "late")),
    ("Create a note called groceries with milk and eggs", ("create", "note", "groceries", "milk", "eggs")),
    ("What's the phone number of John Carter", ("phone", "number", "john", "carter")),
    ("Send an email to Anna about the budget meeting", ("send", "email", "anna", "budget")),
    ("Remind me to call the dentist tomorrow morning", ("remind", "call", "dentist", "tomorrow")),
    ("Schedule a meeting with Lisa on Friday afternoon", ("schedule", "meeting", "lisa", "friday")),
    ("Show me directions to the airport", ("directions", "airport")),
    ("Open the quarterly report in the documents folder", ("open", "quarterly", "report", "folder")),
    ("Start a Zoom meeting with the design team", ("start", "zoom", "meeting", "design")),
    ("Find the email address of Michael Brown", ("email", "address", "michael", "brown")),
    ("Set a reminder to pay the rent on Monday", ("reminder", "pay", "rent", "monday")),
    ("Message Tom that the report is ready", ("message", "tom", "report", "ready")),
]


def speak(text: str, path: str | Path) -> Path:
    """espeak-ng's WAV (22.05 kHz mono) of `text`."""
    subprocess.run(["espeak-ng", *ESPEAK_VOICE, "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return Path(path)


def missing_key_words(key_words: tuple[str, ...], transcript: str) -> list[str]:
    from core.voice.wer import words

    heard = set(words(transcript))
    return [w for w in key_words if w not in heard]
