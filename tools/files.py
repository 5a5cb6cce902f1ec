"""Finding a file by the name a user says, and reading a PDF's text; shared by all backends."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

from tinyagent.tools.backend import ToolError


def _words(text: str) -> list[str]:
    cleaned = "".join(c.lower() if c.isalnum() else " " for c in text)
    return cleaned.split()


_EXTENSION = re.compile(r"\.[a-z][a-z0-9]{1,4}$")  # ".pdf", ".docx"; not the ".2" of "v1.2"


def pick_file(query: str, candidates: list[Path]) -> Path:
    """The one file `query` means: exact name, then exact stem, then all words in the name.

    Several equally good matches are an error listing them: opening the wrong file is worse
    than asking.
    """
    q = query.strip().lower()
    q_stem = os.path.splitext(q)[0] if "." in q else q
    kind = _EXTENSION.search(q)  # "lease.docx" is not "Apartment Lease.pdf": a named type must match
    typed = [p for p in candidates if p.suffix.lower() == kind.group(0)] if kind else candidates
    q_words = _words(q)
    tiers = (
        [p for p in typed if p.name.lower() == q],
        [p for p in typed if p.stem.lower() == q_stem],
        [p for p in typed if q_words and all(w in _words(p.name) for w in q_words)],
        [p for p in typed if q_stem and q_stem.replace(" ", "") in p.name.lower().replace(" ", "")],
    )
    for matches in tiers:
        unique = sorted(set(matches))
        if len(unique) == 1:
            return unique[0]
        if len(unique) > 1:
            listed = ", ".join(p.name for p in unique[:8])
            raise ToolError(f"open_and_get_file_path: {len(unique)} files match {query!r}: {listed}. "
                            f"Give more of the name.")
    known = ", ".join(sorted(p.name for p in candidates)[:10])
    hint = f" Files include: {known}" if known else ""
    raise ToolError(f"open_and_get_file_path: no file matches {query!r}.{hint}")


def read_pdf_text(path_text: str) -> tuple[Path, str]:
    """The PDF's path and its extracted text; a clear ToolError for anything that is not one."""
    path = Path(os.path.expanduser(path_text.strip()))
    where = "summarize_pdf"
    if not path.is_absolute():
        raise ToolError(f"{where}: {path_text!r} is not a full path; find the file with "
                        f"open_and_get_file_path and pass its result")
    if not path.is_file():
        raise ToolError(f"{where}: no file at {path}")
    if path.suffix.lower() != ".pdf":
        raise ToolError(f"{where}: {path.name} is not a PDF; only PDF files can be summarized")
    import pypdf  # ~0.1 s to import, and only this tool needs it: not at start-up

    # A broken file: pypdf's own errors mostly, and the plain ones its parser lets through.
    broken = (pypdf.errors.PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError,
              OSError, RecursionError, struct.error, zlib.error)
    try:
        reader = pypdf.PdfReader(str(path))
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
    except broken as exc:
        raise ToolError(f"{where}: cannot read {path.name} as a PDF ({type(exc).__name__}: {exc})") from exc
    return path, text
