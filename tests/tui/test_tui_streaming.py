"""A plan streams in and runs while the app's event loop keeps turning.

A stand-in pipeline (tests/support/streaming_pipeline.py) streams a 14-task plan one character
a token from a thread, the parser feeds tasks to the real executor as their lines complete,
and the tasks run against the real sandbox. How late the loop's turns are is a figure for
bench/bench_looplag.py, not a test: a wall-clock threshold fails on a loaded or slower machine.
What is checked here holds on any machine: the loop turned in the middle of the stream (a
model step or a tool run on the loop would hold it until the end), every token arrived in
order, every task ran, and the bridge posts one message for any number of waiting tokens."""

from __future__ import annotations

import asyncio

from tests.support.streaming_pipeline import PLAN, TASKS, StreamingPipeline
from tests.support.tui_helpers import make_app, sandbox_config, wait_for
from tinyagent.core.backends import make_backend
from tinyagent.core.config import ApprovalConfig
from tinyagent.core.events import PlanToken
from tinyagent.tui.messages import EventBridge, TokensReady
from tinyagent.tui.widgets.chat import Chat
from tinyagent.tui.widgets.plan_graph import PlanGraph


async def test_plan_streams_and_runs_while_the_loop_keeps_turning(tmp_path):
    config = sandbox_config(**{k: "allow" for k in vars(ApprovalConfig())})
    app = make_app(tmp_path, config)
    holder: dict[str, StreamingPipeline] = {}
    app.services.pipeline_factory = lambda c: holder.setdefault("p", StreamingPipeline(make_backend(c), c))
    seen_by_probe: list[int] = []  # tokens the model thread had emitted at each turn of the loop
    async with app.run_test(size=(120, 40)) as pilot:
        stop = asyncio.Event()

        async def probe() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.002)
                if "p" in holder:
                    seen_by_probe.append(holder["p"].tokens)

        probe_task = asyncio.create_task(probe())
        app.ask("tell everyone the meeting moved to 3pm")
        await wait_for(pilot, lambda: not app.runs.busy, timeout=60)
        stop.set()
        await probe_task
        graph = app.query_one(PlanGraph)
        assert len(graph.nodes) == TASKS and all(n.status.value == "done" for n in graph.nodes.values())
        assert app.query_one(Chat).streamed == PLAN  # every token arrived, in order
        assert app.runs.bridge is not None and app.runs.bridge.tokens_seen == len(PLAN)
    midway = [n for n in seen_by_probe if 0 < n < len(PLAN)]
    assert midway, f"the loop did not turn while the plan streamed: {seen_by_probe[:5]}...{seen_by_probe[-5:]}"


class Recorder:
    """Stands in for the App as the bridge's target: keeps what is posted."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    def post_message(self, message: object) -> bool:
        self.messages.append(message)
        return True


def test_waiting_tokens_are_one_message_until_the_app_takes_them():
    target = Recorder()
    bridge = EventBridge(target)  # type: ignore[arg-type]
    for ch in PLAN:  # a model faster than the app: nothing is taken meanwhile
        bridge(PlanToken(ch))
    assert [type(m) for m in target.messages] == [TokensReady] and bridge.posted == 1
    assert bridge.take_tokens() == PLAN
    bridge(PlanToken("x"))  # once taken, the next token notifies again
    assert bridge.posted == 2 and bridge.take_tokens() == "x"
    bridge(PlanToken("a"))
    bridge(PlanToken("b"))
    assert bridge.take_tokens(upto=len(PLAN) + 2) == "a"  # only up to the count a CoreEvent saw
    bridge(PlanToken("c"))
    assert bridge.posted == 3, "b still waits and its TokensReady is pending: c needs none of its own"
    assert bridge.take_tokens() == "bc"


async def test_nothing_is_drawn_once_the_app_starts_closing(tmp_path):
    """A timer or message that comes in while the app closes finds no widgets to draw on: the
    screens lose their widgets before they leave the stack, so the stack is no guide."""
    from textual.widget import Widget

    seen: list[tuple[bool, int]] = []

    class Probe(Widget):
        def on_unmount(self) -> None:  # runs in the middle of the app's shutdown
            seen.append((app.main_screen.showing, len(app.screen_stack)))
            app._stream_waiting_tokens()  # what a pending token timer does then: must not raise

    app = make_app(tmp_path, sandbox_config())
    async with app.run_test(size=(120, 40)) as pilot:
        await app.main_screen.mount(Probe())
        await pilot.pause()
        assert app.main_screen.showing
    assert seen and seen[0][1] > 0, "the probe was meant to go while the stack still held the screen"
    assert seen[0][0] is False
