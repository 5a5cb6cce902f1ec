"""Executor overhead per task on a 1,000-task DAG of no-op tools, next to a 10 ms polling scheduler.

    .venv/bin/python bench/bench_executor.py [--tasks 1000] [--repeat 5]

Both schedulers run the same DAG with the same no-op backend in one process, one after the
other, several times; the best run of each is reported (least disturbed by other processes).
Goal (issue 2): <= 50 us per task for the event-driven executor.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyagent.core.approval import ApprovalPolicy  # noqa: E402
from tinyagent.core.config import ApprovalConfig  # noqa: E402
from tinyagent.core.executor import Executor  # noqa: E402
from tinyagent.core.plan import Ref, Task  # noqa: E402
from tinyagent.tools.backend import Backend  # noqa: E402


class NoOpBackend(Backend):
    name = "noop"
    runs_inline = True  # no thread hop: measure the scheduler, not the thread pool

    def prepare(self, call):
        return call

    def invoke(self, call):
        return "x"


def make_dag(n: int, seed: int = 0) -> list[Task]:
    """Each task reads up to two random earlier outputs: depth grows like a real fan-in plan."""
    rng = random.Random(seed)
    tasks = []
    for i in range(1, n + 1):
        deps = sorted(rng.sample(range(max(1, i - 20), i), k=min(i - 1, rng.choice((0, 1, 2))))) if i > 1 else []
        tasks.append(Task(i, "get_phone_number", (Ref(deps[0]) if deps else "a",)) if len(deps) <= 1
                     else Task(i, "send_sms", ([Ref(d) for d in deps], "x")))
    return tasks


async def run_event_driven(tasks: list[Task]) -> float:
    policy = ApprovalPolicy(ApprovalConfig(send="allow"))
    ex = Executor(NoOpBackend(), policy=policy)
    start = time.perf_counter()
    summary = await ex.run(tasks)
    elapsed = time.perf_counter() - start
    assert summary.all_done, summary.describe()
    return elapsed


async def run_polling(tasks: list[Task], interval: float = 0.010) -> float:
    """The reference design: every `interval`, start whatever has all dependencies done."""
    backend = NoOpBackend()
    done: dict[int, str] = {}
    pending = list(tasks)
    start = time.perf_counter()
    while pending:
        ready = [t for t in pending if all(d in done for d in t.deps)]
        for task in ready:
            done[task.id] = backend.invoke(task)
        pending = [t for t in pending if t.id not in done]
        if pending:
            await asyncio.sleep(interval)
    return time.perf_counter() - start


def depth(tasks: list[Task]) -> int:
    level: dict[int, int] = {}
    for t in tasks:
        level[t.id] = 1 + max((level[d] for d in t.deps), default=0)
    return max(level.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tasks = make_dag(args.tasks)
    event_times, poll_times = [], []
    for _ in range(args.repeat):
        event_times.append(asyncio.run(run_event_driven(tasks)))
        poll_times.append(asyncio.run(run_polling(tasks)))
    ev, po = min(event_times), min(poll_times)
    n = len(tasks)
    print(f"DAG: {n} no-op tasks, depth {depth(tasks)}, {sum(len(t.deps) for t in tasks)} edges; best of {args.repeat}")
    print(f"event-driven executor : {ev * 1e3:8.1f} ms total, {ev / n * 1e6:7.1f} us/task (goal <= 50 us)")
    print(f"10 ms polling scheduler: {po * 1e3:8.1f} ms total, {po / n * 1e6:7.1f} us/task")
    print(f"ratio polling / event-driven: {po / ev:.1f}x")


if __name__ == "__main__":
    main()
