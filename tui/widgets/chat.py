"""The conversation: requests, the plan text as the model writes it, answers, and plain
explanations of what went wrong."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from tinyagent.core.events import RunSummary, TaskFinished, TaskStatus
from tinyagent.tui.widgets.safe_text import SafeStatic, safe_text

STREAM_INTERVAL = 0.08
KINDS = ("user", "plan", "answer", "info", "warning", "error", "task")
NOT_DONE_WORDS = {
    TaskStatus.FAILED: "failed", TaskStatus.SKIPPED: "was skipped", TaskStatus.DENIED: "was not run",
    TaskStatus.CANCELLED: "was cancelled", TaskStatus.UNKNOWN: "may or may not have happened (check the app)",
}


class ChatEntry(SafeStatic):
    """One entry: what it shows (requests, plans, answers, errors quoting notes) is data, so it
    is drawn through the one sanitiser."""

    DEFAULT_CSS = """
    ChatEntry { padding: 0 1; margin: 0 0 1 0; }
    """


class Chat(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    Chat { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plan: ChatEntry | None = None
        self._plan_text = ""
        self._dirty = False
        self._answer: ChatEntry | None = None  # the answer entry while the joiner writes it
        self._answer_text = ""

    def add(self, kind: str, text: str | Text, title: str = "") -> ChatEntry:
        """Append one entry; `kind` is one of KINDS (its CSS class). A plan that is still
        streaming keeps growing in its own entry above."""
        body = safe_text(text)  # before it is a Text: Rich would drop a BEL or CR unseen
        if title:
            body = Text.assemble((title + "  ", "bold"), body)
        entry = ChatEntry(body, classes=f"chat-{kind}")
        self.mount(entry)
        self.scroll_end(animate=False)
        return entry

    def task_finished(self, event: TaskFinished) -> None:
        """Say it when a task did not do its work (a done task shows in the graph only)."""
        words = NOT_DONE_WORDS.get(event.status)
        if words:
            why = f": {event.error}" if event.error else ""  # for a denial: whose (yours or the policy's)
            self.add("error" if event.status is TaskStatus.FAILED else "warning",
                     f"Task {event.task_id} ({event.tool}) {words}{why}.")

    def plan_finished(self, summary: RunSummary, dry: bool) -> None:
        if dry and summary.cancelled:  # not a finished preview: nothing to run for real from here
            self.add("warning", f"Dry run stopped ({summary.describe()}); nothing was changed.", title="Dry run:")
        elif dry:
            self.add("info", f"Dry run finished ({summary.describe()}); nothing was changed. The plan stays on "
                             "screen: run it for real with ctrl+g.", title="Dry run:")
            self.add_action("Run this plan for real (ctrl+g)", "run-for-real")
        else:
            self.add("answer" if summary.all_done else "warning", summary.describe(), title="Finished:")

    def add_action(self, label: str, action: str, variant: ButtonVariant = "primary") -> Button:
        """A button in the conversation, found by its class `action`: a chat holds one per
        dry run, so it cannot be an id."""
        button = Button(label, variant=variant, classes=f"chat-action {action}")
        self.mount(button)
        self.scroll_end(animate=False)
        return button

    def retire_actions(self) -> None:
        """A new run makes the buttons of earlier ones stale: each acted on the plan beside it."""
        for button in self.query(".chat-action").results(Button):
            button.disabled = True

    # -- the plan as it streams -------------------------------------------------------------
    def stream(self, text: str) -> None:
        if not text:
            return
        if self._plan is None:
            self._plan_text = ""
            self._plan = ChatEntry("", classes="chat-plan")
            self._plan.border_title = "plan"
            self.mount(self._plan)
        self._plan_text += text
        if not self._dirty:  # show the new text soon: at most ~12 re-layouts a second
            self._dirty = True
            self.set_timer(STREAM_INTERVAL, self._show_stream)

    def _show_stream(self) -> None:
        self._dirty = False
        if self._plan is None:
            return
        self._plan.update(safe_text(self._plan_text.rstrip("\n")))
        if self._plan is self.children[-1]:  # to the new end, once the longer text is laid out
            self.call_after_refresh(self.scroll_end, animate=False)

    def end_stream(self) -> None:
        if self._dirty:
            self._show_stream()
        self._plan = None

    # -- the answer as the joiner writes it --------------------------------------------------
    def stream_answer(self, text: str) -> None:
        """Grow the answer entry, titled as still being written, until `end_answer`."""
        if self._answer is None:
            self._answer_text = ""
            self._answer = self.add("answer", "", title="Writing the answer…")
        self._answer_text += text
        self._answer.update(Text.assemble(("Writing the answer…  ", "bold"), safe_text(self._answer_text)))
        self.scroll_end(animate=False)

    def end_answer(self, text: str) -> None:
        """The whole answer: replaces the one being written, or is added as a new entry."""
        entry, self._answer = self._answer, None
        if entry is None:
            self.add("answer", text, title="Answer:")
        else:
            entry.update(Text.assemble(("Answer:  ", "bold"), safe_text(text)))

    @property
    def pending(self) -> bool:
        """Plan text is waiting to be drawn (its redraw is throttled)."""
        return self._dirty

    @property
    def streamed(self) -> str:
        return self._plan_text

    def text(self) -> str:
        """Everything in the chat as plain text (tests)."""
        parts = []
        for child in self.children:
            if isinstance(child, Static):
                rendered = child.render()
                parts.append(rendered.plain if isinstance(rendered, Text) else str(rendered))
            if isinstance(child, Button):
                parts.append(f"[{child.label}]")
        return "\n".join(parts)
