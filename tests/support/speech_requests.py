"""Typical spoken requests for the real-speech tests and bench/bench_voice.py: what is said,
and the words the planner cannot do without (contact names, the verb, the object).

REQUESTS are the twelve the tests assert on. MORE_REQUESTS are 24 others, written before
anything was measured on them, that bench/bench_voice.py also reports: a change of hint or
decoding that helps only the twelve is fitted to them, not better.

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


MORE_REQUESTS: list[tuple[str, tuple[str, ...]]] = [
    ("Send a text to Mike saying I'll be there at six", ("text", "mike", "six")),
    ("Email David the slides from yesterday", ("email", "david", "slides")),
    ("Create a reminder to buy flowers on Saturday", ("create", "reminder", "flowers", "saturday")),
    ("Add a calendar event for lunch with Priya on Tuesday", ("calendar", "event", "lunch", "priya", "tuesday")),
    ("Get directions from home to the train station", ("directions", "home", "train", "station")),
    ("Open the note about the project plan", ("open", "note", "project", "plan")),
    ("Summarize the PDF called annual report", ("summarize", "pdf", "annual", "report")),
    ("Reply to the email from Grace and say thanks", ("reply", "email", "grace", "thanks")),
    ("Forward the latest email to Omar", ("forward", "email", "omar")),
    ("Find the phone number of Nina Petrov", ("phone", "number", "nina", "petrov")),
    ("Create a Zoom link for the team meeting at noon", ("zoom", "meeting", "noon")),
    ("Show the location of the museum on the map", ("location", "museum", "map")),
    ("Tell Emily I will call her after dinner", ("emily", "call", "dinner")),
    ("Text Alex that the game starts at eight", ("text", "alex", "game", "eight")),
    ("Send Daniel the photos from the trip", ("send", "daniel", "photos", "trip")),
    ("Remind me to water the plants on Sunday", ("remind", "water", "plants", "sunday")),
    ("Schedule a call with Mary next Wednesday", ("schedule", "call", "mary", "wednesday")),
    ("Add milk and bread to my shopping note", ("milk", "bread", "shopping", "note")),
    ("How do I get to the nearest pharmacy", ("nearest", "pharmacy")),
    ("Email the budget spreadsheet to Omar Haddad", ("email", "budget", "omar")),
    ("Create a meeting with Lisa and Tom tomorrow at ten", ("meeting", "lisa", "tom", "tomorrow", "ten")),
    ("Open the file called travel plans", ("open", "file", "travel", "plans")),
    ("Ask Grace if she is free for lunch on Thursday", ("grace", "lunch", "thursday")),
    ("Make a Zoom meeting for the book club", ("zoom", "meeting", "book", "club")),
]


VOICES = ("espeak", "flite:slt", "flite:rms", "flite:awb")  # flite's voices are bench-only (apt install flite)


def speak(text: str, path: str | Path, voice: str = "espeak") -> Path:
    """A WAV of `text`: espeak-ng's (22.05 kHz mono), which the tests use, or for a bench's
    second opinion one of CMU flite's voices ("flite:slt"), which sound less synthetic."""
    if voice == "espeak":
        command = ["espeak-ng", *ESPEAK_VOICE, "-w", str(path), text]
    elif voice.startswith("flite:"):
        command = ["flite", "-voice", voice.removeprefix("flite:"), "-t", text, "-o", str(path)]
    else:
        raise ValueError(f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}")
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    return Path(path)


def missing_key_words(key_words: tuple[str, ...], transcript: str) -> list[str]:
    from tinyagent.core.voice.wer import words

    heard = set(words(transcript))
    return [w for w in key_words if not set(words(w)) <= heard]  # normalised alike: "six" is heard as "6"
