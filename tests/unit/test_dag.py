from tinyagent.core.dag import critical_path, layers, plans_isomorphic, renumber, tool_recall
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


def test_tool_recall():
    assert tool_recall(["a", "b"], ["a", "b", "c", "c"]) == 2 / 3
    assert tool_recall([], []) == 1.0
