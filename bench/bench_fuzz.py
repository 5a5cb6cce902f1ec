"""Fuzz every input tinyagent reads: >= 100,000 hostile plans, JSONL sets, configs, WAVs, model files.

    .venv/bin/python bench/bench_fuzz.py            # the full run (~110,000 inputs, a few minutes)
    .venv/bin/python bench/bench_fuzz.py --scale 0.1
    .venv/bin/python bench/bench_fuzz.py --only-tui --tui 120   # the TUI request box alone (pilot)

Prints, per kind: inputs, accepted, refused cleanly, tracebacks (an unexpected exception),
contract failures (bad JSON, a broken round trip, an undocumented exit code), hangs over
10 s, the slowest input, and the CLI's exit codes. Inputs are seeded: every run is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import fuzzing as F  # noqa: E402

HANG_S = 10.0


class Tally:
    def __init__(self, kind: str):
        self.kind = kind
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.codes: collections.Counter[int] = collections.Counter()
        self.samples: list[str] = []
        self.hangs = 0
        self.slowest = 0.0

    def run(self, fn, *args) -> None:
        started = time.perf_counter()
        try:
            outcome = fn(*args)
        except Exception as exc:  # noqa: BLE001 - counting them is the point
            outcome = self._failed(exc)
        self._count(outcome, time.perf_counter() - started)

    async def arun(self, fn, *args) -> None:
        """`run` for a coroutine function (the TUI's inputs go through the app's own loop)."""
        started = time.perf_counter()
        try:
            outcome = await fn(*args)
        except Exception as exc:  # noqa: BLE001 - counting them is the point
            outcome = self._failed(exc)
        self._count(outcome, time.perf_counter() - started)

    def _failed(self, exc: Exception) -> str:
        if isinstance(exc, F.FuzzFailure):
            self._keep(f"{exc}"[:300])
            return "contract"
        self._keep(f"{type(exc).__name__}: {str(exc)[:200]} at {traceback.extract_tb(exc.__traceback__)[-1]}")
        return "traceback"

    def _count(self, outcome: str | int, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)
        self.hangs += seconds > HANG_S
        if isinstance(outcome, int):
            self.codes[outcome] += 1
            outcome = "ok" if outcome == 0 else "refused"
        self.outcomes[outcome] += 1

    def _keep(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def row(self) -> dict:
        return {"kind": self.kind, "inputs": self.total, "accepted": self.outcomes["ok"],
                "refused": self.outcomes["refused"], "tracebacks": self.outcomes["traceback"],
                "contract_failures": self.outcomes["contract"], "hangs_over_10s": self.hangs,
                "slowest_s": round(self.slowest, 3), "exit_codes": dict(sorted(self.codes.items()))}


def progress(label: str, i: int, n: int) -> None:
    if i % max(1, n // 4) == 0 or i == n:
        print(f"  {label}: {i:,}/{n:,}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full run (default 1)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--native", type=int, default=150,
                    help="GGUF mutants that pass the header check, then loaded by llama.cpp in a child process")
    ap.add_argument("--only-native", action="store_true", help="run only the llama.cpp loads")
    ap.add_argument("--tui", type=int, default=300, help="lines pasted into the TUI's request box (pilot)")
    ap.add_argument("--only-tui", action="store_true", help="run only the TUI request box")
    ap.add_argument("--only-stores", action="store_true", help="run only history.jsonl and the examples file")
    args = ap.parse_args()
    n = lambda full: max(1, int(full * args.scale))  # noqa: E731
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="tinyagent-fuzz-"))
    os.environ["TINYAGENT_HOME"] = str(work / "home")  # the CLI's sandbox and config live here
    os.environ.pop("TINYAGENT_CONFIG", None)
    shared = F.shared_plan_texts(ROOT.parent / "shared" / "data" / "tinyagent_plans.jsonl")
    plans = shared or F.PLAN_SEEDS
    tallies: list[Tally] = []
    began = time.perf_counter()
    if args.only_native:
        return print_report([native_loads(rng, work, args.native)], began)
    if args.only_tui:
        return print_report([tui_inputs(rng, work, n(args.tui))], began)
    if args.only_stores:
        return print_report(stores(rng, work, plans, n), began)

    t = Tally("plans (parser)")
    count = n(50_000)
    for i in range(1, count + 1):
        r = rng.random()
        if r < 0.7:
            text = F.mutate_text(rng, rng.choice(plans), ops=1 if r < 0.25 else None)
        elif r < 0.8:
            text = F.mutate_text(rng, rng.choice(F.PLAN_SEEDS))
        else:
            text = "".join(rng.choice(F.CHARS) for _ in range(rng.randint(0, 200)))
        t.run(F.run_plan_text, text)
        progress(t.kind, i, count)
    tallies.append(t)

    t = Tally("plans (run-plan CLI, strict dry run)")
    count = n(1_000)
    for i in range(1, count + 1):
        path = work / "plan.txt"
        path.write_bytes(F.mutate_text(rng, rng.choice(plans)).encode("utf-8", "surrogatepass"))
        t.run(F.run_cli, ["run-plan", str(path), "--dry-run", "--strict", "--json"])
        progress(t.kind, i, count)
    tallies.append(t)

    t = Tally("JSONL records (check-plans CLI)")
    count = n(400)
    for i in range(1, count + 1):
        lines = []
        for j in range(25):
            line = json.dumps({"id": f"{i}-{j}", "plan": F.mutate_text(rng, rng.choice(plans))})
            lines.append(F.mutate_text(rng, line, ops=1) if rng.random() < 0.3 else line)
        path = work / "data.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        before = t.outcomes["traceback"] + t.outcomes["contract"]
        t.run(F.run_cli, ["check-plans", str(path), "--json"])
        if t.outcomes["traceback"] + t.outcomes["contract"] == before:  # count records, not files
            report = json.loads(F.LAST_OUTPUT[0]) if F.LAST_OUTPUT[0].startswith("{") else None
            if report:
                t.outcomes["ok" if report["valid"] == report["total"] else "refused"] -= 1
                t.outcomes["ok"] += report["valid"]
                t.outcomes["refused"] += len(report["invalid"])
        progress(t.kind, i, count)
    tallies.append(t)

    t = Tally("configs")
    count = n(20_000)
    for i in range(1, count + 1):
        if i % 10 == 0:
            data = F.mutate_bytes(rng, F.CONFIG_SEED.encode())
            t.run(F.run_config_file, work / "config.yaml", data)
        elif i % 3 == 0:
            t.run(F.run_config_text, F.mutate_config_values(rng, F.CONFIG_SEED))
        else:
            t.run(F.run_config_text, F.mutate_text(rng, F.CONFIG_SEED, F.YAML_TOKENS, ops=rng.choice([1, 1, 2, 3])))
        progress(t.kind, i, count)
    tallies.append(t)

    t = Tally("WAV files")
    count = n(20_000)
    for i in range(1, count + 1):
        seed = rng.choice(F.WAV_SEEDS)
        t.run(F.run_wav, work / "x.wav", F.mutate_bytes(rng, seed, hot=64 if rng.random() < 0.8 else None))
        progress(t.kind, i, count)
    tallies.append(t)

    from tests.support.gguf_model import write_random_llama_gguf
    from tests.support.whisper_model import write_random_whisper_model

    gguf = write_random_llama_gguf(work / "seed.gguf", vocab_file=None, n_embd=32, n_layer=1, n_head=2,
                                   n_head_kv=1, n_ff=32).read_bytes()
    t = Tally("GGUF planner files")
    count = n(7_000)
    for i in range(1, count + 1):
        t.run(F.run_gguf, work / "m.gguf", F.mutate_bytes(rng, gguf, hot=8192 if rng.random() < 0.9 else None))
        progress(t.kind, i, count)
    tallies.append(t)

    whisper_path = write_random_whisper_model(work / "seed.bin")
    whisper = whisper_path.read_bytes()
    whole = work / "whole.bin"
    whole.write_bytes(whisper)
    t = Tally("whisper ggml files")
    count = n(3_000)
    for i in range(1, count + 1):
        if i % 2:  # the head overwritten in a whole model (then put back), or a short file
            t.run(F.run_whisper, whole, F.mutate_bytes(rng, whisper[:4096], keep_length=True), 0, True)
            with whole.open("r+b") as fh:
                fh.write(whisper[:4096])
        else:
            t.run(F.run_whisper, work / "m.bin", F.mutate_bytes(rng, whisper[:65536], hot=4096), len(whisper))
        progress(t.kind, i, count)
    tallies.append(t)

    if args.tui:
        tallies.append(tui_inputs(rng, work, n(args.tui)))
    tallies += stores(rng, work, plans, n)
    if args.native:
        tallies.append(native_loads(rng, work, args.native))
    return print_report(tallies, began)


def tui_inputs(rng: random.Random, work: Path, count: int) -> Tally:
    """Lines pasted into the request box of the real app (headless, Textual's pilot), each
    followed by a keystroke: control characters, escape sequences, pastes up to 1 MB."""
    t = Tally("TUI request box (paste + key, pilot)")

    async def session() -> None:
        from tests.support.tui_helpers import make_app

        (work / "tui").mkdir(exist_ok=True)
        app = make_app(work / "tui")
        told: list[str] = []
        notify = app.notify

        def recording(message, **kwargs):
            told.append(message)
            notify(message, **kwargs)

        app.notify = recording
        async with app.run_test(size=(120, 36)) as pilot:
            for i in range(1, count + 1):
                await t.arun(F.run_tui_input, app, pilot, told, F.tui_input_text(rng))
                progress(t.kind, i, count)

    asyncio.run(session())
    return t


def stores(rng: random.Random, work: Path, plans: list[str], n) -> list[Tally]:
    """What the app keeps as text and reads again: history.jsonl, the user's examples file."""
    def record() -> str:
        line = json.dumps({"query": F.mutate_text(rng, F.EXAMPLE_QUERY, ops=1) if rng.random() < 0.5
                           else F.EXAMPLE_QUERY + str(rng.random()),
                           "plan": F.mutate_text(rng, rng.choice(plans), ops=1) if rng.random() < 0.5 else rng.choice(plans)},
                          ensure_ascii=rng.random() < 0.5)
        return F.mutate_text(rng, line, ops=1) if rng.random() < 0.2 else line

    t = Tally("history.jsonl (load, append, load)")
    count = n(5_000)
    for i in range(1, count + 1):
        lines = [F.mutate_text(rng, F.HISTORY_SEED, ops=rng.choice([1, 2])) if rng.random() < 0.6 else F.HISTORY_SEED
                 .replace("abc123def456", f"id{j}") for j in range(rng.randint(1, 12))]
        if rng.random() < 0.05:
            lines.append('{"request": ' + "[" * 100_000)
        t.run(F.run_history, work / "history.jsonl", lines, F.mutate_text(rng, "Text Sid I'm late"))
        progress(t.kind, i, count)
    tallies = [t]

    t = Tally("examples add + list (CLI)")
    count = n(1_500)
    for i in range(1, count + 1):
        query = F.mutate_text(rng, F.EXAMPLE_QUERY, ops=1) if rng.random() < 0.5 else F.EXAMPLE_QUERY
        plan = rng.choice(plans) if rng.random() < 0.3 else F.mutate_text(rng, rng.choice(plans), ops=1)
        t.run(F.run_examples_add, work, query, plan)
        progress(t.kind, i, count)
    tallies.append(t)

    t = Tally("examples import + list (CLI)")
    count = n(500)
    for i in range(1, count + 1):
        t.run(F.run_examples_import, work, [record() for _ in range(rng.randint(1, 8))])
        progress(t.kind, i, count)
    tallies.append(t)
    return tallies


NATIVE_LOAD = """
import sys
sys.path.insert(0, sys.argv[2])
from tinyagent.core.planner.llm import LocalLLM, ModelLoadError
try:
    LocalLLM(sys.argv[1], n_ctx=256, n_threads=1).close()
    print("ok")
except ModelLoadError:
    print("refused")
"""


def native_loads(rng: random.Random, work: Path, count: int) -> Tally:
    """Mutated GGUFs that the header check accepts, loaded by llama.cpp in a child process:
    a signal (abort, segfault) there would take the user's process down, so it counts as a crash."""
    import subprocess

    from tests.support.gguf_model import write_random_llama_gguf
    from tinyagent.core.planner.llm import ModelLoadError, check_gguf

    seed = write_random_llama_gguf(work / "native-seed.gguf", vocab_file=None, n_embd=32, n_layer=1, n_head=2,
                                   n_head_kv=1, n_ff=32).read_bytes()
    t = Tally("GGUF loads by llama.cpp (child process)")
    path = work / "native.gguf"
    done = 0
    while done < count:
        path.write_bytes(F.mutate_bytes(rng, seed, hot=8192))
        try:
            check_gguf(path)
        except ModelLoadError:
            continue
        done += 1

        def load() -> str:
            proc = subprocess.run([sys.executable, "-c", NATIVE_LOAD, str(path), str(ROOT)], capture_output=True,
                                  text=True, timeout=60)
            if proc.returncode < 0 or proc.returncode > 1 or "Traceback" in proc.stderr:
                raise F.FuzzFailure(f"llama.cpp exited with {proc.returncode}: {proc.stderr.strip()[-200:]}")
            return proc.stdout.strip() or "refused"

        t.run(load)
        progress(t.kind, done, count)
    return t


def print_report(tallies: list[Tally], began: float) -> int:
    rows = [t.row() for t in tallies]
    total = {k: sum(r[k] for r in rows) for k in ("inputs", "accepted", "refused", "tracebacks",
                                                      "contract_failures", "hangs_over_10s")}
    print(f"\n{'kind':40} {'inputs':>8} {'accepted':>9} {'refused':>8} {'tracebk':>8} {'contract':>8} "
          f"{'hangs':>6} {'slowest':>8}  exit codes")
    for r in rows:
        print(f"{r['kind']:40} {r['inputs']:8,} {r['accepted']:9,} {r['refused']:8,} {r['tracebacks']:8} "
              f"{r['contract_failures']:8} {r['hangs_over_10s']:6} {r['slowest_s']:7.2f}s  {r['exit_codes'] or ''}")
    print(f"{'total':40} {total['inputs']:8,} {total['accepted']:9,} {total['refused']:8,} {total['tracebacks']:8} "
          f"{total['contract_failures']:8} {total['hangs_over_10s']:6}   in {time.perf_counter() - began:.0f} s")
    for t in tallies:
        for sample in t.samples:
            print(f"  {t.kind}: {sample}")
    print(json.dumps({"rows": rows, "total": total}))
    return 0 if not (total["tracebacks"] or total["contract_failures"] or total["hangs_over_10s"]) else 1


if __name__ == "__main__":
    sys.exit(main())
