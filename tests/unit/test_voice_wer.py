"""Word error rate, the measure the real-speech tests and bench/bench_voice.py report."""

from __future__ import annotations

import pytest

from tinyagent.core.voice.wer import edit_distance, word_error_rate, words


def test_words_ignore_case_and_punctuation_but_keep_apostrophes():
    assert words('Text Sarah: "I\'m running late!"') == ["text", "sarah", "i'm", "running", "late"]
    assert words("  'quoted'  -- ") == ["quoted"]


def test_edit_distance_counts_substitutions_deletions_insertions():
    assert edit_distance(["a", "b", "c"], ["a", "b", "c"]) == 0
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert edit_distance(["a", "b"], ["x", "a", "b", "y"]) == 2
    assert edit_distance([], ["a"]) == 1 and edit_distance(["a"], []) == 1


def test_word_error_rate():
    said = "Text Sarah that I'm running late"
    assert word_error_rate(said, "text sarah that I'm running late.") == 0.0
    # "Thanks for sharing with me, I'm running late.": 3 substitutions, 2 insertions over 6 words
    assert word_error_rate(said, "Thanks for sharing with me, I'm running late.") == pytest.approx(5 / 6)
    assert word_error_rate("a b", "") == 1.0
    with pytest.raises(ValueError):
        word_error_rate("", "anything")


def test_spelling_differences_are_not_errors_of_hearing():
    # whisper writes "6" and "e-mail" where "six" and "email" were said
    assert words("E-mail David at six-thirty") == ["email", "david", "at", "sixthirty"]
    said = "Send a text to Mike saying I'll be there at six"
    assert word_error_rate(said, "Send a text to Mike saying I'll be there at 6.") == 0.0
    assert word_error_rate("Email David", "e-mail David.") == 0.0
    assert word_error_rate("meet at ten", "meet at tan") == pytest.approx(1 / 3)  # a real mishearing still counts
    assert words("a - b") == ["a", "b"]  # a dash between words is punctuation
