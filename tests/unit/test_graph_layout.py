"""The DAG drawing, alone: every dependency edge, including ones that skip layers, is a line
a reader can follow from the parent's box to an arrow on the child's box."""

from __future__ import annotations

import pytest

from tinyagent.core.parser import parse_plan
from tinyagent.tui.widgets.graph_layout import BOX_H, DOWN, LEFT, RIGHT, UP, Canvas, NodeState, draw

SKIP = """1. get_email_address("A")
2. open_and_get_file_path("f")
3. summarize_pdf("$2")
4. compose_new_email(["$1"], [], "s", "$3", ["$2"])
5. join()<END_OF_PLAN>
"""

SIMPLE = """1. get_email_address("Sarah")
2. get_phone_number("Mike")
3. compose_new_email(["$1"], [], "Running late", "Hi Sarah, I'm running 10 minutes late. Sorry!", [])
4. send_sms(["$2"], "Running late, see you at 3:10")
5. join()<END_OF_PLAN>
"""

# six tasks in one layer: at 80 columns the layer takes two rows, so edges skip rows there too
WIDE = "\n".join([f'{i}. get_phone_number("P{i}")' for i in range(1, 7)]
                 + [f'{i}. send_sms(["${i - 6}"], "x")' for i in range(7, 13)]) + "\n13. join()<END_OF_PLAN>\n"

CHAIN = """1. get_email_address("A")
2. get_phone_number("B")
3. open_and_get_file_path("f")
4. summarize_pdf("$3")
5. summarize_pdf("$4")
6. compose_new_email(["$1"], [], "s", "$5", ["$3"])
7. send_sms(["$2"], "$5")
8. send_sms(["$2"], "$4")
9. get_phone_number("C")
10. send_sms(["$9"], "$6")
11. join()<END_OF_PLAN>
"""

# what SIMPLE looked like before lanes existed: plans without skipping edges must not change
SIMPLE_80 = """\
         ┌ 1 get_email_address ───────┐  ┌ 2 get_phone_number ────────┐
         │"Sarah"                     │  │"Mike"                      │
         │○ waiting                   │  │○ waiting                   │
         └──────────────┬─────────────┘  └──────────────┬─────────────┘
                        │                               │
                        │                               │
                        ▼                               ▼
         ┌ 3 compose_new_email ───────┐  ┌ 4 send_sms ────────────────┐
         │["$1"], [], "Running late",…│  │["$2"], "Running late, see …│
         │○ waiting                   │  │○ waiting                   │
         └ needs $1 ──────────────────┘  └ needs $2 ──────────────────┘"""

_OPEN = {"│": UP | DOWN, "─": LEFT | RIGHT, "┌": DOWN | RIGHT, "┐": DOWN | LEFT, "└": UP | RIGHT,
         "┘": UP | LEFT, "├": UP | DOWN | RIGHT, "┤": UP | DOWN | LEFT, "┬": LEFT | RIGHT | DOWN,
         "┴": LEFT | RIGHT | UP, "┼": UP | DOWN | LEFT | RIGHT, "▼": UP}
_STEP = {UP: (0, -1, DOWN), DOWN: (0, 1, UP), LEFT: (-1, 0, RIGHT), RIGHT: (1, 0, LEFT)}


def _nodes(source: str) -> dict[int, NodeState]:
    return {t.id: NodeState(t) for t in parse_plan(source).tasks}


def _connected(canvas: Canvas, parent: int, child: int) -> bool:
    """Follow edge characters from just under the parent's box to the arrow over the child's.
    A ┼ is a crossing, so the walk goes straight through it; other joints may turn. Cells
    inside boxes are not edges (box borders use the same characters)."""
    rows = canvas.text().split("\n")

    def char(x: int, y: int) -> str:
        if not 0 <= y < len(rows) or not 0 <= x < len(rows[y]):
            return " "
        if any(b.contains(x, y) for b in canvas.boxes.values()):
            return " "
        return rows[y][x]

    start, goal = canvas.boxes[parent], canvas.boxes[child]
    assert rows[start.y + BOX_H - 1][start.cx] == "┬", "the parent's box shows an edge leaving it"
    todo = [(start.cx, start.y + BOX_H, UP)]  # (x, y, the side we came in from)
    seen = set()
    while todo:
        x, y, came = todo.pop()
        ch = char(x, y)
        if (x, y, came) in seen or not _OPEN.get(ch, 0) & came:
            continue
        seen.add((x, y, came))
        if ch == "▼":
            if (x, y) == (goal.cx, goal.y - 1):
                return True
            continue
        exits = _OPEN[ch] & ~came
        if ch == "┼":
            exits = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}[came]
        for d, (dx, dy, back) in _STEP.items():
            if exits & d:
                todo.append((x + dx, y + dy, back))
    return False


def _deps(nodes: dict[int, NodeState]) -> list[tuple[int, int]]:
    return [(d, c) for c in nodes for d in nodes[c].task.deps if d in nodes]


@pytest.mark.parametrize("width", [40, 80, 120])
def test_a_layer_skipping_edge_is_a_continuous_line(width):
    nodes = _nodes(SKIP)
    canvas = draw(nodes, width, now=0)
    assert canvas.boxes[4].y - canvas.boxes[1].y > 2 * BOX_H  # 1 -> 4 really skips a layer
    assert _connected(canvas, 1, 4)
    for parent, child in _deps(nodes):
        assert _connected(canvas, parent, child), (parent, child, canvas.text())
    assert canvas.width == max(width, 17)  # the lane fits in the view: no sideways scrolling


def test_skipping_edge_runs_beside_the_box_in_between():
    canvas = draw(_nodes(SKIP), 80, now=0)
    box3 = canvas.boxes[3]
    rows = canvas.text().split("\n")
    beside = [rows[y] for y in range(box3.y, box3.y + BOX_H)]
    # box 3 sits between 1 and 4; two lanes (from 1 and from 2) pass it, one on each side
    assert all(row[: box3.x].count("│") == 1 and row[box3.x + box3.w :].count("│") == 1 for row in beside)


def test_a_plan_without_skipping_edges_renders_as_before():
    assert draw(_nodes(SIMPLE), 80, now=0).text() == SIMPLE_80


@pytest.mark.parametrize("source", [WIDE, CHAIN], ids=["wide", "chain"])
@pytest.mark.parametrize("width", [40, 80, 160])
def test_every_dependency_of_a_large_plan_is_drawn(source, width):
    nodes = _nodes(source)
    assert len(nodes) >= 10
    canvas = draw(nodes, width, now=0)
    for parent, child in _deps(nodes):
        assert _connected(canvas, parent, child), (parent, child, "\n" + canvas.text())
    assert canvas.width == width


def test_selecting_a_child_highlights_its_lane():
    canvas = draw(_nodes(SKIP), 80, selected=4, now=0)
    box1, box3 = canvas.boxes[1], canvas.boxes[3]
    lane = [x for x in range(box3.x) if canvas.chars[box3.y + 1][x] == "│"]
    assert lane and canvas.roles[box3.y + 1][lane[0]].endswith("-sel")
    assert not draw(_nodes(SKIP), 80, selected=3, now=0).roles[box3.y + 1][lane[0]].endswith("-sel")
    assert box1.task_id == 1


def test_remembered_placement_never_serves_another_plan_or_width():
    from tinyagent.tui.widgets import graph_layout

    fan = _nodes('1. get_email_address("A")\n2. get_email_address("B")\n'
                 '3. send_sms(["$1", "$2"], "x")\n4. join()<END_OF_PLAN>')
    chain = _nodes('1. get_email_address("A")\n2. send_sms(["$1"], "x")\n'
                   '3. send_sms(["$2"], "y")\n4. join()<END_OF_PLAN>')  # same ids, other edges

    def fresh(nodes, width):
        graph_layout._last_placement = None
        return draw(nodes, width).text()

    expected = {(name, w): fresh(nodes, w) for name, nodes in (("fan", fan), ("chain", chain)) for w in (40, 80)}
    assert expected[("fan", 80)] != expected[("chain", 80)]
    for name, width in [("fan", 80), ("chain", 80), ("chain", 40), ("fan", 40), ("fan", 80), ("fan", 80)]:
        nodes = fan if name == "fan" else chain
        assert draw(nodes, width).text() == expected[(name, width)]
