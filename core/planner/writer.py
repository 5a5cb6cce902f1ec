"""The planner's sub-agents: email bodies, note text and PDF summaries from the same model.

As TinyAgent's sub-agents (src/tiny_agent/sub_agents/*.py at SqueezeAILab/TinyAgent 0074615,
MIT, see NOTICE): an email is written from the plan's context AND the user's request, so the
empty context TinyAgent's planner is trained to leave still gives a real draft; a reply or
forward also reads the email thread; a note from its title, content and the request; a PDF
summary from the whole text, cut to what fits the context window; the user's instructions
reach every one of them. The email system prompts are TinyAgent's words; the note prompt
asks for plain text instead of TinyAgent's HTML (the sandbox and the confirmation show text).

Tools call these from their worker threads. Each call is a short prompt queued on the
model's one worker, so it waits while a plan is streaming (the stream never waits for
anyone, so the queue always drains) but never longer than `timeout`; on any failure,
or when called on an event loop's thread, PlainWriter's text is used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from typing import Any

from tinyagent.core.planner.chat import NONE, ChatTemplate, ChatTemplateError
from tinyagent.core.planner.llm import ModelError
from tinyagent.tools.backend import PlainWriter

log = logging.getLogger("tinyagent.writer")

_SUMMARY_TOKENS = 160
_ROOM_TOKENS = 64  # kept free beyond the answer, like TinyAgent's _CONTEXT_LENGTH_TRUST

_EMAIL_SYSTEM = {
    "new": ("You are an expert email composer agent. Given an email content or a user query, you MUST generate a "
            "well-formatted and informative email. The email should include a polite greeting, a detailed body, and a "
            "professional sign-off. You MUST NOT include a subject. The email should be well-structured and free of "
            "grammatical errors."),
    "reply": ("You are an expert email composer agent. Given the content of the past email thread and a user query, "
              "you MUST generate a well-formatted and informative reply to the last email in the thread. "
              "The email should include a polite greeting, a detailed body, and a "
              "professional sign-off. You MUST NOT include a subject. The email should be well-structured and free of "
              "grammatical errors."),
    "forward": ("You are an expert email composer agent. Given the content of the past email thread and a user query, "
                "you MUST generate a very concise and informative forward of the last email in the thread. "),
}
_NOTE_SYSTEM = ("You are an expert note taking agent. Given a note's title, the text to put in it and the user's "
                "request, you MUST write the note's text: well-structured plain text, with short paragraphs and "
                "bullet points for lists. Write only the note's text.")
_PDF_SYSTEM = ("You are an expert PDF summarizer agent. Given the PDF content, you MUST generate an informative and "
               "verbose summary of the content. The summary should include the main points and key details of the "
               "content. ")


def _preferences(instructions: str, what: str) -> str:
    if not instructions.strip():
        return ""
    return ("\nHere are some general facts about the user's preferences, "
            f"you MUST keep these in mind when {what}:\n{instructions}")


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ModelWriter:
    """A ContentWriter backed by the local model, with PlainWriter as the safety net."""

    def __init__(self, llm: Any, *, timeout: float = 20.0, max_tokens: int = 200,
                 template: ChatTemplate = NONE, instructions: str = ""):
        self.llm = llm
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.template = template
        self.instructions = instructions or ""
        self.plain = PlainWriter()

    def _prompt(self, system: str, user: str) -> tuple[str, bool]:
        if self.template.plain:
            return f"{system}\n\n{user}", False
        return self.template.chat(system, user), True

    def _write(self, system: str, user: str, fallback: str, *, max_tokens: int | None = None) -> str:
        if _on_event_loop():  # blocking here would freeze the UI and the plan stream
            return fallback
        try:
            prompt, templated = self._prompt(system, user)
            text = self.llm.complete(prompt, max_tokens=max_tokens or self.max_tokens, temperature=0.0,
                                     stop=["\n###", "\nQuery:", *self.template.stops], timeout=self.timeout,
                                     special=templated, use_adapter=False).text
        # the model is a nicety here, never a reason to fail a tool (RuntimeError: llama.cpp's decode)
        except (ModelError, ChatTemplateError, RuntimeError) as exc:
            log.info("writer fell back to the plan's text: %s", exc)
            return fallback
        text = text.strip()
        return text or fallback

    def email_body(self, context: str, *, kind: str, recipients: list[str], subject: str = "",
                   request: str = "", thread: str = "") -> str:
        fallback = self.plain.email_body(context, kind=kind, recipients=recipients, subject=subject, request=request)
        if not fallback and not thread.strip():
            return fallback  # nothing at all says what to write
        system = _EMAIL_SYSTEM.get(kind, _EMAIL_SYSTEM["new"]) + _preferences(self.instructions, "writing your email")
        context = (context or "").strip()
        if kind in ("reply", "forward") and thread.strip():
            context += "\nEmail Thread:\n" + re.sub(r"\n+", "\n", thread.strip())
        user = f"Context:\n{context}\nQuery: {' '.join(request.split())}\nEmail Body:\n"
        return self._write(system, user, fallback)

    def note_content(self, content: str, *, name: str, request: str = "") -> str:
        fallback = self.plain.note_content(content, name=name, request=request)
        if not fallback:
            return fallback
        system = _NOTE_SYSTEM + _preferences(self.instructions, "writing your note")
        user = (f"Note Title: {name}\nNew Text Content: {(content or '').strip()}\n"
                f"Query: {' '.join(request.split())}\nNote Text:\n")
        return self._write(system, user, fallback)

    def summarize(self, text: str, *, title: str = "") -> str:
        fallback = self.plain.summarize(text, title=title)
        source = " ".join(text.split())
        if not source:
            return fallback
        system = _PDF_SYSTEM + _preferences(self.instructions, "writing your summary")
        source = self._fit(system, source)
        return self._write(system, f"PDF Content:\n{source}\nSummary:\n", fallback, max_tokens=_SUMMARY_TOKENS)

    def _fit(self, system: str, source: str) -> str:
        """The whole text, or its beginning cut to what the context window leaves (never a crash).

        Tokenizing runs as a job on the model's worker, which refuses once the model is closed.
        """
        n_ctx = int(getattr(self.llm, "n_ctx", 0) or 0)
        submit = getattr(self.llm, "submit", None)
        if not n_ctx or submit is None:
            return source
        llm = self.llm

        def cut() -> str:
            overhead = len(llm.tokenize(self._prompt(system, "PDF Content:\n\nSummary:\n")[0], special=True))
            budget = n_ctx - overhead - _SUMMARY_TOKENS - _ROOM_TOKENS
            tokens = llm.tokenize(source, bos=False)
            if len(tokens) <= budget:
                return source
            return llm.detokenize(tokens[: max(0, budget)])

        try:
            return submit(cut).result(timeout=self.timeout)
        except (concurrent.futures.TimeoutError, ModelError, ChatTemplateError) as exc:  # cut by characters instead
            log.debug("could not fit the PDF text by tokens: %s", exc)
            return source[: max(0, n_ctx * 3)]
