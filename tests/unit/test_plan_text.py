"""The plan editor shows hidden characters as escapes, and the plan they parse to is unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Plan
from tinyagent.core.sanitize import visible
from tinyagent.tui.widgets.plan_text import escape_hidden

HIDDEN = ["\u202e", "\u2066", "\x9b", "\x85", "\x1b", "\u200b", "\ufeff", "\x07", "\t", "\u2028"]


def calls(plan: Plan) -> list[tuple[str, tuple[object, ...]]]:
    return [(t.tool, tuple(t.args)) for t in plan.tasks]


def shown_plainly(text: str) -> bool:
    """Nothing in `text` is drawn other than as it reads (a tab between arguments is left as
    it is: the text area draws it as spaces)."""
    return all(visible(line) == line for line in text.replace("\t", " ").split("\n"))


def test_a_bidi_override_in_a_string_is_shown_as_its_escape_and_means_the_same():
    text = '1. send_sms(["+1 415 555 0104"], "pay \u202eevil\x9b2J")\n2. join()<END_OF_PLAN>'
    shown = escape_hidden(text)
    assert "\\u202e" in shown and "\\x9b" in shown and shown_plainly(shown)
    assert calls(parse_plan(shown)) == calls(parse_plan(text)) and parse_plan(shown).ok


def test_a_backslash_before_a_hidden_character_keeps_its_meaning():
    text = '1. send_sms(["+1 415 555 0104"], "a\\\u202eb")\n2. join()<END_OF_PLAN>'
    original = calls(parse_plan(text))
    assert original[0][1][1] == "a\\\u202eb"  # Python keeps an unknown escape's backslash
    assert calls(parse_plan(escape_hidden(text))) == original


def test_plain_plans_are_left_exactly_as_they_are():
    text = '1. get_email_address("Sarah")\n2. compose_new_email(["$1"], [], "Hi\\n", "x", [])\n3. join()<END_OF_PLAN>\n'
    assert escape_hidden(text) == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(HIDDEN), st.sampled_from(['a', ' ', '\\', '"', "'", 'é', '$1'])),
                max_size=12))
def test_any_string_argument_parses_to_the_same_plan_once_escaped(pieces):
    body = "".join(pieces).replace('"', '\\"')  # hidden characters and backslashes stay raw
    text = f'1. create_note("T", "{body}", "")\n2. join()<END_OF_PLAN>'
    shown, plan = escape_hidden(text), parse_plan(text)
    assert shown_plainly(shown)
    assert (parse_plan(shown).ok, calls(parse_plan(shown))) == (plan.ok, calls(plan))
