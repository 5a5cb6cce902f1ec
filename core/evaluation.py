"""Measuring the planner on recorded {query, plan} pairs: what `tinyagent eval` and the benchmarks run.

Each record is planned through the real pipeline (ToolRAG, prompt, streamed plan) and scored
with the paper's metric (core.dag.plans_isomorphic: same tools, same dependencies; arguments
do not count). Every record keeps its own plan text, what differed from the reference, and
the seconds of each stage, so a run can be read record by record and resumed.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tinyagent.core.approval import deny_all
from tinyagent.core.dag import plan_graph, plans_isomorphic, tool_recall
from tinyagent.core.events import Event, StageTiming, ToolsSelected
from tinyagent.core.executor import DryRun
from tinyagent.core.jsonl import JsonlError, jsonl_lines, parse_jsonl, read_record
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.plan import Plan
from tinyagent.core.request_run import DEFAULT_OPTIONS, RequestOptions
from tinyagent.core.toolrag.examples import ExampleError, ExamplePool, read_jsonl_examples


class EvalDataError(ValueError):
    """A data or pool file that cannot be used (the message names the file and line)."""


# -- data ------------------------------------------------------------------------------------
def read_jsonl(path: Path | str, text: str | None = None) -> list[dict]:
    """The JSON objects of a JSONL file, one a line (blank lines skipped)."""
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EvalDataError(f"no such file: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise EvalDataError(f"cannot read {path}: {exc}") from None
    try:
        return [record for _, record in parse_jsonl(text, str(path))]
    except JsonlError as exc:
        raise EvalDataError(str(exc)) from None


def record_id(record: dict, index: int) -> str:
    """A record's id: its `id` field, else its line position (stable for one file)."""
    value = record.get("id")
    return str(value) if value not in (None, "") else f"#{index + 1}"


def choose(records: list[dict], *, limit: int | None = None, sample: int | None = None,
           seed: int = 0) -> list[tuple[str, dict]]:
    """(id, record) pairs: a seeded random sample of `sample`, else the first `limit` (or all)."""
    pairs = [(record_id(r, i), r) for i, r in enumerate(records)]
    if sample is not None:
        pairs = random.Random(seed).sample(pairs, min(sample, len(pairs)))
    if limit is not None:
        pairs = pairs[:limit]
    return pairs


def load_results(path: Path | str, wanted: set[str]) -> dict[str, RecordResult]:
    """Results already in an --out file for the wanted ids; a torn or foreign line runs again."""
    p = Path(path)
    found: dict[str, RecordResult] = {}
    if not p.exists():
        return found
    for _, line in jsonl_lines(p.read_text(encoding="utf-8", errors="replace")):
        try:
            result = RecordResult(**read_record(line))
        except (JsonlError, TypeError):
            continue  # e.g. the last line cut off by an interruption
        if result.id in wanted:
            found[result.id] = result
    return found


def load_example_pool(path: Path | str) -> tuple[ExamplePool, int]:
    """An ExamplePool of a {query, plan} JSONL file, and how many lines were no usable example."""
    try:
        examples, bad = read_jsonl_examples(Path(path), "pool")
    except ExampleError as exc:
        raise EvalDataError(str(exc)) from None
    if not examples:
        raise EvalDataError(f"{path} has no usable examples ({{query, plan}} lines with valid plans)")
    return ExamplePool(examples), len(bad)


# -- scoring ---------------------------------------------------------------------------------
def _edges_by_tool(plan: Plan) -> Counter:
    graph = plan_graph(plan)
    tool = {n: d["tool"] for n, d in graph.nodes(data=True)}
    return Counter(f"{tool[a]} -> {tool[b]}" for a, b in graph.edges)


def plan_diff(predicted: Plan, reference: Plan) -> dict[str, list[str]]:
    """What differs, by tool name: calls missing / extra, dependencies missing / extra.

    Empty lists everywhere with a failed isomorphism check means the same calls and edges
    by name but wired to different instances (e.g. the email of the wrong person).
    """
    got, want = Counter(predicted.tools), Counter(reference.tools)
    got_edges, want_edges = _edges_by_tool(predicted), _edges_by_tool(reference)
    return {
        "missing_calls": sorted((want - got).elements()),
        "extra_calls": sorted((got - want).elements()),
        "missing_dependencies": sorted((want_edges - got_edges).elements()),
        "extra_dependencies": sorted((got_edges - want_edges).elements()),
    }


@dataclass
class RecordResult:
    id: str
    query: str
    plan: str  # what the model wrote
    reference: str
    valid: bool
    success: bool
    diff: dict[str, list[str]]
    errors: list[str]
    selected_tools: list[str]
    needed_tools: list[str]
    tool_recall: float  # ToolRAG's selection vs the needed tools
    plan_tool_recall: float  # the plan's tools vs the needed tools
    stages: dict[str, float]  # seconds: toolrag, prompt, first_dispatch, plan_complete, execution
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    lookups_added: int = 0  # lookup steps added to what the model wrote (planner.lookup_steps)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["stages"] = {k: round(v, 6) for k, v in self.stages.items()}
        out["tool_recall"] = round(self.tool_recall, 6)
        out["plan_tool_recall"] = round(self.plan_tool_recall, 6)
        return out


async def evaluate_record(pipeline: Pipeline, record_key: str, record: dict, *, execute: bool = True,
                          options: RequestOptions = DEFAULT_OPTIONS) -> RecordResult:
    """Plan one record through `pipeline` with `options` (examples, grammar) and score it; with
    `execute`, dry-run the plan in the sandbox."""
    stages: dict[str, float] = {}
    seen: dict[str, Any] = {"selected": []}

    def emit(event: Event) -> None:
        if isinstance(event, StageTiming):
            stages[event.stage] = stages.get(event.stage, 0.0) + event.seconds
            for key in ("prompt_tokens", "prompt_tokens_evaluated", "generated_tokens"):
                if key in event.detail:
                    seen[key] = event.detail[key]
        elif isinstance(event, ToolsSelected):
            seen["selected"] = list(event.selected)

    query = str(record.get("query", ""))
    reference_text = str(record.get("plan", ""))
    # the model never sees the answer it is scored on
    response = await pipeline.plan_only(query, emit=emit, options=replace(options, exclude_example=query))
    plan = response.plan
    reference = parse_plan(reference_text)
    needed = sorted(set(record.get("tools") or reference.tools))
    if execute and plan.ok and plan.tasks:
        started = time.perf_counter()
        await pipeline.run_plan(plan, emit=lambda e: None, approver=deny_all, dry_run=DryRun.SAFE)
        stages["execution"] = time.perf_counter() - started
    return RecordResult(
        id=record_key, query=query, plan=response.text or plan.to_text(), reference=reference_text,
        valid=plan.ok, success=bool(plan.ok and plans_isomorphic(plan, reference)),
        diff=plan_diff(plan, reference), errors=[str(d) for d in plan.errors][:5],
        selected_tools=seen["selected"], needed_tools=needed,
        tool_recall=tool_recall(seen["selected"], needed), plan_tool_recall=tool_recall(plan.tools, needed),
        stages=stages, prompt_tokens=int(seen.get("prompt_tokens", 0)),
        prompt_tokens_evaluated=int(seen.get("prompt_tokens_evaluated", 0)),
        generated_tokens=int(seen.get("generated_tokens", 0)), lookups_added=response.lookups_added)


# -- summaries -------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"mean": round(statistics.fmean(values), 6), "p50": round(percentile(values, 0.5), 6),
            "p95": round(percentile(values, 0.95), 6), "n": len(values)}


def summarize(results: Sequence[RecordResult]) -> dict[str, Any]:
    n = len(results)
    stages: dict[str, list[float]] = {}
    for r in results:
        for name, seconds in r.stages.items():
            stages.setdefault(name, []).append(seconds)
    success = sum(r.success for r in results)
    return {
        "total": n, "success": success, "success_rate": round(success / n, 6) if n else None,
        "tool_recall": round(statistics.fmean(r.tool_recall for r in results), 6) if n else None,
        "plan_tool_recall": round(statistics.fmean(r.plan_tool_recall for r in results), 6) if n else None,
        "invalid_plans": sum(not r.valid for r in results),
        "plans_with_lookups_added": sum(r.lookups_added > 0 for r in results),
        "stages": {name: spread(v) for name, v in stages.items()},
        "prompt_tokens": spread([float(r.prompt_tokens) for r in results]),
        "prompt_tokens_evaluated": spread([float(r.prompt_tokens_evaluated) for r in results]),
    }


@dataclass
class Progress:
    """A one-line progress bar with the ETA, redrawn in place (a terminal) or one line per step."""

    total: int
    write: Callable[[str], None]
    tty: bool = False
    width: int = 24
    started: float = field(default_factory=time.perf_counter)
    done: int = 0

    def step(self, note: str = "") -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        filled = int(self.width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {self.done}/{self.total}  {elapsed:.0f}s elapsed, ETA {eta:.0f}s  {note}"
        self.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")

    def close(self) -> None:
        if self.tty and self.done:
            self.write("\n")
