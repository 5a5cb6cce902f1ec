"""A tool's one-line description, as the planner's prompt shows it and ToolRAG's similarity reads it.

A built-in tool's line is its spec's `hint` (tools/specs/), written by us. An MCP server's
tool brings its own description: often paragraphs, and untrusted text that may try to pass as
the prompt's own rules or as another tool. It is cut to one line (its first sentence, at most
DESCRIPTION_CHARS), every run of whitespace one space and control or format characters
dropped, so it can only ever be read as the description of that one tool.
"""

from __future__ import annotations

import re
import unicodedata

from tinyagent.tools.spec import ToolSpec

DESCRIPTION_CHARS = 160  # the longest built-in hint is 75; the filesystem server's first sentences reach ~130
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_HIDDEN = ("Cc", "Cf", "Co", "Cs", "Cn")  # controls, bidi/zero-width format marks, private and unassigned


def flat(text: str, limit: int | None = None) -> str:
    """`text` on one line: each run of whitespace one space, hidden characters dropped, cut at
    `limit` (with "…") where one is given."""
    kept = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _HIDDEN)
    folded = " ".join(kept.split())
    return folded if limit is None or len(folded) <= limit else folded[: limit - 1].rstrip() + "…"


def one_line(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """`text` as one short line: its first sentence, whitespace collapsed, hidden characters dropped."""
    first = _SENTENCE_END.split(flat(text), 1)[0]
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def description_line(tool: ToolSpec) -> str:
    """What the prompt says a tool does: a built-in's hint as written, a server's description as one line."""
    if tool.server:
        return one_line(tool.hint or tool.description)
    return tool.hint or tool.description


def similarity_text(tool: ToolSpec) -> str:
    """What a request is compared with to rank a server's tool: its name in words and its line
    ("write file: Create a new file or completely overwrite an existing file with new content.")."""
    return f"{tool.name.replace('_', ' ')}: {description_line(tool)}"
