"""Argument kinds for the plan grammar: what a date, a recipient or a priority looks like.

The plain grammar knows only types (a str is any string). With kinds on, some arguments get a
narrower shape, taken from the forms in TinyAgent's 1,106 real plans (all of them stay legal):

- dates (`start_date`, `end_date`, `start_time`): "YYYY-MM-DD HH:MM:SS" with real month, day,
  hour, minute and second ranges, or None; a reminder's `due_date` also takes the date-only
  "YYYY-MM-DD" (60 real plans write it) and "" (no due date);
- recipients (`recipients`, `cc`, `invitees`, `meeting_invitees`): each item "$N" or an email
  address, a phone number or a person's name (one real plan writes ["Alice"]), never prose;
- ints: a priority is one digit, a duration 1-9999 minutes (no signs);
- every string: it may not *start* with a "$" that is no reference ("$Subject", "$Plan
  document" from a weak model); a "$" later in a text stays legal (a real plan writes
  "$content$5").
"""

from __future__ import annotations

from tinyagent.tools.registry import Param, ToolSpec

DATETIME, DUE, CONTACTS, PRIORITY, MINUTES = "datetime", "due", "contacts", "priority", "minutes"

_BY_PARAM = {"start_date": DATETIME, "end_date": DATETIME, "start_time": DATETIME, "due_date": DUE,
             "recipients": CONTACTS, "cc": CONTACTS, "invitees": CONTACTS, "meeting_invitees": CONTACTS,
             "priority": PRIORITY, "duration": MINUTES}

# The longest value each kind allows, in bytes (see grammar.max_plan_bytes).
EMAIL_PART, PHONE_MAX, NAME_MAX = 64, 24, 60
_CONTACT_BYTES = 2 + max(2 * EMAIL_PART + 1, PHONE_MAX, NAME_MAX)


def kind_of(tool: ToolSpec, param: Param) -> str | None:
    """The kind of one argument, or None where only its type is known. Kinds are the built-in
    tools' (by parameter name): an MCP server's `priority` or `duration` may mean anything."""
    return None if tool.server else _BY_PARAM.get(param.name)


def kind_bytes(kind: str, max_list: int) -> int:
    return {DATETIME: 21, DUE: 21, CONTACTS: 2 + max_list * (_CONTACT_BYTES + 2), PRIORITY: 4, MINUTES: 4}[kind]


def kind_rules(kinds: set[str]) -> list[str]:
    """The rules that do not depend on the step (no references)."""
    rules: list[str] = []
    if kinds & {DATETIME, DUE}:
        rules.append('day ::= [0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])')
        rules.append('clock ::= ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9]')
    if DATETIME in kinds:
        rules.append('datetime ::= "\\"" day " " clock "\\"" | "None"')
    if DUE in kinds:
        rules.append('due ::= "\\"" day (" " clock)? "\\"" | "\\"\\"" | "None"')
    if CONTACTS in kinds:
        rules.append('contact ::= "\\"" (email | phone | person) "\\""')
        rules.append(f'email ::= [A-Za-z0-9._%+-]{{1,{EMAIL_PART}}} "@" [A-Za-z0-9.-]{{1,{EMAIL_PART}}}')
        rules.append(f'phone ::= [+(]? [0-9] [0-9() -]{{2,{PHONE_MAX - 2}}}')
        rules.append(f"person ::= [A-Za-z] [A-Za-z .'-]{{0,{NAME_MAX - 1}}}")
    return rules


def step_rules(k: int, kinds: set[str], max_list: int) -> list[str]:
    """The kind rules of step k: references only to tasks 1..k-1 (`ref-k` exists when k > 1)."""
    ref = f" | ref-{k}" if k > 1 else ""
    rules: list[str] = []
    if CONTACTS in kinds:
        item = f"(contact{ref})"
        rules.append(f'contacts-{k} ::= "[" ({item} (", " {item}){{0,{max_list - 1}}})? "]" | "None"{ref}')
    if PRIORITY in kinds:
        rules.append(f'priority-{k} ::= [0-9] | "None"{ref}')
    if MINUTES in kinds:
        rules.append(f'minutes-{k} ::= [1-9] [0-9]{{0,3}} | "None"{ref}')
    return rules


def rule_for(kind: str, k: int) -> str:
    return kind if kind in (DATETIME, DUE) else f"{kind}-{k}"
