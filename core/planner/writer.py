"""The planner's sub-agents: email bodies, note text and PDF summaries from the same model.

Tools call these from their worker threads. Each call is a short prompt queued on the
model's one worker, so it waits while a plan is streaming (the stream never waits for
anyone, so the queue always drains) but never longer than `timeout`; on any failure,
or when called on an event loop's thread, the plan's own words are used (PlainWriter).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tools.backend import PlainWriter

log = logging.getLogger("tinyagent.writer")

_SOURCE_CHARS = 3000  # of a PDF's text given to the summarizer


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ModelWriter:
    """A ContentWriter backed by the local model, with PlainWriter as the safety net."""

    def __init__(self, llm: Any, *, timeout: float = 20.0, max_tokens: int = 200):
        self.llm = llm
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.plain = PlainWriter()

    def _write(self, prompt: str, fallback: str, *, max_tokens: int | None = None) -> str:
        if _on_event_loop():  # blocking here would freeze the UI and the plan stream
            return fallback
        try:
            text = self.llm.complete(prompt, max_tokens=max_tokens or self.max_tokens, temperature=0.0,
                                     stop=["\n###", "\nRequest:"], timeout=self.timeout)
        except Exception as exc:  # the model is a nicety here, never a reason to fail a tool
            log.info("writer fell back to the plan's text: %s", exc)
            return fallback
        text = text.strip()
        return text or fallback

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "") -> str:
        fallback = self.plain.email_body(context, kind=kind, recipients=recipients, subject=subject)
        if not fallback:
            return fallback
        to = ", ".join(str(r) for r in recipients) or "the recipients"
        prompt = (f"Write the body of a short {kind} email to {to}"
                  + (f" with the subject \"{subject}\"" if subject else "")
                  + f". It should say: {fallback}\nWrite only the body text.\n\nBody:\n")
        return self._write(prompt, fallback)

    def note_content(self, content: str, *, name: str) -> str:
        fallback = self.plain.note_content(content, name=name)
        if not fallback:
            return fallback
        prompt = (f"Write the text of a note titled \"{name}\" from these instructions: {fallback}\n"
                  "Write only the note's text.\n\nNote:\n")
        return self._write(prompt, fallback)

    def summarize(self, text: str, *, title: str = "") -> str:
        fallback = self.plain.summarize(text, title=title)
        source = " ".join(text.split())[:_SOURCE_CHARS]
        if not source:
            return fallback
        prompt = (f"Summarize this document{f' ({title})' if title else ''} in three sentences.\n\n"
                  f"{source}\n\nSummary:\n")
        return self._write(prompt, fallback, max_tokens=160)
