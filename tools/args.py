"""Turning the model's resolved arguments into checked, typed values, shared by all backends.

Arguments arrive as the plan wrote them after `$N` references were filled in: strings,
numbers, lists, None. "Not given" is None or "". Every check fails with a `ToolError` that
says what was wrong and what would work, because the message also goes back to the planner.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tinyagent.tools.backend import ToolError
from tinyagent.tools.spec import BOOL, INT, LIST_STR, STR, ToolSpec

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE_FORMATS = (DATE_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")
_DAY_FORMAT = "%Y-%m-%d"  # accepted only where a day alone makes sense (reminders)
_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[A-Za-z]{2,}$")
_PHONE_CHARS_RE = re.compile(r"^\+?[\d\s().\-]+$")
TRANSPORTS = {"d": "d", "w": "w", "r": "r", "driving": "d", "drive": "d", "car": "d",
              "walking": "w", "walk": "w", "transit": "r", "public transit": "r"}
TRANSPORT_WORDS = {"d": "driving", "w": "walking", "r": "public transit"}


def coerce_args(tool: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameters, typed: str -> str, list[str] -> list, int -> int|None, bool.

    Every required parameter is in the result ("not given" typed as "", [], None or False); an
    optional one only when the call gave it a value, so its server applies its own default.
    """
    unknown = set(args) - {p.name for p in tool.params}
    if unknown:
        raise ToolError(f"{tool.name} has no parameter(s) {', '.join(sorted(unknown))}; "
                        f"its signature is {tool.signature()}")
    out: dict[str, Any] = {}
    for p in tool.params:
        value = args.get(p.name)
        if p.optional and value is None:
            continue
        where = f"{tool.name}: {p.name}"
        if p.type == STR:
            # A server's tool gets its text as written (a file's trailing newline is its content);
            # the built-in tools get it trimmed, as their checks and lookups expect.
            out[p.name] = _text(value, where, strip=not tool.server)
        elif p.type == LIST_STR:
            out[p.name] = _text_list(value, where)
        elif p.type == INT:
            out[p.name] = _whole_number(value, where)
        elif p.type == BOOL:
            out[p.name] = _flag(value, where)
        else:  # a registry type this module does not know: a programming error, say so plainly
            raise ToolError(f"{where}: unsupported parameter type {p.type!r}")
        if p.optional and out[p.name] is None:  # an optional number given as ""
            del out[p.name]
    return out


def _text(value: Any, where: str, *, strip: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (str, int, float)):
        return str(value).strip() if strip else str(value)
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str):
        # a one-item list where text was meant: the item is clearly it
        return value[0].strip() if strip else value[0]
    raise ToolError(f"{where}: expected text, got {_show(value)}")


def _text_list(value: Any, where: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if not isinstance(value, (list, tuple)):
        raise ToolError(f"{where}: expected a list of text like [\"a\", \"b\"], got {_show(value)}")
    items: list[str] = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, (list, tuple)):  # a reference to a list output, spliced in
            items.extend(_text_list(item, where))
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            if str(item).strip():
                items.append(str(item).strip())
        else:
            raise ToolError(f"{where}: list items must be text, got {_show(item)}")
    return items


def _whole_number(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ToolError(f"{where}: expected a whole number, got {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ToolError(f"{where}: expected a whole number, got {_show(value)}")


def _flag(value: Any, where: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ToolError(f"{where}: expected True or False, got {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- domain checks ---------------------------------------------------------------------------
def parse_date(text: str, where: str, *, day_only_ok: bool = False) -> datetime:
    for fmt in _DATE_FORMATS + ((_DAY_FORMAT,) if day_only_ok else ()):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ToolError(f"{where}: {text!r} is not a date and time; write it as 'YYYY-MM-DD HH:MM:SS', "
                    f"e.g. '2024-05-07 14:30:00'")


def is_day_only(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()))


def parse_optional_date(text: str, where: str, *, day_only_ok: bool = False) -> datetime | None:
    return parse_date(text, where, day_only_ok=day_only_ok) if text else None


def format_date(value: datetime) -> str:
    return value.strftime(DATE_FORMAT)


def human_date(value: datetime, day_only: bool = False) -> str:
    return value.strftime("%a %Y-%m-%d" if day_only else "%a %Y-%m-%d %H:%M")


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL_RE.match(text.strip()))


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_CHARS_RE.match(text)) and 7 <= sum(c.isdigit() for c in text) <= 15


def check_emails(addresses: list[str], where: str) -> list[str]:
    for address in addresses:
        if not looks_like_email(address):
            raise ToolError(f"{where}: {address!r} is not an email address; look the person up with "
                            f"get_email_address first and pass its result")
    return addresses


def check_phones(numbers: list[str], where: str) -> list[str]:
    """Phone numbers, or email addresses (Messages sends iMessages to those too)."""
    for number in numbers:
        if not (looks_like_phone(number) or looks_like_email(number)):
            raise ToolError(f"{where}: {number!r} is not a phone number; look the person up with "
                            f"get_phone_number first and pass its result")
    return numbers


def check_transport(text: str) -> str:
    key = text.strip().lower() or "d"
    if key not in TRANSPORTS:
        raise ToolError(f"maps_show_directions: transport must be 'd' (driving), 'w' (walking) "
                        f"or 'r' (public transit), not {text!r}")
    return TRANSPORTS[key]


def check_priority(value: int | None) -> int:
    if value is None:
        return 0
    if not 0 <= value <= 9:
        raise ToolError(f"create_reminder: priority must be 0 (none), 1 (high), 5 (medium) or 9 (low), "
                        f"not {value}")
    return value


def priority_word(value: int) -> str:
    if value == 0:
        return ""
    return "high" if value <= 4 else "medium" if value == 5 else "low"


def require(value: Any, where: str, what: str) -> None:
    if value in ("", None, []):
        raise ToolError(f"{where}: {what} is required")


def quote(text: str, limit: int = 60) -> str:
    """Text for a one-line summary: folded and cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
