"""The 16 tools the TinyAgent model was trained on: names, order and argument types are fixed.

This module is pure data. Backends (sandbox, AppleScript) implement the tools; the plan
validator, the grammar, ToolRAG and the prompt all read their facts from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Effect(str, Enum):
    """What running a tool does to the user's world; anything but READ needs approval."""

    READ = "read"  # looks something up, changes nothing
    UI = "ui"  # opens an app, a file or a map on screen
    DRAFT = "draft"  # prepares a message the user still sends
    SEND = "send"  # delivers something to other people
    WRITE = "write"  # creates or changes the user's data
    NETWORK = "network"  # calls an online service

    @property
    def changes_something(self) -> bool:
        return self is not Effect.READ


# Argument types as the model writes them.
STR, LIST_STR, INT, BOOL = "str", "list[str]", "int", "bool"


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class ToolSpec:
    name: str
    app: str
    effect: Effect
    description: str
    params: tuple[Param, ...]
    returns: str  # what the output is, for prompts and for `$N` users
    # Tools this one is rarely useful without (ToolRAG adds them when this one is selected).
    companions: tuple[str, ...] = field(default=())

    @property
    def arity(self) -> int:
        return len(self.params)

    def signature(self) -> str:
        args = ", ".join(f"{p.name}: {p.type}" for p in self.params)
        return f"{self.name}({args})"


def _p(name: str, type_: str, description: str) -> Param:
    return Param(name, type_, description)


_DATE = "date and time as 'YYYY-MM-DD HH:MM:SS'"

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "get_phone_number", "contacts", Effect.READ,
        "Looks up a person in Contacts and returns their phone number.",
        (_p("name", STR, "the person's name as the user said it"),),
        "the phone number as a string",
    ),
    ToolSpec(
        "get_email_address", "contacts", Effect.READ,
        "Looks up a person in Contacts and returns their email address.",
        (_p("name", STR, "the person's name as the user said it"),),
        "the email address as a string",
    ),
    ToolSpec(
        "create_calendar_event", "calendar", Effect.WRITE,
        "Adds an event to the calendar, optionally inviting people by email address.",
        (
            _p("title", STR, "the event title"),
            _p("start_date", STR, f"start, {_DATE}"),
            _p("end_date", STR, f"end, {_DATE}; one hour after the start if unknown"),
            _p("location", STR, "where it happens, or an empty string"),
            _p("invitees", LIST_STR, "email addresses of people to invite"),
            _p("notes", STR, "notes for the event, or an empty string"),
            _p("calendar", STR, "calendar name, or None for the default calendar"),
        ),
        "a confirmation with the event's details",
        companions=("get_email_address",),
    ),
    ToolSpec(
        "open_and_get_file_path", "files", Effect.UI,
        "Finds a file by name with Spotlight, opens it and returns its full path.",
        (_p("file_name", STR, "the file's name or part of it"),),
        "the file's absolute path",
    ),
    ToolSpec(
        "summarize_pdf", "files", Effect.READ,
        "Reads a PDF file and returns a short summary of its text.",
        (_p("pdf_path", STR, "absolute path of the PDF, usually the output of open_and_get_file_path"),),
        "the summary text",
        companions=("open_and_get_file_path",),
    ),
    ToolSpec(
        "compose_new_email", "mail", Effect.DRAFT,
        "Writes a new email from the given context and opens it in Mail, ready to send.",
        (
            _p("recipients", LIST_STR, "email addresses to send to"),
            _p("cc", LIST_STR, "email addresses to copy"),
            _p("subject", STR, "the subject line"),
            _p("context", STR, "what the email should say; the body is written from it"),
            _p("attachments", LIST_STR, "absolute paths of files to attach"),
        ),
        "a confirmation of the draft",
        companions=("get_email_address",),
    ),
    ToolSpec(
        "reply_to_email", "mail", Effect.DRAFT,
        "Replies to the email currently selected in Mail with a reply written from the context.",
        (
            _p("cc", LIST_STR, "email addresses to copy"),
            _p("context", STR, "what the reply should say"),
            _p("attachments", LIST_STR, "absolute paths of files to attach"),
        ),
        "a confirmation of the reply draft",
    ),
    ToolSpec(
        "forward_email", "mail", Effect.DRAFT,
        "Forwards the email currently selected in Mail, with a note written from the context.",
        (
            _p("recipients", LIST_STR, "email addresses to forward to"),
            _p("cc", LIST_STR, "email addresses to copy"),
            _p("context", STR, "what the note above the forwarded email should say"),
            _p("attachments", LIST_STR, "absolute paths of extra files to attach"),
        ),
        "a confirmation of the forward draft",
        companions=("get_email_address",),
    ),
    ToolSpec(
        "maps_open_location", "maps", Effect.UI,
        "Shows a place in Maps and returns a link to it.",
        (_p("location", STR, "the place or address"),),
        "a Maps link to the place",
    ),
    ToolSpec(
        "maps_show_directions", "maps", Effect.UI,
        "Shows directions between two places in Maps and returns a link to them.",
        (
            _p("start_location", STR, "where to start; empty for the current location"),
            _p("end_location", STR, "where to go"),
            _p("transport", STR, "'d' driving, 'w' walking, 'r' public transit"),
        ),
        "a Maps link to the directions",
    ),
    ToolSpec(
        "create_note", "notes", Effect.WRITE,
        "Creates a note with the given name and content in Notes.",
        (
            _p("name", STR, "the note's title"),
            _p("content", STR, "what the note should contain"),
            _p("folder", STR, "folder name, or an empty string for the default folder"),
        ),
        "a confirmation of the new note",
    ),
    ToolSpec(
        "open_note", "notes", Effect.READ,
        "Finds a note by name, opens it and returns its content.",
        (
            _p("name", STR, "the note's title"),
            _p("folder", STR, "folder name, or an empty string to search all folders"),
        ),
        "the note's content",
    ),
    ToolSpec(
        "append_note_content", "notes", Effect.WRITE,
        "Adds content to the end of an existing note.",
        (
            _p("name", STR, "the note's title"),
            _p("content", STR, "what to add"),
            _p("folder", STR, "folder name, or an empty string to search all folders"),
        ),
        "a confirmation with the note's new length",
    ),
    ToolSpec(
        "create_reminder", "reminders", Effect.WRITE,
        "Creates a reminder, optionally with a due date, notes, list and priority.",
        (
            _p("name", STR, "what to be reminded of"),
            _p("due_date", STR, f"when it is due, {_DATE}, or an empty string"),
            _p("notes", STR, "extra notes, or an empty string"),
            _p("list_name", STR, "reminder list name, or an empty string for the default list"),
            _p("priority", INT, "0 none, 1 high, 5 medium, 9 low"),
            _p("all_day", BOOL, "True for an all-day reminder"),
        ),
        "a confirmation of the reminder",
    ),
    ToolSpec(
        "send_sms", "messages", Effect.SEND,
        "Sends a text message with Messages to one or more phone numbers.",
        (
            _p("recipients", LIST_STR, "phone numbers, usually outputs of get_phone_number"),
            _p("message", STR, "the text to send"),
        ),
        "a confirmation of delivery",
        companions=("get_phone_number",),
    ),
    ToolSpec(
        "get_zoom_meeting_link", "zoom", Effect.NETWORK,
        "Creates a Zoom meeting and returns its join link.",
        (
            _p("topic", STR, "the meeting topic"),
            _p("start_time", STR, f"start, {_DATE}"),
            _p("duration", INT, "length in minutes"),
            _p("meeting_invitees", LIST_STR, "email addresses of people to invite"),
        ),
        "the meeting's join link",
        companions=("get_email_address",),
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
REGISTRY: dict[str, ToolSpec] = {t.name: t for t in TOOLS}
APPS: tuple[str, ...] = tuple(dict.fromkeys(t.app for t in TOOLS))


def get_tool(name: str) -> ToolSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(TOOL_NAMES)}") from None


def tools_for_apps(apps: set[str] | frozenset[str] | None) -> tuple[ToolSpec, ...]:
    """The tools of the enabled apps (all of them when `apps` is None)."""
    return tuple(t for t in TOOLS if apps is None or t.app in apps)
