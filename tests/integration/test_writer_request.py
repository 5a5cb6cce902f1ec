"""Sub-agents as TinyAgent's: drafts written from the context AND the user's request.

TinyAgent trains its planner to leave an email's context empty; the body must then come
from the request, never an empty draft. Runs on the real sandbox backend.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.test_tinyagent_pipeline import ScriptedLLM
from tinyagent.core.config import Config
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.chat import named
from tinyagent.core.planner.llm import LocalLLM
from tinyagent.core.planner.writer import ModelWriter
from tinyagent.tools.backend import PlainWriter, ToolCall, what_request_says
from tinyagent.tools.registry import REGISTRY
from tinyagent.tools.sandbox.backend import SandboxBackend

REQUEST = "Send an email to Sarah saying that the design review moved to Thursday at 3pm"
EMAIL_ARGS = {"recipients": ["sarah.lindqvist@example.com"], "cc": [], "subject": "Design review",
              "context": "", "attachments": []}


def prepared(backend, tool: str, args: dict, request: str) -> ToolCall:
    return backend.prepare(ToolCall(REGISTRY[tool], dict(args), request=request))


def test_without_a_model_the_request_says_what_to_write(tmp_path):
    backend = SandboxBackend(tmp_path / "s.db", PlainWriter())
    call = prepared(backend, "compose_new_email", EMAIL_ARGS, REQUEST)
    assert call.extras["body"] == "The design review moved to Thursday at 3pm."
    note = prepared(backend, "create_note", {"name": "Groceries", "content": "", "folder": ""},
                    "Make a note called Groceries with milk, eggs and bread")
    assert note.extras["content"] == "Milk, eggs and bread."
    # Context, when the plan gave one, still wins.
    call = prepared(backend, "compose_new_email", {**EMAIL_ARGS, "context": "See you there."}, REQUEST)
    assert call.extras["body"] == "See you there."
    assert what_request_says("") == ""


def test_the_model_writer_gets_request_instructions_and_thread(tiny_gguf, tmp_path):
    llm = ScriptedLLM(tiny_gguf, ["Hi Sarah,\n\nThe design review is now on Thursday at 3pm.\n\nBest", "Thanks!"])
    try:
        writer = ModelWriter(llm, template=named("tinyllama-32k-instruct"), instructions="Sign as Dr. Kim.")
        backend = SandboxBackend(tmp_path / "s.db", writer)
        call = prepared(backend, "compose_new_email", EMAIL_ARGS, REQUEST)
        assert call.extras["body"].startswith("Hi Sarah,") and "Thursday at 3pm" in call.extras["body"]
        sent = llm.calls[0]
        assert sent["special"] and "\n### Instruction:\nYou are an expert email composer agent." in sent["prompt"]
        assert "Sign as Dr. Kim." in sent["prompt"]
        assert f"Context:\n\nQuery: {REQUEST}\nEmail Body:\n" in sent["prompt"]
        reply = prepared(backend, "reply_to_email", {"cc": [], "context": "", "attachments": []}, "Reply thanks")
        assert reply.extras["body"] == "Thanks!"
        assert "\nEmail Thread:\n" in llm.calls[1]["prompt"]  # the selected email's text
    finally:
        llm.close()


def test_the_request_reaches_the_writer_through_the_pipeline(tiny_gguf, tmp_path):
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.apps = ["contacts", "mail"]
    config.planner.prompt, config.planner.chat_template, config.planner.max_replans = "tinyagent", "none", 0
    plan = ('1. get_email_address("Sarah")\n2. compose_new_email(["$1"], [], "Design review", "", [])\n'
            "3. join()<END_OF_PLAN>")
    llm = ScriptedLLM(tiny_gguf, [plan, "Hi Sarah, the review moved to Thursday.", "Thought: done\nAction: Finish(ok)"])
    pipeline = Pipeline(config, llm=llm)
    try:
        result = asyncio.run(pipeline.ask(REQUEST, emit=lambda e: None, yes=True))
        drafts = pipeline.backend.state()["mail"]
    finally:
        pipeline.close()
        llm.close()
    assert result.ok
    assert f"Query: {REQUEST}" in llm.calls[1]["prompt"]
    assert any(d.get("body") == "Hi Sarah, the review moved to Thursday." for d in drafts)


def test_a_real_model_drafts_a_body_from_the_request_alone(tmp_path):
    from tests.support.realmodels import real_model

    qwen = real_model("qwen2.5-coder-0.5b")
    llm = LocalLLM(qwen, n_ctx=2048, use_extra_bufts="auto")
    try:
        from tinyagent.core.planner.chat import choose, gguf_tokens

        bos, eos = gguf_tokens(llm)
        template = choose("auto", metadata=llm.metadata, bos_token=bos, eos_token=eos)
        writer = ModelWriter(llm, template=template, max_tokens=80, timeout=240)
        call = prepared(SandboxBackend(tmp_path / "s.db", writer), "compose_new_email", EMAIL_ARGS, REQUEST)
    finally:
        llm.close()
    body = call.extras["body"]
    assert body and body != what_request_says(REQUEST)  # the model wrote it, not the fallback
    assert "thursday" in body.lower() or "3" in body


def test_pdf_text_is_cut_to_the_context_window(tiny_gguf):
    llm = ScriptedLLM(tiny_gguf, ["A summary."])
    try:
        writer = ModelWriter(llm)
        long_text = "word " * 5000  # far beyond the 512-token context
        assert writer.summarize(long_text, title="Long") == "A summary."
        sent = llm.calls[0]["prompt"]
        assert len(llm.tokenize(sent)) <= llm.n_ctx and "word word" in sent
        short = ModelWriter(object())  # a model without a context size: the text is kept whole
        assert short._fit("s", "all of it") == "all of it"
    finally:
        llm.close()


@pytest.mark.parametrize("kind", ["new", "reply", "forward"])
def test_no_request_and_no_context_writes_nothing(kind, tiny_gguf):
    llm = ScriptedLLM(tiny_gguf, ["should not be used"])
    try:
        assert ModelWriter(llm).email_body("", kind=kind, recipients=[], request="") == ""
        assert llm.calls == []
    finally:
        llm.close()
