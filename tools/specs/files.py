"""open_and_get_file_path, summarize_pdf: finding, opening and reading the user's files."""

from __future__ import annotations

import os

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.files import pick_file, read_pdf_text
from tinyagent.tools.sandbox.backend import SandboxBackend
from tinyagent.tools.spec import PATH, STR, Args, Effect, Extras, Param, ToolSpec


def _open_check(a: Args) -> None:
    A.require(a["file_name"], "open_and_get_file_path", "a file name")


def _open_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Find the file '{a['file_name']}' and open it"


def _open_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    path = str(pick_file(a["file_name"], b.files()).resolve())
    with b.store.write() as conn:
        b.activity(conn, "files", "opened", path)
    return path


def _open_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    path = str(pick_file(a["file_name"], b.spotlight(a["file_name"])))
    b.run_script(OPEN_AND_GET_FILE_PATH, path)
    return path


def _pdf_check(a: Args) -> None:
    A.require(a["pdf_path"], "summarize_pdf", "the PDF's path")


def _pdf_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Read and summarize {os.path.basename(a['pdf_path']) or a['pdf_path']}"


def _pdf_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    b.store.ensure_ready()  # the demo files are written on first use
    path, text = read_pdf_text(a["pdf_path"])
    return b.summarize_text(text, path)


def _pdf_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    path, text = read_pdf_text(a["pdf_path"])  # read in Python: no app needed
    return b.summarize_text(text, path)


OPEN_AND_GET_FILE_PATH = ToolSpec(
    "open_and_get_file_path", "files", Effect.UI,
    "Finds a file by name with Spotlight, opens it and returns its full path.",
    (Param("file_name", STR, "the file's name or part of it"),),
    "the file's absolute path",
    undone="opened", what="opening the file",
    hint="finds and opens a file; returns its path",
    check=_open_check, describe=_open_summary, sandbox=_open_sandbox, applescript=_open_mac, script="open_file",
)

SUMMARIZE_PDF = ToolSpec(
    "summarize_pdf", "files", Effect.READ,
    "Reads a PDF file and returns a short summary of its text.",
    (Param("pdf_path", STR, "absolute path of the PDF, usually the output of open_and_get_file_path",
           resolve=PATH),),
    "the summary text",
    companions=("open_and_get_file_path",),
    undone="summarized",
    hint="a summary of the PDF at a path from open_and_get_file_path",
    check=_pdf_check, describe=_pdf_summary, sandbox=_pdf_sandbox, applescript=_pdf_mac,
)
