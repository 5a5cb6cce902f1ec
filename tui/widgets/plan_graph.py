"""The live DAG view: a Line-API ScrollView drawing `graph_layout.draw` with theme colours.

Feed it core events (`apply`) or a whole plan (`show_plan`); select a node with the arrow
keys or the mouse and `NodeSelected` is posted for the detail pane.
"""

from __future__ import annotations

import time
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tinyagent.core.events import (
    ApprovalRequested,
    ApprovalResolved,
    Event,
    TaskAdded,
    TaskFinished,
    TaskStarted,
    TaskStatus,
)
from tinyagent.core.plan import Plan, Task, format_value
from tinyagent.core.sanitize import visible
from tinyagent.tui.widgets import theme_color
from tinyagent.tui.widgets.graph_layout import BOX_H, LABELS, Canvas, NodeState, draw

_ROLE_COLOURS = {
    "st-waiting": "text-muted", "st-running": "text-warning", "st-awaiting_approval": "text-accent",
    "st-done": "text-success", "st-failed": "text-error", "st-skipped": "text-muted", "st-denied": "text-error",
    "st-cancelled": "text-muted", "st-dry-run": "text-primary", "st-unknown": "text-warning", "edge": "text-muted",
    "edge-done": "text-success",
    "muted": "text-muted", "args": "foreground", "title": "foreground", "title-sel": "text-accent",
    "sel": "text-accent",
}


REDRAW_INTERVAL = 0.05


class PlanGraph(ScrollView, can_focus=True):
    """Tasks in dependency layers with edges; statuses change as the executor runs."""

    BINDINGS = [
        Binding("left", "move(-1, 0)", "Prev task", show=False, id="graph.left"),
        Binding("right", "move(1, 0)", "Next task", show=False, id="graph.right"),
        Binding("up", "move(0, -1)", "Task above", show=False, id="graph.up"),
        Binding("down", "move(0, 1)", "Task below", show=False, id="graph.down"),
    ]
    DEFAULT_CSS = """
    PlanGraph { height: 1fr; }
    """

    class NodeSelected(Message):
        def __init__(self, graph: PlanGraph, task_id: int | None) -> None:
            super().__init__()
            self.graph = graph
            self.task_id = task_id

        @property
        def control(self) -> PlanGraph:
            return self.graph

    selected: reactive[int | None] = reactive(None)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.nodes: dict[int, NodeState] = {}
        self._canvas: Canvas | None = None
        self._strips: list[Strip] = []
        self._styles: dict[str, Style] = {}
        self._styles_theme: str | None = None
        self.frozen_now: float | None = None  # tests and snapshots pin the clock
        self._dirty = False

    # -- feeding ----------------------------------------------------------------------------
    def clear(self) -> None:
        self.nodes = {}
        self.selected = None
        self.redraw()

    def _schedule(self) -> None:
        """Redraw soon, at most ~20 times a second however fast events come."""
        if not self._dirty and self.is_mounted:
            self._dirty = True
            self.set_timer(REDRAW_INTERVAL, self.redraw)

    def show_plan(self, plan: Plan | tuple[Task, ...] | list[Task]) -> None:
        """Show a plan's tasks, all waiting (the editor's preview, or a plan about to run)."""
        tasks = plan.tasks if isinstance(plan, Plan) else tuple(plan)
        self.nodes = {t.id: NodeState(t) for t in tasks}
        if self.selected not in self.nodes:
            self.selected = None
        self.redraw()

    def apply(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, TaskAdded):
            self.nodes[event.task.id] = NodeState(event.task)
        elif isinstance(event, TaskStarted):
            node = self.nodes.get(event.task_id)
            if node:
                node.status, node.started, node.args = TaskStatus.RUNNING, now, event.args
        elif isinstance(event, ApprovalRequested):
            node = self.nodes.get(event.task_id)
            if node:
                node.status, node.args = TaskStatus.AWAITING_APPROVAL, event.args
        elif isinstance(event, ApprovalResolved):
            node = self.nodes.get(event.task_id)
            if node:
                node.decision = event.decision
                if node.status is TaskStatus.AWAITING_APPROVAL:
                    node.status, node.started = TaskStatus.RUNNING, now
        elif isinstance(event, TaskFinished):
            node = self.nodes.get(event.task_id)
            if node:
                node.status, node.duration = event.status, event.duration
                node.output, node.error = event.output, event.error
                if event.args is not None:
                    node.args = event.args
        else:
            return
        self._schedule()
        if self.selected is not None and getattr(event, "task_id", None) == self.selected:
            self.post_message(self.NodeSelected(self, self.selected))

    def tasks(self) -> tuple[Task, ...]:
        """The tasks drawn, in id order: the plan as it ran, replans included."""
        return tuple(n.task for _, n in sorted(self.nodes.items()))

    @property
    def running(self) -> bool:
        return any(n.status is TaskStatus.RUNNING for n in self.nodes.values())

    def text(self) -> str:
        """The drawing as plain text (tests)."""
        if self._dirty:
            self.redraw()
        return self._canvas.text() if self._canvas else ""

    # -- lifecycle ----------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)
        self.watch(self.app, "theme", lambda _: self.redraw(), init=False)

    def _tick(self) -> None:
        if self.running:
            self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.redraw()

    def watch_selected(self, old: int | None, new: int | None) -> None:
        self.redraw()
        box = self._canvas.boxes.get(new) if (self._canvas and new is not None) else None
        if box is not None:
            self.scroll_to_region(Region(box.x, box.y, box.w, BOX_H), animate=False, force=True)
        self.post_message(self.NodeSelected(self, new))

    # -- drawing ------------------------------------------------------------------------------
    def _style(self, role: str) -> Style:
        theme = self.app.theme
        if theme != self._styles_theme:
            self._styles, self._styles_theme = {}, theme
        style = self._styles.get(role)
        if style is None:
            base = role[:-4] if role.endswith("-sel") else role
            base = base[:-7] if base.endswith("-border") else base
            name = _ROLE_COLOURS.get(base, "foreground")
            colour = Color.parse(theme_color(self.app, name)).rich_color
            bold = role.endswith("-sel") or role in ("sel", "title-sel", "st-running", "st-awaiting_approval")
            style = Style(color=colour, bold=bold)
            self._styles[role] = style
        return style

    def redraw(self) -> None:
        self._dirty = False
        if not self.is_mounted:
            return
        width = max(self.scrollable_content_region.width, 20)
        self._canvas = canvas = draw(self.nodes, width, self.selected, self.frozen_now)
        self._strips = [Strip([Segment(text, self._style(role)) for text, role in line]) for line in canvas.lines]
        self.virtual_size = Size(canvas.width, len(self._strips))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if not self.nodes:
            hint = ["", " No plan yet.", " Ask something, or write a plan", " with the plan editor (ctrl+e)."]
            text = hint[y] if y < len(hint) else ""
            return Strip([Segment(text, self._style("muted"))]).crop_extend(0, width, self.rich_style)
        if index >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        return self._strips[index].crop_extend(scroll_x, scroll_x + width, self.rich_style)

    # -- selection ----------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        if not self._canvas or not self._canvas.boxes:
            return
        boxes = self._canvas.boxes
        if self.selected not in boxes:
            self.selected = min(boxes)
            return
        cur = boxes[self.selected]
        if dx:
            order = sorted(boxes.values(), key=lambda b: (b.y, b.x))
            i = order.index(cur) + dx
            if 0 <= i < len(order):
                self.selected = order[i].task_id
            return
        candidates = [b for b in boxes.values() if (b.y - cur.y) * dy > 0]
        if candidates:
            nearest = min(candidates, key=lambda b: (abs(b.y - cur.y), abs(b.cx - cur.cx)))
            self.selected = nearest.task_id

    def on_click(self, event: events.Click) -> None:
        if not self._canvas:
            return
        x, y = event.x + self.scroll_offset.x, event.y + self.scroll_offset.y
        for box in self._canvas.boxes.values():
            if box.contains(x, y):
                self.selected = box.task_id
                self.focus()
                return

    def box_top(self, task_id: int) -> int | None:
        """The row where task `task_id`'s box starts in the drawn graph (None if not drawn)."""
        box = self._canvas.boxes.get(task_id) if self._canvas else None
        return box.y if box is not None else None

    def node(self, task_id: int | None) -> NodeState | None:
        return self.nodes.get(task_id) if task_id is not None else None


def describe_node(node: NodeState) -> Text:
    """Rich text for the detail pane: tool, full resolved arguments, output or error."""
    task = node.task
    out = Text()

    def row(name: str, value: str, style: str = "") -> None:
        if out:
            out.append("\n")
        out.append(f"{name}: ", "bold").append(visible(value, keep_newlines=True), style)  # before Rich drops a BEL

    row("task", f"{task.id}. {task.tool}  ·  {LABELS[node.status]}")
    if node.args:
        for name, value in node.args.items():
            row(name, _show(value))
    else:
        for i, value in enumerate(task.args, 1):
            row(f"arg {i}", format_value(value))
    if node.decision:
        row("approval", node.decision)
    if node.error:
        row("note" if node.status is TaskStatus.DRY_RUN else "error", node.error, "italic")
    if node.output is not None:
        row("output", _show(node.output))
    if task.thought:
        row("thought", task.thought, "italic")
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "(none)"
    if value is None:
        return "(none)"
    return str(value)
