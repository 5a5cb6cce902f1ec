"""Word error rate: how far a transcript is from what was said, in words.

(substitutions + deletions + insertions) / words said, after both texts are normalised the
same way, so that differences of spelling are not counted as errors of hearing:
- lower-cased, punctuation and quotes dropped ("Text Sarah." = "text sarah");
- a hyphen inside a word joins its parts ("e-mail" = "email");
- a number said as a word is its digits ("six" = "6", as whisper writes most numbers).
"""

from __future__ import annotations

import re

_HYPHEN_IN_WORD = re.compile(r"(?<=[a-z0-9])-(?=[a-z0-9])")
_NOT_WORD = re.compile(r"[^a-z0-9']+")
_NUMBERS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_NUMBERS |= {word: str(n) for n, word in zip(range(30, 100, 10), "thirty forty fifty sixty seventy eighty ninety".split())}


def words(text: str) -> list[str]:
    """Normalised words; apostrophes inside a word are kept ("i'm")."""
    text = _HYPHEN_IN_WORD.sub("", text.lower())
    out = [w.strip("'") for w in _NOT_WORD.sub(" ", text).split()]
    return [_NUMBERS.get(w, w) for w in out if w]


def edit_distance(said: list[str], heard: list[str]) -> int:
    """Levenshtein distance over words (one row at a time)."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, start=1):
        prev_diag, row[0] = row[0], i
        for j, other in enumerate(heard, start=1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (word != other))
    return row[-1]


def word_error_rate(said: str, heard: str) -> float:
    reference = words(said)
    if not reference:
        raise ValueError("the reference text has no words")
    return edit_distance(reference, words(heard)) / len(reference)
