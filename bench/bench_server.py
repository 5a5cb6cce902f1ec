"""Planning in-process vs on a llama.cpp server, same model, same threads, side by side in one run.

    .venv/bin/python bench/bench_server.py [--model PATH.gguf] [--requests 3] [--threads 1] [--max-tokens 48]

For each of `--requests` requests (the same list on both engines, after one warm-up request
each), `Pipeline.plan_only` is timed on:
  - in-process: LocalLLM, `planner.threads = --threads`;
  - server: llama-cpp-python's server (`python -m llama_cpp.server`, `--n_threads` the same)
    on 127.0.0.1, started here and stopped at the end, reached through ServerLLM.
It prints the median seconds to the complete plan and to the first dispatched task (both
from the start of the plan's stream) per engine, and the ratio server / in-process
(goal: <= 1.15 on one machine). The two never run at the same time.

Without --model it plans with a random-weight LLaMA GGUF (tests/support/gguf_model.py, the
shared LLaMA vocab when ../shared/data has it): the token counts and the HTTP and process
overheads are real, the plans are nonsense (a grammar keeps them plans). Needs the extra
`llama-cpp-python[server]` (pip install -e ".[server]").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOCAB = ROOT.parent / "shared" / "data" / "ggml-vocab-llama-spm.gguf"
REQUESTS = [
    "Text Emily Okafor that I'm running late",
    "Email John the agenda for tomorrow",
    "Remind me to call the dentist at 9am",
    "Make a note called Groceries with eggs and milk",
    "Text Sarah that the meeting moved to 3pm",
]


def config(threads: int, max_tokens: int, server: str = ""):
    from tinyagent.core.config import Config

    c = Config(backend="sandbox")
    c.apps = ["contacts", "messages", "notes", "reminders", "mail"]
    c.toolrag.enabled = False  # the same tools on both sides, and no ToolRAG time in the figures
    c.planner.threads = threads
    c.planner.max_tokens = max_tokens
    c.planner.prompt = "compact"
    c.planner.server = server
    return c


async def time_plans(pipeline, requests: list[str]) -> list[tuple[float, float | None]]:
    """(complete plan, first dispatch) seconds per request, after one warm-up request."""
    from tinyagent.core.events import StageTiming

    out: list[tuple[float, float | None]] = []
    for i, request in enumerate([requests[0], *requests]):
        seen: dict[str, float] = {}

        def emit(event, seen=seen):
            if isinstance(event, StageTiming):
                seen[event.stage] = event.seconds

        await pipeline.plan_only(request, emit=emit)
        if i:
            out.append((seen["plan_complete"], seen.get("first_dispatch")))
    return out


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, help="a GGUF (default: a random-weight LLaMA model made here)")
    p.add_argument("--requests", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-tokens", type=int, default=48)
    args = p.parse_args()
    from tests.support.llama_server import llama_cpp_server, server_available
    from tinyagent.core.pipeline import Pipeline

    why = server_available()
    if why:
        print(f"bench_server: {why}; skipped")
        return 0
    model = args.model
    if model is None:
        from tests.support.gguf_model import write_random_llama_gguf

        model = write_random_llama_gguf(Path(tempfile.mkdtemp()) / "random-llama.gguf",
                                        vocab_file=VOCAB if VOCAB.exists() else None)
    requests = (REQUESTS * (args.requests // len(REQUESTS) + 1))[: args.requests]
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {model.name}, {args.threads} thread(s), "
          f"{len(requests)} requests (+1 warm-up) per engine, max {args.max_tokens} plan tokens")

    local = Pipeline(config(args.threads, args.max_tokens), model_override=str(model))
    try:
        in_process = asyncio.run(time_plans(local, requests))
    finally:
        local.close()
    with llama_cpp_server(model, threads=args.threads, n_ctx=config(1, 1).planner.context) as server:
        remote = Pipeline(config(args.threads, args.max_tokens, server.url))
        try:
            on_server = asyncio.run(time_plans(remote, requests))
        finally:
            remote.close()

    rows = []
    for name, index in (("complete plan", 0), ("first dispatch", 1)):
        a, b = median([t[index] for t in in_process]), median([t[index] for t in on_server])
        ratio = f"{b / a:.2f}x" if a and b else "n/a"
        rows.append((name, a, b, ratio))
    print(f"{'median seconds':<16} {'in-process':>11} {'server':>9} {'server/in-process':>18}")
    for name, a, b, ratio in rows:
        print(f"{name:<16} {a if a is not None else float('nan'):>11.3f} "
              f"{b if b is not None else float('nan'):>9.3f} {ratio:>18}")
    print("goal: server within 1.15x of in-process (one machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
