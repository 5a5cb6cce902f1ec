"""Word error rate: how far a transcript is from what was said, in words.

(substitutions + deletions + insertions) / words said, after both texts are lower-cased and
stripped of punctuation, so "Text Sarah." and "text sarah" count as the same.
"""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words; punctuation and quotes around words are dropped, apostrophes inside kept."""
    return [w.strip("'") for w in _NOT_WORD.sub(" ", text.lower()).split() if w.strip("'")]


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
