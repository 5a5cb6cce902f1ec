"""TinyAgent's joiner and replanner texts: prompts, the scratchpad and the replan context.

Source: SqueezeAILab/TinyAgent at commit 0074615 (MIT License, Copyright (c) 2024
SqueezeAILab; see NOTICE): OUTPUT_PROMPT / OUTPUT_PROMPT_FINAL and their rules and examples
(src/tiny_agent/prompts.py), each tool's stringify_rule (src/tiny_agent/tiny_agent_tools.py),
Task.get_though_action_observation (src/llm_compiler/task_fetching_unit.py), and the joiner
prompt, scratchpad, replan context and joiner output parsing of src/llm_compiler/llm_compiler.py.
The texts are reproduced byte for byte (typos and missing newlines included): the model was
trained on them. Tests compare them with ../shared/golden/joiner_prompts.jsonl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FINISH, REPLAN, SUMMARY_RESULT = "Finish", "Replan", "Summary"

_REPLAN_RULES = (
    f" - If you think the plan is not completed yet or an error in the plan is fixable, you should output {REPLAN}.\n"
    f" - If the plan is fixable, you will see a message like 'try again'. If you don't see this message, the error is "
    f"NOT fixable and you MUST output an error message using 'Action: {FINISH}(<your error message>)'\n"
)
_FINISH_RULES = (
    f" - If you need to answer some knowledge question, just answer it directly using 'Action: {FINISH}(<your answer>)'.\n"
    f" - If you need to return the result of a summary (summarize_pdf), you MUST use 'Action: {FINISH}({SUMMARY_RESULT})'\n"
    f" - If there is an error in one of the tool calls and it is not fixable, you should provide a user-friendly error "
    f"message using 'Action: {FINISH}(<your error message>)'.\n"
)
_REPLAN_EXAMPLES = (
    "Question: Say hi to Sid via SMS.\n"
    "join()\n"
    "Observation: The plan generation was stopped due to an error in tool 1. get_contact_info('Sid')! "
    "Error: Tool get_contact_info not found. You MUST correct this error and try again!"
    "Thought: The error is fixable so I need to replan and try again.\n"
    f"Action: {REPLAN}\n",
)
_FINISH_EXAMPLES = (
    "Question: Create a zoom meeting for the upcoming Apple meeting with Eren Erdoğan. \n"
    'get_email_address("Eren Erdoğan")\n'
    "Observation: eren@gmail.com\n"
    'get_zoom_meeting_link("Apple Meeting", "2022-10-14 15:00:00", 60, ["$1"])\n'
    "Observation: https://zoom.us/j/1234567890?pwd=abc123\n"
    'create_calendar_event("Apple Meeting", "2022-10-14 15:00:00", "2022-10-14 16:00:00", "Apple HQ", "$2", None)\n'
    "Observation: Event created successfully\n"
    "Thought: I don't need to answer a question.\n"
    f"Action: {FINISH}(Task completed!)\n",
    "Question: What is the content of the Apple meeting notes? \n"
    'get_note_content("Apple Meeting")\n'
    "Observation: The meeting is about the new iPhone release.\n"
    "Thought: I can just answer the question directly.\n"
    f"Action: {FINISH}(The meeting is about the new iPhone release.)\n",
    "Question: Compose a new email to John, attaching the Project.pdf file.\n"
    'get_email_address("John")\n'
    "Observation: john@doe.com"
    'open_and_get_file_path("Project")\n'
    "Observation: /Users/eren/Downloads/Project.pdf\n"
    'compose_new_email([john@doe.com], [], "Project Update", "Please find the attached project update.", '
    '["/Users/eren/Downloads/Project.pdf"])\n'
    "Observation: There was an error while composing the email.\n"
    "Thought: There was an error with the compose_new_email tool call and it is not possible to fix it. "
    "I need to provide a user-friendly error message.\n"
    f"Action: {FINISH}(There was an error while composing the email. Please try again later.)\n",
    "Question: Summarize the Apple Demo file. \n"
    "open_and_get_file_path(Apple Demo)\n"
    "Observation: /Users/eren/Downloads/Apple_Demo.pdf\n"
    "summarize_pdf(/Users/eren/Downloads/Apple_Demo.pdf)\n"
    "Observation: The new iPhone is going to be released in 2023.\n"
    f"Action: {FINISH}({SUMMARY_RESULT})\n",
)

OUTPUT_PROMPT = (
    "Follow these rules:\n"
    f" - You MUST only output either {FINISH} or {REPLAN}, or you WILL BE PENALIZED.\n"
    f"{_FINISH_RULES}{_REPLAN_RULES}"
    "\n"
    "Here are some examples:\n"
    + "###\n".join(_FINISH_EXAMPLES) + "###\n"
    + "###\n".join(_REPLAN_EXAMPLES) + "###\n"
)
OUTPUT_PROMPT_FINAL = (
    "Follow these rules:\n"
    f" - You MUST only output {FINISH}, or you WILL BE PENALIZED.\n"
    f"{_FINISH_RULES}"
    "\n"
    "Here are some examples:\n" + "###\n".join(_FINISH_EXAMPLES) + "###\n"
)

# Argument names in each tool's stringify_rule (None: one argument, shown bare). Note
# reply_to_email and forward_email show their context as `content=`.
_STRINGIFY: dict[str, tuple[str, ...] | None] = {
    "get_phone_number": None, "get_email_address": None, "open_and_get_file_path": None,
    "summarize_pdf": None, "maps_open_location": None,
    "create_calendar_event": ("title", "start_date", "end_date", "location", "invitees", "notes", "calendar"),
    "compose_new_email": ("recipients", "cc", "subject", "context", "attachments"),
    "reply_to_email": ("cc", "content", "attachments"),
    "forward_email": ("recipients", "cc", "content", "attachments"),
    "maps_show_directions": ("start_location", "end_location", "transport"),
    "create_note": ("name", "content", "folder"),
    "open_note": ("name", "folder"),
    "append_note_content": ("name", "content", "folder"),
    "create_reminder": ("name", "due_date", "notes", "list_name", "priority", "all_day"),
    "send_sms": ("recipients", "message"),
    "get_zoom_meeting_link": ("topic", "start_time", "duration", "meeting_invitees"),
}


def stringify(tool: str, args: Sequence[Any]) -> str:
    """The action as TinyAgent writes it for the joiner: `send_sms(recipients=[...], message=Hi)`.

    Values are Python's str(): strings bare, lists as their repr. A rule reads only the
    arguments it names (a call with too many shows the first ones), like TinyAgent's lambdas;
    tools without a rule (join) use the default: str(arg) alone, else str(tuple(args)).
    """
    args = list(args)
    names = _STRINGIFY.get(tool, ())
    if tool in _STRINGIFY and names is None and args:
        return f"{tool}({args[0]})"
    if names:
        shown = ", ".join(f"{name}={args[i] if i < len(args) else ''}" for i, name in enumerate(names))
        return f"{tool}({shown})"
    return f"{tool}{args[0]}" if len(args) == 1 else f"{tool}{tuple(args)}"


@dataclass(frozen=True)
class Step:
    """One task as the joiner sees it: arguments with `$N` replaced, observation or None."""

    id: int
    tool: str
    args: tuple[Any, ...]
    observation: str | None = None
    thought: str = ""

    @property
    def is_join(self) -> bool:
        return self.tool == "join"

    def text(self, *, with_index: bool = False, with_thought: bool = True) -> str:
        out = f"Thought: {self.thought}\n" if self.thought and with_thought else ""
        out += f"{self.id}. " if with_index else ""
        out += stringify(self.tool, self.args) + "\n"
        if self.observation is not None:
            out += f"Observation: {self.observation}\n"
        return out


def error_observation(message: str) -> str:
    """What a tool that raised shows the joiner (TaskFetchingUnit._run_task)."""
    return f"Error: {message}! You MUST correct this error and try again!"


def add_round(scratchpad: str, steps: Sequence[Step]) -> str:
    """The scratchpad after one more round: join steps only when they carry an error."""
    texts = "".join(s.text() for s in steps if not s.is_join or s.observation is not None)
    return (scratchpad + "\n\n" + texts).strip()


def scratchpad(rounds: Sequence[Sequence[Step]]) -> str:
    text = ""
    for steps in rounds:
        text = add_round(text, steps)
    return text


def joiner_prompt(query: str, pad: str, *, final: bool) -> str:
    rules = OUTPUT_PROMPT_FINAL if final else OUTPUT_PROMPT
    return f"{rules}\nQuestion: {query}\n\n{pad}\n"


def replan_context(steps: Sequence[Step], joiner_thought: str) -> str:
    """One "Previous Plan" for the replanner: numbered actions with observations, then the thought."""
    plan = "\n".join(s.text(with_index=True) for s in steps if not s.is_join)
    return "\n\n".join([plan, f"Thought: {joiner_thought}"])


def format_contexts(contexts: Sequence[str]) -> str:
    return "".join(f"Previous Plan:\n\n{c}\n\n" for c in contexts) + "Current Plan:\n\n"


@dataclass(frozen=True)
class JoinerOutput:
    thought: str
    answer: str
    replan: bool


def parse_joiner(raw: str, *, final: bool) -> JoinerOutput:
    """`Thought: ...` / `Action: Finish(answer)` or `Action: Replan`, read as TinyAgent reads it."""
    thought, answer, replan, seen = "", "", False, False
    for line in raw.split("\n"):
        at = line.find("Action:")
        if at >= 0:
            line = line[at:]
        if line.startswith("Action:") or line.startswith(" Answer:"):
            answer = line[line.find("(") + 1: line.rfind(")")] if "(" in line and ")" in line else ""
            replan, seen = REPLAN in line, True
        elif line.startswith("Thought:") or line.startswith(" Thought:"):
            thought = line.split("Thought:")[1].strip()
    return JoinerOutput(thought, answer.strip() if seen else "", replan and not final)


def joiner_grammar(*, final: bool, answer_chars: int = 600, thought_chars: int = 300) -> str:
    """GBNF for exactly TinyAgent's joiner format (the final round may only finish)."""
    actions = "finish" if final else "(finish | replan)"
    return (f'root ::= "Thought: " [^\\n]{{1,{thought_chars}}} "\\nAction: " {actions}\n'
            f'finish ::= "{FINISH}(" [^\\n]{{1,{answer_chars}}} ")"\n'
            f'replan ::= "{REPLAN}"\n')
