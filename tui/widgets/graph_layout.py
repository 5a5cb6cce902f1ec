"""Draw a plan's DAG as text: tasks in dependency layers (top to bottom), boxes side by side
within a layer, edges routed through lanes between layers. Pure: no Textual, testable alone.

    nodes = {1: NodeState(task1), 2: NodeState(task2)}
    canvas = draw(nodes, width=60, selected=2, now=time.monotonic())
    canvas.lines  # list of [(text, role)] runs; roles map to theme styles in the widget
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tinyagent.core.events import TaskStatus
from tinyagent.core.plan import Task, format_value
from tinyagent.core.sanitize import visible

BOX_H = 4
MIN_BOX_W = 17
MAX_BOX_W = 30
GAP_X = 2

ICONS = {
    TaskStatus.WAITING: "○", TaskStatus.RUNNING: "◐", TaskStatus.AWAITING_APPROVAL: "?",
    TaskStatus.DONE: "✓", TaskStatus.FAILED: "✗", TaskStatus.SKIPPED: "↷", TaskStatus.DENIED: "⊘",
    TaskStatus.CANCELLED: "■", TaskStatus.DRY_RUN: "◌", TaskStatus.UNKNOWN: "‽",
}
LABELS = {
    TaskStatus.WAITING: "waiting", TaskStatus.RUNNING: "running", TaskStatus.AWAITING_APPROVAL: "needs approval",
    TaskStatus.DONE: "done", TaskStatus.FAILED: "failed", TaskStatus.SKIPPED: "skipped",
    TaskStatus.DENIED: "denied", TaskStatus.CANCELLED: "cancelled", TaskStatus.DRY_RUN: "dry-run",
    TaskStatus.UNKNOWN: "may have run",
}


@dataclass
class NodeState:
    task: Task
    status: TaskStatus = TaskStatus.WAITING
    started: float | None = None
    duration: float | None = None
    args: dict[str, Any] | None = None  # resolved arguments, once known
    output: Any = None
    error: str | None = None
    decision: str | None = None

    def elapsed(self, now: float | None = None) -> float | None:
        if self.duration is not None and self.status.finished:
            return self.duration
        if self.started is not None:
            return (now or time.monotonic()) - self.started
        return None


@dataclass
class Box:
    task_id: int
    x: int
    y: int
    w: int

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.x + self.w and self.y <= y < self.y + BOX_H


UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
_JOINTS = {
    UP | DOWN: "│", LEFT | RIGHT: "─", UP: "│", DOWN: "│", LEFT: "─", RIGHT: "─",
    DOWN | RIGHT: "┌", DOWN | LEFT: "┐", UP | RIGHT: "└", UP | LEFT: "┘",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", LEFT | RIGHT | DOWN: "┬", LEFT | RIGHT | UP: "┴",
    UP | DOWN | LEFT | RIGHT: "┼",
}


@dataclass
class Canvas:
    width: int
    height: int = 0
    chars: list[list[str]] = field(default_factory=list)
    roles: list[list[str]] = field(default_factory=list)
    bits: dict[tuple[int, int], int] = field(default_factory=dict)
    boxes: dict[int, Box] = field(default_factory=dict)
    sources: set[int] = field(default_factory=set)  # boxes with an edge drawn out of their bottom

    def grow(self, height: int) -> None:
        while self.height < height:
            self.chars.append([" "] * self.width)
            self.roles.append([""] * self.width)
            self.height += 1

    def put(self, x: int, y: int, text: str, role: str) -> None:
        self.grow(y + 1)
        for i, ch in enumerate(text):
            if 0 <= x + i < self.width:
                self.chars[y][x + i] = ch
                self.roles[y][x + i] = role

    def link(self, x: int, y: int, bits: int, role: str) -> None:
        self.grow(y + 1)
        if not 0 <= x < self.width:
            return
        value = self.bits.get((x, y), 0) | bits
        self.bits[(x, y)] = value
        self.chars[y][x] = _JOINTS.get(value, "┼")
        if not self.roles[y][x] or role.endswith("-sel"):
            self.roles[y][x] = role

    def vline(self, x: int, y1: int, y2: int, role: str, up_open: bool, down_open: bool) -> None:
        for y in range(y1, y2 + 1):
            bits = (UP if y > y1 or up_open else 0) | (DOWN if y < y2 or down_open else 0)
            self.link(x, y, bits, role)

    def hline(self, y: int, x1: int, x2: int, role: str) -> None:
        lo, hi = min(x1, x2), max(x1, x2)
        for x in range(lo, hi + 1):
            self.link(x, y, (LEFT if x > lo else 0) | (RIGHT if x < hi else 0), role)

    @property
    def lines(self) -> list[list[tuple[str, str]]]:
        """Each line as runs of (text, role)."""
        out: list[list[tuple[str, str]]] = []
        for chars, roles in zip(self.chars, self.roles):
            runs: list[tuple[str, str]] = []
            for ch, role in zip(chars, roles):
                if runs and runs[-1][1] == role:
                    runs[-1] = (runs[-1][0] + ch, role)
                else:
                    runs.append((ch, role))
            out.append(runs)
        return out

    def text(self) -> str:
        return "\n".join("".join(row).rstrip() for row in self.chars)


def _layers(nodes: dict[int, NodeState]) -> list[list[int]]:
    depth: dict[int, int] = {}
    for task_id in sorted(nodes):
        deps = [d for d in nodes[task_id].task.deps if d in nodes and d < task_id]
        depth[task_id] = 1 + max((depth[d] for d in deps), default=-1)
    out: list[list[int]] = []
    for task_id, d in sorted(depth.items()):
        while len(out) <= d:
            out.append([])
        out[d].append(task_id)
    return out


def status_role(status: TaskStatus) -> str:
    return f"st-{status.value}"


def args_line(task: Task, width: int) -> str:
    """A task's arguments on one line, cut to `width` with an ellipsis."""
    text = visible(", ".join(format_value(a) for a in task.args))  # a note name can hold ESC
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def draw(nodes: dict[int, NodeState], width: int, selected: int | None = None, now: float | None = None) -> Canvas:
    width = max(width, MIN_BOX_W)
    canvas = Canvas(width)
    if not nodes:
        return canvas
    rows, lanes = _placement(nodes, width)
    canvas.width = max([width] + [lane.x + 1 for lane in lanes])  # last resort: lanes right of the view
    y = 0
    for i, row in enumerate(rows):
        if i:
            y = _edges(canvas, nodes, rows, i - 1, lanes, y, selected)
        for box in row:
            box.y = y
            canvas.boxes[box.task_id] = box
        y += BOX_H
        canvas.grow(y)
    for lane in lanes:
        _lane(canvas, nodes, lane, selected)
    for box in canvas.boxes.values():
        _box(canvas, nodes[box.task_id], box, box.task_id == selected, now)
    return canvas


_last_placement: tuple[tuple, tuple[list[list[Box]], list[Lane]]] | None = None


def _placement(nodes: dict[int, NodeState], width: int) -> tuple[list[list[Box]], list[Lane]]:
    """`_plan_lanes`, remembered: statuses change many times a second, the plan's shape does not
    (placing a 30-task plan takes ~20 ms; drawing it again with new statuses ~4 ms)."""
    global _last_placement
    key = (width, tuple((n.task.id, n.task.deps) for n in nodes.values()))
    if _last_placement is None or _last_placement[0] != key:
        _last_placement = (key, _plan_lanes(nodes, width))
    return _last_placement[1]


def _place(nodes: dict[int, NodeState], width: int) -> list[list[Box]]:
    """Boxes row by row (a wide layer takes several rows), each row centred in `width`; y comes later."""
    layers = _layers(nodes)
    widest = max((len(layer) for layer in layers), default=1)
    per_row = max(1, (width + GAP_X) // (MIN_BOX_W + GAP_X))
    across = min(widest, per_row)
    box_w = max(MIN_BOX_W, min(MAX_BOX_W, (width - GAP_X * (across - 1)) // across))
    per_row = max(1, (width + GAP_X) // (box_w + GAP_X))
    out: list[list[Box]] = []
    for k, layer in enumerate(layers):
        for row in _rows(nodes, layer, layers[k + 1] if k + 1 < len(layers) else [], per_row):
            row_w = len(row) * box_w + GAP_X * (len(row) - 1)
            x0 = max(0, (width - row_w) // 2)
            out.append([Box(tid, x0 + i * (box_w + GAP_X), 0, box_w) for i, tid in enumerate(row)])
    return out


def _rows(nodes: dict[int, NodeState], layer: list[int], below: list[int], per_row: int) -> list[list[int]]:
    """Split a wide layer into rows; the tasks the next layer needs go in the last row, so
    that most edges join neighbouring rows (the rest take a lane)."""
    if len(layer) <= per_row:
        return [layer]
    needed = {d for c in below for d in nodes[c].task.deps}
    ordered = [t for t in layer if t not in needed] + [t for t in layer if t in needed]
    rows: list[list[int]] = []
    end = len(ordered)
    while end > 0:
        rows.insert(0, sorted(ordered[max(0, end - per_row) : end]))
        end -= per_row
    return rows


@dataclass
class Lane:
    """A parent's edges to children two or more rows below: they leave the parent's row, run
    down column `x` beside the boxes in between, and branch off to each child."""

    parent: Box
    first: int  # the parent's row
    last: int  # the farthest child's row
    kids: frozenset[int] = frozenset()  # the children it reaches (not those in the next row)
    x: int = -1
    top: int = 0  # y of the turn out of the parent's edge zone
    bottom: int = 0  # y of the last branch

    def spans(self, other: Lane) -> bool:
        return self.first < other.last and other.first < self.last


def _kids(nodes: dict[int, NodeState], parent: Box, row: list[Box]) -> list[Box]:
    return [b for b in row if parent.task_id in nodes[b.task_id].task.deps]


def _plan_lanes(nodes: dict[int, NodeState], width: int) -> tuple[list[list[Box]], list[Lane]]:
    """Place the boxes and give every row-skipping edge a free column. When the gutters between
    boxes are not enough, lay the boxes out narrower so a margin opens on the right."""
    for inner in range(width, MIN_BOX_W - 1, -2):
        rows = _place(nodes, inner)
        lanes = _lanes(nodes, rows, width)
        if all(lane.x < width for lane in lanes):
            break
    return rows, lanes


def _lanes(nodes: dict[int, NodeState], rows: list[list[Box]], width: int) -> list[Lane]:
    lanes: list[Lane] = []
    for i, row in enumerate(rows):
        for parent in row:
            far = {j: _kids(nodes, parent, rows[j]) for j in range(i + 2, len(rows))}
            far = {j: kids for j, kids in far.items() if kids}
            if far:
                lanes.append(Lane(parent, i, max(far), frozenset(k.task_id for ks in far.values() for k in ks)))
    for lane in lanes:
        lane.x = _free_column(rows, lane, [o for o in lanes if o.x >= 0 and o.spans(lane)],
                              width + 2 * len(lanes) + 2, width)
    return lanes


def _free_column(rows: list[list[Box]], lane: Lane, taken: list[Lane], limit: int, width: int) -> int:
    """The column closest to the edge's ends that crosses no box in between, shares no column
    with another edge (box centres carry the short edges) and keeps a space from other lanes."""
    between = [b for row in rows[lane.first + 1 : lane.last] for b in row]
    centres = {b.cx for row in rows[lane.first : lane.last + 1] for b in row} - {lane.parent.cx}
    ends = [lane.parent.cx] + [b.cx for b in rows[lane.last]]
    target = min(ends[1:], key=lambda x: abs(x - lane.parent.cx))
    best, best_cost = limit - 1, None
    for x in range(limit):
        if x in centres or any(b.x <= x < b.x + b.w for b in between) or any(abs(x - o.x) < 2 for o in taken):
            continue
        # beside a box border a lane reads as a double border: prefer a column with space around it
        cramped = any(b.x - 1 == x or b.x + b.w == x for b in between)
        straight = x == lane.parent.cx  # the lane simply carries on down from the box
        cost = (abs(x - lane.parent.cx) + abs(x - target) + (2 if cramped else 0) - (3 if straight else 0)
                + (1000 if x >= width else 0))
        if best_cost is None or cost < best_cost:
            best, best_cost = x, cost
    return best


def _edges(canvas: Canvas, nodes: dict[int, NodeState], rows: list[list[Box]], i: int, lanes: list[Lane],
           y: int, selected: int | None) -> int:
    """Route the edges in the zone between row `i` (just drawn) and row `i + 1`: one horizontal
    line per source (a parent above, or a lane coming down), then the arrows; lanes that only
    pass through are drawn later, whole."""
    below = rows[i + 1]
    own = {lane.parent.task_id: lane for lane in lanes if lane.first == i}
    groups: list[tuple[Box, list[Box], Lane | None]] = []  # (parent, kids here, lane); no lane: from the box
    for parent in rows[i]:
        kids = _kids(nodes, parent, below)
        if kids or parent.task_id in own:
            groups.append((parent, kids, None))
    for lane in lanes:
        kids = _kids(nodes, lane.parent, below) if lane.first < i else []
        if kids:
            groups.append((lane.parent, kids, lane))
    if not groups:
        return y + 1
    bottom = y + len(groups)  # the arrow row
    for g, (parent, kids, via) in enumerate(groups):
        lane_y = y + g
        role = _edge_role(nodes, parent.task_id)
        hot = selected == parent.task_id
        xs = [via.x if via else parent.cx] + [k.cx for k in kids]
        if via is None:  # out of the parent's box, and into its lane if it has one
            canvas.vline(parent.cx, y, lane_y, role + ("-sel" if hot else ""), up_open=True, down_open=False)
            canvas.sources.add(parent.task_id)
            start = own.get(parent.task_id)
            if start:
                start.top = lane_y
                canvas.hline(lane_y, parent.cx, start.x,
                             role + ("-sel" if _lane_hot(start, selected) else ""))
        else:  # a branch off a lane
            via.bottom = max(via.bottom, lane_y)
            hot = hot or any(k.task_id == selected for k in kids)
        canvas.hline(lane_y, min(xs), max(xs), role + ("-sel" if hot else ""))
        for kid in kids:
            kid_hot = hot or selected == kid.task_id
            canvas.vline(kid.cx, lane_y, bottom - 1, role + ("-sel" if kid_hot else ""), up_open=False,
                         down_open=True)
            canvas.put(kid.cx, bottom, "▼", role + ("-sel" if kid_hot else ""))
    return bottom + 1


def _edge_role(nodes: dict[int, NodeState], parent: int) -> str:
    return "edge-done" if nodes[parent].status in (TaskStatus.DONE, TaskStatus.DRY_RUN) else "edge"


def _lane_hot(lane: Lane, selected: int | None) -> bool:
    """Highlight the whole lane for its parent or any child it leads to: the path is what matters."""
    return selected == lane.parent.task_id or selected in lane.kids


def _lane(canvas: Canvas, nodes: dict[int, NodeState], lane: Lane, selected: int | None) -> None:
    """The lane's vertical run, from the turn below its parent to its last branch."""
    role = _edge_role(nodes, lane.parent.task_id) + ("-sel" if _lane_hot(lane, selected) else "")
    canvas.vline(lane.x, lane.top, lane.bottom, role, up_open=False, down_open=False)


def _box(canvas: Canvas, node: NodeState, box: Box, selected: bool, now: float | None) -> None:
    task, w, x, y = node.task, box.w, box.x, box.y
    inner = w - 2
    tl, tr, bl, br, h, v = ("┏", "┓", "┗", "┛", "━", "┃") if selected else ("┌", "┐", "└", "┘", "─", "│")
    border = "sel" if selected else status_role(node.status) + "-border"
    title = _fit(f" {task.id} {task.tool} ", inner)
    canvas.put(x, y, tl, border)
    canvas.put(x + 1, y, title, "title-sel" if selected else "title")
    canvas.put(x + 1 + len(title), y, h * (inner - len(title)), border)
    canvas.put(x + w - 1, y, tr, border)

    canvas.put(x, y + 1, v, border)
    canvas.put(x + 1, y + 1, _fit(args_line(task, inner) or "(no arguments)", inner).ljust(inner), "args")
    canvas.put(x + w - 1, y + 1, v, border)

    status = node.status
    label = f"{ICONS[status]} {LABELS[status]}"
    took = _duration(node.elapsed(now))
    space = inner - len(took) - 1
    canvas.put(x, y + 2, v, border)
    canvas.put(x + 1, y + 2, _fit(label, space).ljust(space), status_role(status))
    canvas.put(x + 1 + space, y + 2, " " + took, "muted")
    canvas.put(x + w - 1, y + 2, v, border)

    deps = " ".join(f"${d}" for d in task.deps)
    # a box with an edge out of its bottom keeps the label left of the edge, or the edge would vanish
    room = box.cx - x - 1 if task.id in canvas.sources else inner
    fits = [f for f in (f" needs {deps} ", f" {deps} ") if len(f) <= room]
    foot = (fits[0] if fits else _fit(f" {deps} ", room)) if deps else ""
    canvas.put(x, y + 3, bl, border)
    canvas.put(x + 1, y + 3, foot, "muted")
    canvas.put(x + 1 + len(foot), y + 3, h * (inner - len(foot)), border)
    canvas.put(x + w - 1, y + 3, br, border)
    if task.id in canvas.sources and canvas.chars[y + 3][box.cx] == h:
        canvas.put(box.cx, y + 3, "┳" if selected else "┬", border)
