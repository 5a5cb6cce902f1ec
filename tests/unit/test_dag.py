from tinyagent.core.dag import critical_path, just_in_time, layers, plans_isomorphic, renumber, tool_recall
from tinyagent.core.parser import load_plan

PLAN = load_plan(
    '1. get_email_address("A")\n2. get_email_address("B")\n3. open_and_get_file_path("f")\n'
    '4. compose_new_email(["$1", "$2"], [], "s", "c", ["$3"])\n5. summarize_pdf("$3")\n'
    '6. create_note("n", "$5", "")\n7. join()<END_OF_PLAN>'
)


def test_layers_group_tasks_by_dependency_depth():
    assert layers(PLAN) == [[1, 2, 3], [4, 5], [6]]


def test_critical_path_with_and_without_durations():
    assert critical_path(PLAN) == [3, 5, 6]
    assert critical_path(PLAN, {1: 10.0, 4: 1.0, 3: 0.1, 5: 0.1, 6: 0.1}) == [1, 4]


def test_isomorphism_ignores_numbering_and_arguments_but_not_tools_or_edges():
    shuffled = renumber(PLAN, [3, 5, 2, 6, 1, 4])
    assert shuffled.tasks[0].tool == "open_and_get_file_path"
    assert plans_isomorphic(shuffled, PLAN)
    other_args = load_plan(PLAN.to_text().replace('"A"', '"Zed"'))
    assert plans_isomorphic(other_args, PLAN)
    lost_edge = load_plan(PLAN.to_text().replace('["$1", "$2"]', '["$1"]'))
    assert not plans_isomorphic(lost_edge, PLAN)
    other_tool = load_plan(PLAN.to_text().replace("create_note", "append_note_content"))
    assert not plans_isomorphic(other_tool, PLAN)


def test_just_in_time_puts_each_step_right_before_the_first_that_needs_it():
    # The actions (4: the email, 6: the note) keep their order; each brings what it needs, in
    # the plan's order, depth first; the file path the note's summary needs was placed already.
    assert just_in_time(PLAN) == [1, 2, 3, 4, 5, 6]
    hoisted = load_plan(
        '1. get_email_address("A")\n2. get_phone_number("B")\n3. maps_open_location("x")\n'
        '4. create_calendar_event("t", "2024-01-01 10:00:00", "2024-01-01 11:00:00", "", ["$1"], "", None)\n'
        '5. send_sms(["$2"], "Here: $3")\n6. join()<END_OF_PLAN>')
    order = just_in_time(hoisted)
    assert order == [1, 4, 2, 3, 5]
    moved = renumber(hoisted, order)
    assert [t.tool for t in moved.tasks] == ["get_email_address", "create_calendar_event", "get_phone_number",
                                              "maps_open_location", "send_sms"]
    assert moved.tasks[4].deps == (3, 4) and moved.tasks[1].deps == (1,)
    assert plans_isomorphic(moved, hoisted)
    lone = load_plan('1. open_note("n", "")\n2. get_phone_number("B")\n3. join()<END_OF_PLAN>')
    assert just_in_time(lone) == [1, 2]  # nothing needs anything: the plan's order


def test_tool_recall():
    assert tool_recall(["a", "b"], ["a", "b", "c", "c"]) == 2 / 3
    assert tool_recall([], []) == 1.0
