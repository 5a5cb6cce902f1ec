"""The 16 tools the TinyAgent model was trained on: names, order and argument types are fixed.

Each tool is defined once, in tools/specs/ (its data and its handlers); this module lists
them in the order the model, the grammar and ToolRAG's labels know. The plan validator, the
grammar, ToolRAG and the prompts read their facts from here.
"""

from __future__ import annotations

from tinyagent.tools.spec import BOOL, INT, LIST_STR, STR, Effect, Param, ToolSpec
from tinyagent.tools.specs import calendar, contacts, files, mail, maps, messages, notes, reminders, zoom

__all__ = ["APPS", "BOOL", "INT", "LIST_STR", "REGISTRY", "STR", "TOOLS", "TOOL_NAMES", "Effect", "Param",
           "ToolSpec", "get_tool", "tools_for_apps"]

TOOLS: tuple[ToolSpec, ...] = (
    contacts.GET_PHONE_NUMBER,
    contacts.GET_EMAIL_ADDRESS,
    calendar.CREATE_CALENDAR_EVENT,
    files.OPEN_AND_GET_FILE_PATH,
    files.SUMMARIZE_PDF,
    mail.COMPOSE_NEW_EMAIL,
    mail.REPLY_TO_EMAIL,
    mail.FORWARD_EMAIL,
    maps.MAPS_OPEN_LOCATION,
    maps.MAPS_SHOW_DIRECTIONS,
    notes.CREATE_NOTE,
    notes.OPEN_NOTE,
    notes.APPEND_NOTE_CONTENT,
    reminders.CREATE_REMINDER,
    messages.SEND_SMS,
    zoom.GET_ZOOM_MEETING_LINK,
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
