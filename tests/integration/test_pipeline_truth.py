"""What a request reports is what happened, through streams that break and replans that
repeat: a stream that raises after a task was dispatched still closes the run; a replan never
makes a change twice, however it is written; a plan already tried is not run again, not even
in part; a dry run changes nothing through a replan; a send whose outcome is unknown is never
called unsent. The first, second, third and last were bugs."""
from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Generator, Sequence
from pathlib import Path

import pytest

from tinyagent.core.approval import Decision
from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.config import Config
from tinyagent.core.events import Event, PlanFinished, StageTiming, TaskFinished, TaskStarted, TaskStatus, ToolsSelected
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.llm import GenerationStats, LocalLLM
from tinyagent.tools.sandbox import SandboxBackend


class ScriptLLM(LocalLLM):
    """Each generation says the next reply; a reply that is an Exception is raised after `raise_after` chars."""

    def __init__(self, path: Path, replies: Sequence, pause: float = 0.0):
        super().__init__(path, n_ctx=512, n_threads=1)
        self.replies = list(replies)
        self.pause = pause

    def _generate(self, prompt, *, grammar, max_tokens, temperature, stop, cancel, special=False,
                  min_room=8) -> Generator[str, None, GenerationStats]:
        reply = self.replies.pop(0) if self.replies else ""
        if isinstance(reply, tuple):
            text, exc = reply
        else:
            text, exc = reply, None
        for start in range(0, len(text), 5):
            yield text[start:start + 5]
        if exc is not None:
            time.sleep(self.pause)
            raise exc
        return GenerationStats(len(prompt), len(prompt), len(text), 0.0, 0.0, "stop")


def config(prompt: str = "compact") -> Config:
    c = Config(backend="sandbox")
    c.apps = ["contacts", "messages", "notes", "reminders"]
    c.planner.prompt = prompt
    c.planner.chat_template = "none"
    c.planner.max_replans = 1
    c.toolrag.enabled = False
    return c


def sms_count() -> int:
    conn = sqlite3.connect(sandbox_db_path())
    try:
        return conn.execute("SELECT count(*) FROM sms").fetchone()[0]
    finally:
        conn.close()


class SlowSandbox(SandboxBackend):
    def run_tool(self, run, call, a):
        if call.tool.name == "send_sms":
            time.sleep(0.8)
        return super().run_tool(run, call, a)


async def test_stream_raising_a_runtime_error_midway_still_closes_the_run(tiny_gguf):
    """llama.cpp raises RuntimeError (llama_decode failed) after the first task was dispatched."""
    db = sandbox_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    backend = SlowSandbox(db)
    backend.store.ensure_ready()
    before = sms_count()
    text = '1. send_sms(["+1 415 555 0101"], "hi")\n2. get_pho'
    llm = ScriptLLM(tiny_gguf, [(text, RuntimeError("llama_decode returned -1"))])
    events: list[Event] = []
    try:
        with pytest.raises(RuntimeError):
            await Pipeline(config(), llm=llm, backend=backend).ask("Text +1 415 555 0101 hi", emit=events.append,
                                                                   yes=True)
        at_raise = list(events)
        await asyncio.sleep(2.0)  # anything still running finishes in the background
    finally:
        llm.close()
    started = [e.task_id for e in at_raise if isinstance(e, TaskStarted)]
    finished = [e.task_id for e in at_raise if isinstance(e, TaskFinished)]
    late = [(type(e).__name__, getattr(e, "status", None)) for e in events[len(at_raise):]]
    sent = sms_count() - before
    # When ask() has raised, the run is closed: every started task finished, PlanFinished
    # emitted, and nothing happens after that.
    assert started == finished == [1]
    assert any(isinstance(e, PlanFinished) for e in at_raise)
    assert late == []
    assert sent in (0, 1)  # the send was under way: either is the truth, as long as it is reported


def tinyagent_config() -> Config:
    return config("tinyagent")


async def test_replan_does_not_send_the_same_sms_twice(tiny_gguf):
    """Attempt 1 sends to "Sarah" (looked up to her number) and a note is missing; the replan
    looks Sarah's number up first and sends the same text to the same number."""
    first = ('1. send_sms(["Sarah"], "Running late")\n2. open_note("No Such Note", "")\n'
             '3. join()<END_OF_PLAN>')
    second = ('1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>')
    llm = ScriptLLM(tiny_gguf, [first, "Thought: The note is missing; fixable.\nAction: Replan", second])
    events: list[Event] = []
    pipeline = Pipeline(tinyagent_config(), llm=llm)
    try:
        backend = pipeline._get_backend()
        backend.store.ensure_ready()
        before = sms_count()
        result = await pipeline.ask("Text Sarah what my note says, or that I'm running late",
                                    emit=events.append, yes=True)
    finally:
        llm.close()
    sends = [e for e in events if isinstance(e, TaskStarted) and e.tool == "send_sms"]
    assert result.attempts == 2
    assert sms_count() - before == 1, f"sent {sms_count() - before} times: {[s.args for s in sends]}"


async def test_a_repeated_plan_is_not_run_again(tiny_gguf):
    """The replan is the same plan: the answer says it was not run again, so nothing of it may run."""
    plan = ('1. open_note("No Such Note", "")\n2. send_sms(["+1 415 555 0101"], "Running late")\n'
            '3. join()<END_OF_PLAN>')
    llm = ScriptLLM(tiny_gguf, [plan, "Thought: The note is missing; fixable.\nAction: Replan", plan])
    asked = []

    async def approver(request):  # declines the first time, says yes when asked again
        asked.append(request.task.tool)
        return "deny" if len(asked) == 1 else "approve"

    events: list[Event] = []
    pipeline = Pipeline(tinyagent_config(), llm=llm)
    try:
        pipeline._get_backend().store.ensure_ready()
        before = sms_count()
        result = await pipeline.ask("Text +1 415 555 0101 what my note says", emit=events.append, approver=approver)
    finally:
        llm.close()
    assert "not run again" in result.answer
    assert (asked, sms_count() - before) == (["send_sms"], 0), result.answer


class SlowLLM(ScriptLLM):
    def _generate(self, prompt, *, grammar, max_tokens, temperature, stop, cancel, special=False, min_room=8):
        reply = self.replies.pop(0) if self.replies else ""
        for start in range(0, len(reply), 5):
            if cancel.is_set():
                return GenerationStats(len(prompt), len(prompt), start, 0.0, 0.0, "cancelled")
            yield reply[start:start + 5]
            time.sleep(0.05)
        return GenerationStats(len(prompt), len(prompt), len(reply), 0.0, 0.0, "stop")


@pytest.mark.parametrize("stage", ["streaming", "approval"])
async def test_cancel_while_streaming_or_awaiting_approval(tiny_gguf, stage):
    plan = ('1. send_sms(["+1 415 555 0101"], "hi")\n2. get_phone_number("Sarah")\n3. create_note("a", "b", "")\n'
            '4. get_email_address("Sarah")\n5. join()<END_OF_PLAN>')
    llm = SlowLLM(tiny_gguf, [plan])
    asking = asyncio.Event()

    async def approver(request):
        asking.set()
        await asyncio.sleep(100)
        return Decision.APPROVE

    events: list[Event] = []
    pipeline = Pipeline(config(), llm=llm)
    try:
        pipeline._get_backend().store.ensure_ready()
        before = sms_count()
        run = asyncio.create_task(pipeline.ask("Text +1 415 555 0101 hi", emit=events.append, approver=approver))
        await asyncio.wait_for(asking.wait(), 20)
        if stage == "approval":
            def streamed() -> bool:
                return any(isinstance(e, StageTiming) and e.stage == "plan_complete" for e in events)

            while not streamed():
                await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    finally:
        llm.close()
    finished = {e.task_id: e.status for e in events if isinstance(e, TaskFinished)}
    started = [e.task_id for e in events if isinstance(e, TaskStarted)]
    plans = [e for e in events if isinstance(e, PlanFinished)]
    assert sms_count() == before
    assert len(plans) == 1 and plans[0].summary.cancelled
    assert set(started) <= set(finished)
    assert finished[1] is TaskStatus.CANCELLED
    assert plans[0].summary.statuses == finished


ALL_WRITES = ('1. get_phone_number("Sarah")\n2. get_email_address("Sarah")\n3. send_sms(["$1"], "hi")\n'
              '4. create_note("N $2", "c", "")\n5. append_note_content("Shopping", "$1", "")\n'
              '6. create_reminder("r $2", "", "", "", 0, False)\n7. open_note("No Such Note", "")\n'
              '8. compose_new_email(["$2"], [], "s", "c", [])\n9. join()<END_OF_PLAN>')


@pytest.mark.parametrize("mode", ["safe", "strict"])
async def test_dry_run_changes_nothing_through_a_replan(tiny_gguf, mode):
    c = tinyagent_config()
    c.apps = ["contacts", "messages", "notes", "reminders", "mail", "calendar", "zoom", "maps", "files"]
    llm = ScriptLLM(tiny_gguf, [ALL_WRITES, "Thought: The note is missing.\nAction: Replan", ALL_WRITES.replace(
        "No Such Note", "Other"), "Thought: done\nAction: Finish(ok)"])
    sandbox_db_path().parent.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(c, llm=llm, backend=SandboxBackend(sandbox_db_path()))
    invoked = []
    try:
        backend = pipeline._get_backend()
        backend.store.ensure_ready()
        real_invoke = backend.invoke

        def spy(call):
            invoked.append(call.tool.name)
            return real_invoke(call)
        backend.invoke = spy
        before = backend.fingerprint()
        events: list[Event] = []
        await pipeline.ask("Text Sarah hi and note it", emit=events.append, dry_run=mode, yes=True)
    finally:
        llm.close()
    from tinyagent.tools.registry import REGISTRY
    changing = [t for t in invoked if REGISTRY[t].effect.changes_something]
    assert changing == [] and backend.fingerprint() == before


class MaybeSent(SandboxBackend):
    """send_sms is stopped mid-change (as an osascript killed mid-way): nobody can tell if it went."""

    def run_tool(self, run, call, a):
        if call.tool.name == "send_sms":
            from tinyagent.tools.backend import OutcomeUnknown
            raise OutcomeUnknown("osascript was stopped mid-way: the message may or may not have been sent")
        return super().run_tool(run, call, a)


@pytest.mark.parametrize("prompt", ["compact", "tinyagent"])
async def test_answer_never_says_nothing_was_sent_when_the_send_is_unknown(tiny_gguf, prompt):
    db = sandbox_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    llm = ScriptLLM(tiny_gguf, ['1. send_sms(["+1 415 555 0101"], "Running late")\n2. join()<END_OF_PLAN>'])
    events: list[Event] = []
    try:
        result = await Pipeline(config(prompt), llm=llm, backend=MaybeSent(db)).ask(
            "Text +1 415 555 0101 that I'm running late", emit=events.append, yes=True)
    finally:
        llm.close()
    assert result.summary.statuses[1] is TaskStatus.UNKNOWN
    assert "nothing was sent" not in result.answer, result.answer


class SecondSendFails(SandboxBackend):
    """The second send_sms of the request fails (as a Messages app that refused it); the others go."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sends = 0

    def run_tool(self, run, call, a):
        if call.tool.name == "send_sms":
            self.sends += 1
            if self.sends == 2:
                from tinyagent.tools.backend import ToolError
                raise ToolError("Messages refused the message")
        return super().run_tool(run, call, a)


SEND = 'send_sms(["+1 415 555 0102"], "Running late")'
LOOKED_UP = 'send_sms(["$1"], "Running late")'
TWICE = {  # (first plan, the replan written the same way, the replan with a new step first)
    "literal": (f"1. {SEND}\n2. {SEND}\n3. join()<END_OF_PLAN>",
                f"1. {SEND}\n2. {SEND}\n3. join()<END_OF_PLAN>",
                f'1. get_email_address("Sarah")\n2. {SEND}\n3. {SEND}\n4. join()<END_OF_PLAN>'),
    "lookup": (f'1. get_phone_number("Sarah")\n2. {LOOKED_UP}\n3. {LOOKED_UP}\n4. join()<END_OF_PLAN>',
               f'1. get_phone_number("Sarah")\n2. {LOOKED_UP}\n3. {LOOKED_UP}\n4. join()<END_OF_PLAN>',
               f'1. get_phone_number("Sarah")\n2. get_email_address("Sarah")\n3. {LOOKED_UP}\n'
               f'4. {LOOKED_UP}\n5. join()<END_OF_PLAN>'),
}


@pytest.mark.parametrize("replan", ["same", "new", "other"])
@pytest.mark.parametrize("number", ["literal", "lookup"])
async def test_two_identical_sends_count_as_two_through_a_replan(tiny_gguf, number, replan):
    """The same text to the same number twice; the second send fails; the replan writes the two
    sends again (as before, after a new step, or with the number written the other way). The earlier attempt's one success is not
    shared by both: no more sends are reported done than were made. This was a bug."""
    first, same, new = TWICE[number]
    other = TWICE["lookup" if number == "literal" else "literal"][0]
    llm = ScriptLLM(tiny_gguf, [first, "Thought: A send failed; try again.\nAction: Replan",
                                {"same": same, "new": new, "other": other}[replan],
                                "Thought: Done.\nAction: Finish(Sent.)<END_OF_PLAN>"])
    db = sandbox_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    backend = SecondSendFails(db)
    backend.store.ensure_ready()
    before = sms_count()
    try:
        result = await Pipeline(tinyagent_config(), llm=llm, backend=backend).ask(
            "Text Sarah that I'm running late, twice", emit=lambda e: None, yes=True)
    finally:
        llm.close()
    sent = sms_count() - before
    done = [i for i, s in result.summary.statuses.items()
            if s is TaskStatus.DONE and result.plan.tasks[i - 1].tool == "send_sms"]
    assert result.attempts == 2
    assert len(done) <= sent, f"{len(done)} sends reported done, {sent} made: {result.answer}"
    assert any(s is not TaskStatus.DONE for s in result.summary.statuses.values()) or sent == 2


@pytest.mark.parametrize("toolrag", [True, False])
async def test_a_request_with_no_app_enabled_is_refused_and_offers_no_tool(tiny_gguf, toolrag):
    """`apps: []` offered all 16 tools (an empty choice fell back to every tool): the request is
    refused as a settings problem, naming `apps`, before anything is planned."""
    c = config()
    c.apps = []
    c.toolrag.enabled = toolrag
    llm = ScriptLLM(tiny_gguf, ['1. send_sms(["+1 415 555 0101"], "hi")\n2. join()<END_OF_PLAN>'])
    events: list[Event] = []
    pipeline = Pipeline(c, llm=llm)
    try:
        from tinyagent.core.config import ConfigError
        with pytest.raises(ConfigError, match="no app is enabled") as info:
            await pipeline.ask("Text +1 415 555 0101 hi", emit=events.append, yes=True)
        with pytest.raises(ConfigError):
            await pipeline.select_tools("Text +1 415 555 0101 hi", events.append)
    finally:
        llm.close()
    assert info.value.key == "apps"
    assert llm.replies and not [e for e in events if isinstance(e, (TaskStarted, ToolsSelected))]


def test_ask_with_no_app_enabled_is_one_line_and_exit_2(tmp_path):
    from tests.support.cli import tinyagent

    config_file = tmp_path / "config.yaml"
    config_file.write_text("backend: sandbox\napps: []\n")
    out = tinyagent("ask", "Text Ann hi", "--yes", config=config_file)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "apps" in out.stderr and "no app is enabled" in out.stderr
