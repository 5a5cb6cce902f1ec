"""A plan that streams in quickly and runs on the real executor and sandbox, for the TUI's
streaming test and bench/bench_looplag.py: the real Pipeline with a stand-in model thread
that emits the plan one character a token (as LocalLLM does, and faster than a real model)."""

from __future__ import annotations

import asyncio
import threading
import time

from tinyagent.core.approval import ApprovalPolicy, deny_all
from tinyagent.core.backends import Backend
from tinyagent.core.config import Config
from tinyagent.core.events import AnswerReady, PlanToken, RequestStarted, ToolsSelected
from tinyagent.core.executor import DryRun, Executor
from tinyagent.core.parser import PlanParser
from tinyagent.core.pipeline import Pipeline, PipelineResult
from tinyagent.tools.registry import TOOL_NAMES

NAMES = ["Sarah", "Mike", "John", "Emily", "David", "Lisa", "Tom"]
PLAN = "".join(
    [f'{i + 1}. get_phone_number("{n}")\n' for i, n in enumerate(NAMES)]
    + [f'{i + 8}. send_sms(["${i + 1}"], "Hi {n}, the meeting moved to 3pm. See you there!")\n'
       for i, n in enumerate(NAMES)]
    + ["15. join()<END_OF_PLAN>\n"]
)
TASKS = 14  # the plan's tasks, join() aside


class StreamingPipeline(Pipeline):
    """The real pipeline with a stand-in model: plan text from a thread, a character a token.
    The parser hands each task to the real executor as soon as its line is complete;
    `tokens` counts what the model thread has emitted so far."""

    def __init__(self, backend: Backend, config: Config, token_delay: float = 0.0002):
        super().__init__(config, backend=backend)
        self.token_delay = token_delay
        self.tokens = 0

    async def ask(self, request, *, emit, approver=deny_all, dry_run=DryRun.OFF, yes=False) -> PipelineResult:
        emit(RequestStarted(request))
        emit(ToolsSelected({n: (0.9 if n in ("get_phone_number", "send_sms") else 0.05) for n in TOOL_NAMES},
                           ("get_phone_number", "send_sms"), 0.5, 0.01))
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[str | None] = asyncio.Queue()

        def model() -> None:  # the "model" thread: emits tokens, hands text to the loop
            for ch in PLAN:
                emit(PlanToken(ch))
                self.tokens += 1
                loop.call_soon_threadsafe(chunks.put_nowait, ch)
                time.sleep(self.token_delay)
            loop.call_soon_threadsafe(chunks.put_nowait, None)

        threading.Thread(target=model, daemon=True).start()
        executor = Executor(self.backend, emit=emit, approver=approver, dry_run=dry_run,
                            policy=ApprovalPolicy(self.config.approval))
        parser = PlanParser()
        while (chunk := await chunks.get()) is not None:
            for task in parser.feed(chunk):
                executor.add(task)
        parser.close()
        summary = await executor.finish()
        emit(AnswerReady("Texted everyone."))
        return PipelineResult("Texted everyone.", parser.plan(), summary, selection=None)
