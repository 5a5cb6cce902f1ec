"""Clauses of training rows recombined into new requests with their plans (core/planner/recombine.py)."""

from __future__ import annotations

import random
from collections import Counter

from tinyagent.core.dag import plan_graph
from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import serialize
from tinyagent.core.planner.augment import MAX_COMBINED_TASKS
from tinyagent.core.planner.finetune import TrainSettings
from tinyagent.core.planner.recombine import Recombiner, clause_spans, pieces, recombined_request, units_of

# Requests of our own, in TinyAgent's manner, each with the plan a reference would have.
ROWS = [
    ('Text Omar that I am late, and open "Harbor Cafe" in Apple Maps.',
     '1. get_phone_number("Omar")\n2. send_sms(["$1"], "I am late")\n3. maps_open_location("Harbor Cafe")\n'
     '4. join()<END_OF_PLAN>'),
    ('Summarize "budget.pdf", then create a note called "Budget" with the summary. Also, remind me to pay rent '
     'tomorrow.',
     '1. open_and_get_file_path("budget.pdf")\n2. summarize_pdf("$1")\n3. create_note("Budget", "$2", "")\n'
     '4. create_reminder("Pay rent", "2024-03-02 09:00:00", "", "", 0, False)\n5. join()<END_OF_PLAN>'),
    ('Email Lena the agenda, then get directions from "Home" to "Office".',
     '1. get_email_address("Lena")\n2. compose_new_email(["$1"], [], "Agenda", "The agenda", [])\n'
     '3. maps_show_directions("Home", "Office", "d")\n4. join()<END_OF_PLAN>'),
    ('Create a calendar event "Standup" on Monday at 9 AM, and send an SMS to Omar about it.',
     '1. create_calendar_event("Standup", "2024-03-04 09:00:00", "2024-03-04 09:15:00", "", [], "", None)\n'
     '2. get_phone_number("Omar")\n3. send_sms(["$2"], "Standup on Monday at 9")\n4. join()<END_OF_PLAN>'),
    ('Open the note "Ideas" in the "Work" folder, and reply to the latest email saying thanks.',
     '1. open_note("Ideas", "Work")\n2. reply_to_email([], "Thanks", [])\n3. join()<END_OF_PLAN>'),
    ('Forward the email about the trip to Maya; then create a Zoom meeting "Trip" on Friday at 5 PM for 30 minutes.',
     '1. get_email_address("Maya")\n2. forward_email(["$1"], [], "", [])\n'
     '3. get_zoom_meeting_link("Trip", "2024-03-08 17:00:00", 30, [])\n4. join()<END_OF_PLAN>'),
]
ONE_PIECE = ('Summarize "notes.pdf", then append it to the note "Class".',  # two clauses, one piece: in doubt
             '1. open_and_get_file_path("notes.pdf")\n2. summarize_pdf("$1")\n3. append_note_content("Class", "$2", "")\n'
             '4. join()<END_OF_PLAN>')


def _rows(rows):
    return [(query, parse_plan(plan)) for query, plan in rows]


def test_a_request_is_cut_between_clauses_and_never_inside_quotes():
    query = 'Send "hi, then bye" to Omar, then open "A, B" in Maps. Also, remind me tomorrow.'
    assert [query[a:b] for a, b in clause_spans(query)] == [
        'Send "hi, then bye" to Omar', 'open "A, B" in Maps', "remind me tomorrow."]


def test_a_plan_falls_into_the_pieces_its_references_join():
    _query, plan = _rows(ROWS[1:2])[0]
    assert pieces(plan) == [[1, 2, 3], [4]]


def test_a_clean_row_splits_into_clauses_with_their_pieces_renumbered():
    query, plan = _rows(ROWS[3:4])[0]
    units = units_of(query, plan, row=7)
    assert units is not None
    assert [u.text for u in units] == ['Create a calendar event "Standup" on Monday at 9 AM',
                                       "send an SMS to Omar about it"]
    assert [serialize(u.plan, thoughts=False, comments=False) for u in units][1] == (
        '1. get_phone_number("Omar")\n2. send_sms(["$1"], "Standup on Monday at 9")\n3. join()<END_OF_PLAN>\n')
    assert {u.row for u in units} == {7}


def test_a_row_in_doubt_is_not_split():
    assert units_of(*_rows([ONE_PIECE])[0]) is None  # two clauses, one piece
    # as many clauses as pieces, but the second clause does not start with an action
    query = 'Text Omar that I am late, and "Harbor Cafe" should open in Apple Maps.'
    assert units_of(query, _rows(ROWS[:1])[0][1]) is None
    # the pieces asked in the other order than the clauses: still split, each with its own piece
    swapped = 'Open "Harbor Cafe" in Apple Maps, and text Omar that I am late.'
    units = units_of(swapped, _rows(ROWS[:1])[0][1])
    assert units is not None and [u.plan.tools for u in units] == [["maps_open_location"],
                                                                   ["get_phone_number", "send_sms"]]


def test_the_clauses_read_as_one_request():
    texts = ["Text Omar that I am late", "open the map", "Create a note"]
    for seed in range(10):
        request = recombined_request(texts, random.Random(seed))
        assert request.startswith("Text Omar that I am late") and request.endswith("create a note.")
        assert "open the map" in request


def test_a_recombined_row_asks_clauses_of_different_rows_with_the_plan_their_pieces_make():
    rows = _rows(ROWS + [ONE_PIECE])
    recombiner = Recombiner(rows)
    # five rows of two clauses and two pieces; the budget row (three clauses, two pieces) and the
    # one-piece row are in doubt and give none
    assert len(recombiner.units) == 10
    units_by_text = {u.text: u for u in recombiner.units}
    query, plan = rows[1]
    seen = set()
    for seed in range(30):
        new_query, new_plan = recombiner.recombine(query, plan, random.Random(seed))
        used = [u for text, u in units_by_text.items() if text[1:] in new_query]
        assert 2 <= len(used) <= 4 and len({u.row for u in used}) == len(used)
        assert new_plan.ok and new_plan.joined and len(new_plan.tasks) <= MAX_COMBINED_TASKS
        # the pieces' steps, a person two clauses look up looked up once
        steps = Counter(tool for u in used for tool in u.plan.tools)
        for name in ("Omar",):
            twice = sum(1 for u in used for t in u.plan.tasks if t.tool == "get_phone_number" and t.args[0] == name)
            steps["get_phone_number"] -= max(0, twice - 1)
        assert Counter(new_plan.tools) == +steps
        # every reference of every piece kept: a merged lookup feeds both its clauses
        assert plan_graph(new_plan).number_of_edges() == sum(plan_graph(u.plan).number_of_edges() for u in used)
        seen.add(new_query)
    assert len(seen) > 10


def test_recombining_is_seeded_and_a_pool_too_small_leaves_the_row_as_it_was():
    rows = _rows(ROWS)
    recombiner = Recombiner(rows)
    once = [recombiner.recombine(*rows[0], random.Random(s)) for s in range(5)]
    assert once == [recombiner.recombine(*rows[0], random.Random(s)) for s in range(5)]
    small = Recombiner(rows[:2])
    assert small.recombine(*rows[0], random.Random(0)) == rows[0]


def test_runs_without_recombining_keep_their_fingerprint():
    assert TrainSettings().fingerprint() == TrainSettings(p_recombine=0.0).fingerprint()
    assert TrainSettings(p_recombine=0.5).fingerprint() != TrainSettings().fingerprint()


def test_a_training_sample_of_a_recombined_row_asks_the_new_request_and_writes_its_plan():
    from tinyagent.core.planner.finetune import PromptCoder, Row, target_text

    def tokenize(text: str, bos: bool, special: bool) -> list[int]:
        return [3 + b for b in text.encode("utf-8")]

    coder = PromptCoder(lambda system, user: f"{system}\n{user}\n>", tokenize, "")
    rows = _rows(ROWS)
    recombiner = Recombiner(rows)
    row = Row("r1", *rows[0])
    settings = TrainSettings(p_recombine=1.0)
    sample = coder.sample(row, random.Random(3), settings, recombiner=recombiner)
    # the same draws, made by hand: the share's coin, then the recombination
    rng = random.Random(3)
    assert rng.random() < 1.0
    query, plan = recombiner.recombine(*rows[0], rng)
    assert query != rows[0][0]
    decode = lambda ids: bytes(i - 3 for i in ids).decode()  # noqa: E731
    assert decode(sample.target) == target_text(plan)
    assert query in decode(sample.prompt)
    assert coder.sample(row, random.Random(3), TrainSettings(), recombiner=recombiner).target == tokenize(
        target_text(rows[0][1]), False, True)  # p_recombine 0: the row as it is


def test_a_clause_that_does_not_name_its_action_is_not_a_unit():
    # "find Omar's number" is where the text message's lookup is asked, not the message itself
    query = "Find Omar's phone number, and open \"Harbor Cafe\" in Apple Maps."
    plan = parse_plan('1. get_phone_number("Omar")\n2. send_sms(["$1"], "I am late")\n3. maps_open_location("Harbor Cafe")\n'
                      '4. join()<END_OF_PLAN>')
    assert units_of(query, plan) is None
    assert units_of(query.replace("Find Omar's phone number", "Text Omar"), plan) is not None
