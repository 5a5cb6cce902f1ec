"""Swapping a training row's names (core/planner/augment.py): consistent in request and plan, the
plan's graph kept, and only values the request spells out, replaced by others of their kind."""

from __future__ import annotations

import random

from tinyagent.core.dag import plans_isomorphic
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import serialize
from tinyagent.core.planner.augment import Swapper

TEXT_AND_MAP = (
    'Text Omar and Lena the way to "Blue Bottle", and open "Budget.xlsx".',
    '1. get_phone_number("Omar")\n2. get_phone_number("Lena")\n3. maps_show_directions("", "Blue Bottle", "d")\n'
    '4. send_sms(["$1", "$2"], "Omar, Lena: the way to Blue Bottle is $3")\n'
    '5. open_and_get_file_path("Budget.xlsx")\n6. join()<END_OF_PLAN>\n',
)
OTHERS = [
    ('Email Priya the "Q3 notes.pdf"', '1. get_email_address("Priya")\n2. open_and_get_file_path("Q3 notes.pdf")\n'
     '3. compose_new_email(["$1"], [], "Notes", "Here they are", ["$2"])\n4. join()<END_OF_PLAN>\n'),
    ('Call up Marco and the team at "Union Square"', '1. get_phone_number("Marco")\n2. get_phone_number("team")\n'
     '3. maps_open_location("Union Square")\n4. join()<END_OF_PLAN>\n'),
    ('Email ana@example.com about it', '1. compose_new_email(["ana@example.com"], [], "It", "About it", [])\n'
     '2. join()<END_OF_PLAN>\n'),
]


def _rows(pairs):
    return [(query, parse_plan(plan)) for query, plan in pairs]


def test_swapped_values_change_in_request_and_plan_alike():
    rows = _rows([TEXT_AND_MAP, *OTHERS])
    swapper = Swapper(rows)
    assert swapper.pools["person"] == ["Lena", "Marco", "Omar", "Priya"]  # "team" is not a name
    assert swapper.pools["place"] == ["Blue Bottle", "Union Square"]
    query, plan = rows[0]
    new_query, new_plan = swapper.swap(query, plan, random.Random(3))
    assert plans_isomorphic(new_plan, plan)
    text = serialize(new_plan, thoughts=False, comments=False)
    for old in ("Omar", "Lena", "Blue Bottle", "Budget.xlsx"):
        assert old not in new_query and old not in text
    assert "Union Square" in new_query and '"Union Square"' in text  # the only other place
    assert "Q3 notes.pdf" in new_query and 'open_and_get_file_path("Q3 notes.pdf")' in text
    sms = new_plan.task(4)  # the message text follows the names it mentions
    first, second = new_plan.task(1).args[0], new_plan.task(2).args[0]
    assert {first, second} <= {"Marco", "Priya"} and first != second
    assert f"{first}, {second}:" in sms.args[1].parts[0]


def test_a_row_with_nothing_to_swap_is_kept_as_it_is():
    rows = _rows(OTHERS)
    swapper = Swapper(rows)
    query, plan = 'Reply "thanks" to the email', parse_plan('1. reply_to_email([], "thanks", [])\n2. join()<END_OF_PLAN>\n')
    assert swapper.swap(query, plan, random.Random(0)) == (query, plan)
    alone = Swapper(rows[2:])  # no other email address to swap in
    assert alone.swap(*rows[2], random.Random(0)) == rows[2]


def test_swaps_are_seeded():
    rows = _rows([TEXT_AND_MAP, *OTHERS])
    swapper = Swapper(rows)
    once = [swapper.swap(*rows[0], random.Random(s))[0] for s in range(6)]
    again = [swapper.swap(*rows[0], random.Random(s))[0] for s in range(6)]
    assert once == again and len(set(once)) > 1


# -- two requests as one ------------------------------------------------------------------------
from tinyagent.core.planner.augment import MAX_COMBINED_TASKS, Combiner, combined_plan, combined_request  # noqa: E402
from tinyagent.core.planner.finetune import TrainSettings  # noqa: E402


def test_the_second_plan_follows_renumbered_and_a_shared_lookup_is_made_once():
    first = parse_plan('1. get_phone_number("Omar")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>')
    second = parse_plan('1. open_and_get_file_path("a.pdf")\n2. get_phone_number("Omar")\n'
                        '3. get_phone_number("Lena")\n4. send_sms(["$2", "$3"], "See $1")\n5. join()<END_OF_PLAN>')
    merged = combined_plan(first, second)
    assert serialize(merged, thoughts=False, comments=False) == (
        '1. get_phone_number("Omar")\n2. send_sms(["$1"], "hi")\n3. open_and_get_file_path("a.pdf")\n'
        '4. get_phone_number("Lena")\n5. send_sms(["$1", "$4"], "See $3")\n6. join()<END_OF_PLAN>\n')


def test_the_requests_read_as_one():
    assert combined_request("Text Omar", "Send Lena the file.", "Then, ") == "Text Omar. Then, send Lena the file."
    assert combined_request("Text Omar!", "John's email needs a reply", "Also, ") == (
        "Text Omar! Also, John's email needs a reply")


def test_a_partner_is_only_taken_where_the_plan_stays_within_the_longest_shared_length():
    rows = _rows([TEXT_AND_MAP, *OTHERS])
    combiner = Combiner(rows)
    query, plan = rows[0]  # 5 tasks: only a partner of at most 3 fits
    for seed in range(20):
        new_query, new_plan = combiner.combine(query, plan, random.Random(seed))
        assert new_query.startswith(query) and new_query != query
        assert plan.tasks == new_plan.tasks[:len(plan.tasks)] and len(new_plan.tasks) <= MAX_COMBINED_TASKS
        assert new_plan.ok and new_plan.joined
    alone = Combiner(rows[:1])  # no other row to pair with
    assert alone.combine(query, plan, random.Random(0)) == (query, plan)


def test_runs_without_combining_keep_their_fingerprint():
    assert TrainSettings().fingerprint() == TrainSettings(p_combine=0.0).fingerprint()
    assert TrainSettings(p_combine=0.5).fingerprint() != TrainSettings().fingerprint()


def test_training_has_malloc_return_what_a_step_frees_on_glibc():
    import platform
    import sys

    from tinyagent.core.planner.finetune import return_freed_memory

    expected = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
    assert return_freed_memory() is expected
