"""A plan written as text and read again means the same: parse_plan(serialize(plan)) == plan.

The editor, history and the examples file all keep plans as text, so every plan the parser can
produce must survive the writer: `$` runs next to references, `${N}`, the end marker inside a
string, empty thoughts, line separators Python and YAML treat differently.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import END_OF_PLAN, Plan, Ref, Task, Template, serialize

TRICKY = ["$", "$$", "$1", "${1}", "{", "}", "1", "12", "\\", '"', "'", "#", "\n", "\r", "\t", "\x00", "\x0b",
          "\x1c", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", END_OF_PLAN, "<", " ", "a", "é", "\U0001f600"]
_chars = st.characters(blacklist_categories=("Cs",))  # lone surrogates are refused, not plans
text = st.lists(st.one_of(st.sampled_from(TRICKY), _chars), max_size=12).map("".join)
line_text = text.map(lambda s: s.replace("\n", " ").replace("\r", " ").replace(END_OF_PLAN, "").strip())


@st.composite
def template(draw, earlier: int):
    """A Template as the parser builds one: text and references, no empty or adjacent texts."""
    items = draw(st.lists(st.one_of(text, st.integers(1, earlier).map(Ref)), min_size=1, max_size=5))
    parts: list[str | Ref] = []
    for item in items:
        if isinstance(item, str) and parts and isinstance(parts[-1], str):
            parts[-1] += item
        elif item != "":
            parts.append(item)
    if not any(isinstance(p, Ref) for p in parts):
        parts.append(Ref(earlier))
    if len(parts) == 1:  # "$N" alone is a Ref, not a Template
        parts.append("!")
    return Template(tuple(parts))


def value(earlier: int):
    scalars = [text, st.integers(-(2**63) + 1, 2**63 - 1), st.booleans(), st.none(),
               st.floats(allow_nan=False, allow_infinity=False)]
    if earlier:
        scalars += [st.integers(1, earlier).map(Ref), template(earlier)]
    scalar = st.one_of(*scalars)
    return st.one_of(scalar, st.lists(scalar, max_size=3))


@st.composite
def plans(draw):
    tasks = []
    for task_id in range(1, draw(st.integers(1, 4)) + 1):
        args = draw(st.lists(value(task_id - 1), max_size=3))
        thought = draw(st.one_of(st.none(), line_text.filter(bool)))
        comment = draw(st.one_of(st.none(), line_text.filter(lambda c: c and "\x00" not in c)))  # Python refuses a NUL
        tasks.append(Task(task_id, draw(st.sampled_from(["tool", "send_sms", "x1"])), tuple(args),
                          thought=thought, comment=comment))
    return Plan(tuple(tasks), joined=True)


@settings(max_examples=200, deadline=None)
@given(plans())
def test_every_plan_reads_back_as_written(plan):
    written = serialize(plan)
    again = parse_plan(written, registry=None)
    assert not again.errors, (written, again.errors)
    assert again == plan, written


def test_a_dollar_right_before_a_reference_stays_a_dollar():
    text = f'1. get_phone_number("Ann")\n2. send_sms(["$1"], "Team C$$$1ourse and C$$${{1}}0")\n3. join(){END_OF_PLAN}'
    plan = parse_plan(text)
    assert plan.tasks[1].args[1] == Template(("Team C$", Ref(1), "ourse and C$", Ref(1), "0"))
    assert parse_plan(serialize(plan)) == plan


def test_an_empty_thought_line_is_no_thought():
    plan = parse_plan(f'1. get_phone_number("Ann")\nThought:\n2. send_sms(["$1"], "hi")\n3. join(){END_OF_PLAN}')
    assert plan.ok and plan.tasks[1].thought is None
    assert parse_plan(serialize(plan)) == plan


def test_the_end_marker_inside_a_string_is_written_so_it_does_not_end_the_plan():
    plan = parse_plan(f'1. get_phone_number("\\x3cEND_OF_PLAN>")\n2. join(){END_OF_PLAN}')
    assert plan.ok and plan.tasks[0].args == (END_OF_PLAN,)
    assert parse_plan(serialize(plan)) == plan
