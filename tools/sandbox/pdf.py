"""A tiny PDF writer for the sandbox's demo documents: Helvetica text, wrapped, paged.

Enough for pypdf (and any viewer) to read real text back; no dependency needed at run time.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

_LINES_PER_PAGE = 46
_WRAP = 88


def _escape(line: str) -> str:
    safe = line.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_stream(lines: list[str], title: str | None) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    if title:
        ops += ["/F2 16 Tf", f"({_escape(title)}) Tj", "T*", "/F1 11 Tf", "T*"]
    ops += [f"({_escape(line)}) Tj T*" for line in lines]
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def pdf_bytes(title: str, paragraphs: list[str]) -> bytes:
    lines: list[str] = []
    for para in paragraphs:
        lines.extend(textwrap.wrap(para, _WRAP) or [""])
        lines.append("")
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, max(len(lines), 1), _LINES_PER_PAGE)]

    objects: list[bytes] = []  # object n is objects[n - 1]
    font_regular, font_bold, pages_obj = 3, 4, 2
    kids = []
    body_objects: list[bytes] = []
    first = 5
    for index, page_lines in enumerate(pages):
        stream = _page_stream(page_lines, title if index == 0 else None)
        page_no, content_no = first + 2 * index, first + 2 * index + 1
        kids.append(f"{page_no} 0 R")
        body_objects.append(
            f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_regular} 0 R /F2 {font_bold} 0 R >> >> "
            f"/Contents {content_no} 0 R >>".encode()
        )
        body_objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    objects.extend(body_objects)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def write_pdf(path: Path, title: str, paragraphs: list[str]) -> Path:
    path.write_bytes(pdf_bytes(title, paragraphs))
    return path
