"""Write or paste a plan, see it validated and drawn as you type, run it."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, TextArea

from tinyagent.core.parser import parse_plan
from tinyagent.core.plan import Plan
from tinyagent.tools.registry import REGISTRY, ToolSpec
from tinyagent.tui.widgets.plan_graph import PlanGraph
from tinyagent.tui.widgets.safe_text import SafeStatic

EXAMPLE = """1. get_email_address("Sarah")
2. get_phone_number("Mike")
3. compose_new_email(["$1"], [], "Running late", "Hi Sarah, I'm running 10 minutes late. Sorry!", [])
4. send_sms(["$2"], "Running late, see you at 3:10")
5. join()<END_OF_PLAN>
"""


class EditorScreen(Screen[str | None]):
    """Dismisses with the plan text to run, or None."""

    BINDINGS = [
        Binding("ctrl+s,f5", "run", "Run plan", id="editor.run", priority=True),
        Binding("escape", "close", "Back", id="editor.close"),
        Binding("ctrl+l", "example", "Example plan", id="editor.example", priority=True),
    ]

    def __init__(self, text: str = "", registry: Mapping[str, ToolSpec] = REGISTRY, *, loading: bool = False) -> None:
        super().__init__()
        self.initial = text
        self.plan: Plan | None = None
        self.registry = registry  # the tools a plan may call (MCP servers' too, once they answered)
        self.loading = loading  # MCP servers are being asked for their tools

    def use_registry(self, registry: Mapping[str, ToolSpec]) -> None:
        """The MCP servers answered: check the plan against every tool now."""
        self.registry, self.loading = registry, False
        if self.is_mounted:
            self.validate()

    def compose(self) -> ComposeResult:
        with Horizontal(id="editor-body"):
            with Vertical(id="editor-left"):
                yield Label("Plan editor: one task per line, end with join()<END_OF_PLAN>", classes="pane-title")
                yield TextArea(self.initial, id="plan-text", soft_wrap=False, show_line_numbers=True)
                yield SafeStatic(id="plan-problems")  # problems quote the plan's text
            with Vertical(id="editor-right"):
                yield Label("Preview", classes="pane-title")
                yield PlanGraph(id="editor-graph")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self.validate()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.validate()

    def validate(self) -> Plan:
        text = self.query_one(TextArea).text
        plan = parse_plan(text, self.registry) if text.strip() else None
        self.plan = plan
        problems = self.query_one("#plan-problems", SafeStatic)
        graph = self.query_one("#editor-graph", PlanGraph)
        if plan is None:
            problems.update(Text("Empty. Press ctrl+l for an example plan.", style="italic"))
            graph.clear()
            return Plan(())
        graph.show_plan(plan)
        lines = Text()
        if plan.ok:
            lines.append(f"✓ valid: {len(plan.tasks)} tasks", style="bold green")
        if self.loading:
            lines.append(("\n" if lines.plain else "") + "… asking the MCP servers for their tools", style="italic")
        for d in plan.errors:
            lines.append(f"\n✗ {d}", style="red")
        for d in plan.warnings:
            lines.append(f"\n! {d}", style="yellow")
        problems.update(lines)
        problems.set_class(not plan.ok, "has-errors")
        return plan

    def action_example(self) -> None:
        self.query_one(TextArea).load_text(EXAMPLE)
        self.validate()

    def action_run(self) -> None:
        plan = self.validate()
        if not plan.tasks or not plan.ok:
            self.notify("Fix the plan first: " + ("; ".join(str(d) for d in plan.errors[:2]) or "no tasks"),
                        severity="error")
            return
        self.dismiss(self.query_one(TextArea).text)

    def action_close(self) -> None:
        self.dismiss(None)
