"""One sanitiser for every text a person is asked to approve (terminal prompt and TUI modal).

Text from notes, emails and model output can carry escape sequences that rewrite the line a
person reads (ESC [ 2K, CR), or bidi overrides that reorder it. Each such character is made
visible as a Python-style escape (`\\x1b`, `\\u202e`), so what is shown is what will be used.
"""

from __future__ import annotations

import unicodedata

# Format characters that change how the surrounding text reads: bidi embeddings, overrides and
# isolates, marks, zero-width joiners/spaces and the BOM. Category Cf holds them all.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _hidden(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # C0, DEL, C1 (CSI 0x9b among them)
        return True
    if code < 0x7F:
        return False
    return unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def visible(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every control, format or unassigned character written as an escape.

    keep_newlines: leave "\\n" as a line break (for multi-line bodies that are shown indented).
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable() and "\n" not in s:  # the common case: nothing to do
        return s
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif _hidden(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)
