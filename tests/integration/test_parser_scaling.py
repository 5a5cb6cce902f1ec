"""The plan parser does work in proportion to its input: no line, however written, makes it hang.

Each case runs in a child process with a generous limit that is a hang guard only (the cases
take well under a second; before the fixes they took minutes): the regex engine holds the GIL,
so a thread could not be stopped.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

HANG_GUARD_S = 60

# The line patterns are matched on lines longer than any plan allows (200 KB, not 20 KB), so a
# pattern that backtracks quadratically would need hours, not the seconds a 20 KB line took.
PATTERNS = textwrap.dedent("""
    from tinyagent.core import parser
    run = " " * 200_000
    for text in ("join()" + run + "x", "join()" + run + ";" + run + "x", "join" + run + "(" + run + "x",
                 "1" * 200_000 + run + "x", "thought" + run + ":" + run, "a" * 200_000 + run + "x"):
        for pattern in (parser._JOIN, parser._NUMBERED, parser._THOUGHT, parser._CALL_START):
            pattern.match(text)
    print("ok")
""")

# A 20 KB line of spaces after join(): the case that took 12 s, through the whole parser.
WHOLE_LINE = textwrap.dedent("""
    from tinyagent.core.parser import parse_plan
    plan = parse_plan('1. get_phone_number("Ann")\\n2. join()' + " " * 19_980 + "x\\n")
    assert not plan.joined
    print("ok")
""")

# A 1 MB line streamed one character at a time, as a model streams tokens: once this rescanned
# and copied the whole line on every chunk (n^2 / 2 characters).
STREAMED = textwrap.dedent("""
    from tinyagent.core.parser import PlanParser
    parser = PlanParser()
    for ch in '1. get_phone_number("' + "a" * 1_000_000 + '")\\n2. join()<END_OF_PLAN>':
        parser.feed(ch)
    plan = parser.close()
    assert parser.ended and "too long" in str(plan.errors[0])
    print("ok")
""")


@pytest.mark.parametrize("script", [PATTERNS, WHOLE_LINE, STREAMED], ids=["patterns", "whole-line", "streamed"])
def test_adversarial_lines_parse_without_hanging(script):
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still parsing after {HANG_GUARD_S} s: the parser backtracks or rescans")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
