"""Finding the one contact a name means. Never a silent first match: ambiguity is an error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinyagent.tools.backend import ToolError


def full_name(contact: dict[str, Any]) -> str:
    return f"{contact['first_name']} {contact['last_name']}".strip()


def _clean(text: str) -> str:
    text = " ".join(text.replace("’", "'").split()).lower()
    return text[:-2] if text.endswith("'s") else text  # "Sarah's" -> "sarah"


def find_contact(contacts: Sequence[dict[str, Any]], query: str, tool: str) -> dict[str, Any]:
    """Exact full name, else a unique first or last name, else a unique name prefix (case-insensitive)."""
    q = _clean(query)
    tiers = (
        [c for c in contacts if _clean(full_name(c)) == q],
        [c for c in contacts if q in (c["first_name"].lower(), c["last_name"].lower())],
        [c for c in contacts if len(q) >= 3 and _clean(full_name(c)).startswith(q)],
    )
    for matches in tiers:
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(full_name(c) for c in matches)
            raise ToolError(f"{tool}: {len(matches)} contacts match {query!r}: {names}. "
                            f"Use the full name.")
    known = ", ".join(full_name(c) for c in contacts[:12])
    raise ToolError(f"{tool}: no contact named {query!r}. Known contacts include: {known}")
