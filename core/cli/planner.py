"""`plan`, `ask`, `grammar` and `eval`: the local planner from the command line.

Exit status: 0 success; 1 the plan was invalid or some task did not run (failed, declined,
skipped); 2 usage errors, a missing or broken model, bad data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from core.cli.common import CliError, add_run_options, config_from, json_sink, print_json, read_text_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="write the plan for a request (nothing runs)",
                       description="Stream the local model's plan for REQUEST and show its DAG. Nothing is executed.")
    p.add_argument("request")
    _model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object: plan, tasks, DAG, diagnostics, timings")
    p.add_argument("--show-prompt", action="store_true",
                   help="also print exactly what the model received (chat template applied); with --json as 'prompt'")
    p.set_defaults(func=plan_command)

    from core.cli import prompt

    prompt.register(sub)

    a = sub.add_parser("ask", help="plan and run a request, then answer",
                       description="The whole pipeline: ToolRAG, streamed plan, execution, answer. Asks before "
                       "each step that changes something unless --yes. Exit 0: every task ran; 1: some failed, "
                       "were declined or skipped; 2: usage error, no model or no valid plan.")
    a.add_argument("request")
    _model_args(a)
    add_run_options(a)
    a.add_argument("--verbose", "-v", action="store_true", help="show stage timings")
    a.set_defaults(func=ask_command)

    g = sub.add_parser("grammar", help="print the plan grammar (GBNF), or check plans against it",
                       description="Print the GBNF grammar the planner uses. With --check DATA.jsonl --model GGUF, "
                       "run each recorded plan through llama.cpp's grammar engine and print one JSON report "
                       "{total, accepted, rejected: [{id, reason}]}; a vocab-only GGUF is enough.")
    g.add_argument("--tools", metavar="A,B,...", help="only these tools (default: all enabled)")
    g.add_argument("--check", metavar="DATA.jsonl", help="check the plans in this JSONL file")
    g.add_argument("--model", metavar="GGUF", help="with --check: a GGUF with the model's vocabulary")
    g.add_argument("--json", action="store_true", help="print JSON")
    g.set_defaults(func=grammar_command)

    e = sub.add_parser("eval", help="measure the planner on a JSONL data set",
                       description="For each {query, plan} record: plan with the local model and compare DAGs "
                       "(the paper's success rate), tool recall, parse/validation failures, latency per stage "
                       "and prompt tokens evaluated. Plans run as a dry run in the sandbox.")
    e.add_argument("data", metavar="DATA.jsonl")
    _model_args(e)
    e.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    e.add_argument("--examples", metavar="POOL.jsonl",
                   help="pick in-context examples from this {query, plan} pool (an example with the evaluated "
                        "query itself is never used)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=eval_command)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="planner GGUF file (default: models.planner in config.yaml)")


# -- shared -------------------------------------------------------------------------------------
def _pipeline(args: argparse.Namespace, **kwargs: Any) -> Any:
    from core.pipeline import Pipeline

    config = config_from(args)
    if getattr(args, "backend", None):
        config.backend = args.backend
    return Pipeline(config, model_override=args.model, **kwargs)


def _run(coro: Any) -> Any:
    """Run the command's coroutine; model and backend problems become one clean line."""
    from core.planner.grammar import GrammarError
    from core.planner.llm import ModelError, ModelLoadError

    try:
        return asyncio.run(coro)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from None
    except (ModelError, GrammarError) as exc:
        raise CliError(f"the model failed: {exc}") from None
    except Exception as exc:
        from tools.backend import ToolError

        try:
            from tools.factory import BackendUnavailable
        except ImportError:  # pragma: no cover - the factory is part of tools
            BackendUnavailable = ToolError  # type: ignore[misc,assignment]
        if isinstance(exc, (BackendUnavailable, ToolError)):
            raise CliError(str(exc)) from None
        raise


def plan_json(plan: Any) -> dict:
    from core.dag import critical_path, layers, plan_graph
    from core.events import _jsonable

    graph = plan_graph(plan)
    return {"plan": plan.to_text(), "ok": plan.ok, "tasks": [_jsonable(t) for t in plan.tasks],
            "dag": {"layers": layers(plan), "edges": [list(e) for e in graph.edges],
                    "critical_path": critical_path(plan)},
            "errors": [str(d) for d in plan.errors], "warnings": [str(d) for d in plan.warnings]}


# -- plan ------------------------------------------------------------------------------------------
def plan_command(args: argparse.Namespace) -> int:
    from core.events import PlanToken, StageTiming, ToolsSelected

    pipeline = _pipeline(args)
    timings: dict[str, Any] = {}
    selected: list[str] = []

    def emit(event: Any) -> None:
        if isinstance(event, PlanToken) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, StageTiming):
            timings[event.stage] = round(event.seconds, 6)
            timings.update({k: v for k, v in event.detail.items() if isinstance(v, int)})
        elif isinstance(event, ToolsSelected):
            selected[:] = event.selected
            if not args.json:
                print("tools: " + ", ".join(event.selected), file=sys.stderr)
        elif not args.json and event.kind == "notice":
            print(f"{event.level}: {event.message}", file=sys.stderr)

    try:
        plan = _run(pipeline.plan_only(args.request, emit=emit))
    finally:
        pipeline.close()
    report = plan_json(plan)
    planner = pipeline.last_planner
    if args.show_prompt and planner is not None:
        report.update({"prompt": planner.prompt, "profile": planner.setup.profile,
                       "chat_template": planner.setup.template.source})
    if args.json:
        print_json({"request": args.request, "tools": selected, **report, "timings": timings})
    else:
        if args.show_prompt and planner is not None:
            print(f"\n=== the prompt the model received ({planner.setup.profile} profile, "
                  f"{planner.setup.template.source}) ===")
            print(planner.prompt, end="" if planner.prompt.endswith("\n") else "\n")
            print("=== end of prompt ===", end="")
        print()
        from core.dag import layers

        print("DAG: " + " -> ".join("{" + ", ".join(f"{i}:{plan.task(i).tool}" for i in layer) + "}"
                                    for layer in layers(plan)) if plan.tasks else "DAG: (empty)")
        for d in plan.errors:
            print(f"error: {d}")
        for d in plan.warnings:
            print(f"warning: {d}")
    return 0 if plan.ok and plan.tasks else 1


# -- ask -------------------------------------------------------------------------------------------
def ask_command(args: argparse.Namespace) -> int:
    from core.cli.approve import TerminalApprover
    from core.cli.render import TextRenderer
    from core.executor import DryRun

    pipeline = _pipeline(args)
    emit = json_sink if args.json else TextRenderer(verbose=args.verbose)
    dry_run = DryRun.SAFE if args.dry_run else DryRun.OFF
    try:
        result = _run(pipeline.ask(args.request, emit=emit, approver=TerminalApprover(), dry_run=dry_run,
                                   yes=args.yes))
    finally:
        pipeline.close()
    if not result.plan.tasks:
        return 2
    return 0 if result.ok else 1


# -- grammar -----------------------------------------------------------------------------------------
def _tools_arg(text: str | None, config: Any) -> list:
    from tools.registry import REGISTRY, tools_for_apps

    if not text:
        return list(tools_for_apps(set(config.apps)))
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown or not names:
        raise CliError(f"unknown tool(s): {', '.join(unknown) or '(none given)'}; known: {', '.join(REGISTRY)}")
    return [REGISTRY[n] for n in names]


def _read_records(path: str) -> list[dict]:
    records = []
    for number, line in enumerate(read_text_arg(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CliError(f"{path}, line {number}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise CliError(f"{path}, line {number}: expected a JSON object")
        records.append(record)
    return records


def grammar_command(args: argparse.Namespace) -> int:
    from core.planner.grammar import PLANNER_LIMITS, GrammarError, check_plans, plan_grammar
    from core.planner.llm import ModelLoadError

    config = config_from(args)
    tools = _tools_arg(args.tools, config) if args.tools or not args.check else None
    if not args.check:
        text = plan_grammar(tools, **PLANNER_LIMITS.as_kwargs())
        if args.json:
            print_json({"tools": [t.name for t in tools], "grammar": text})
        else:
            print(text, end="")
        return 0
    if not args.model:
        raise CliError("--check needs --model GGUF (a vocab-only GGUF such as ggml-vocab-llama-spm.gguf is enough)")
    records = _read_records(args.check)
    started = time.perf_counter()
    try:
        report = check_plans(records, args.model, tools)
    except (ModelLoadError, GrammarError) as exc:
        raise CliError(str(exc)) from None
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["rate"] = round(report["accepted"] / report["total"], 6) if report["total"] else None
    print_json(report)
    return 0


# -- eval --------------------------------------------------------------------------------------------
def _stage_summary(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"mean": round(statistics.fmean(values), 6), "p50": round(statistics.median(values), 6),
            "p95": round(p95, 6), "n": len(values)}


def evaluate(pipeline: Any, records: list[dict]) -> dict:
    """Plan each record with the pipeline and score it against the recorded plan."""
    from core.approval import deny_all
    from core.dag import plans_isomorphic, tool_recall
    from core.events import StageTiming, ToolsSelected
    from core.executor import DryRun
    from core.parser import parse_plan

    async def run_all() -> dict:
        stages: dict[str, list[float]] = {}
        evaluated, prompt_tokens, items = [], [], []
        success = failures = 0
        recalls, plan_recalls = [], []
        for record in records:
            seen: dict[str, Any] = {}

            def emit(event: Any) -> None:
                if isinstance(event, StageTiming):
                    stages.setdefault(event.stage, []).append(event.seconds)
                    if event.stage == "prompt":
                        seen["evaluated"] = event.detail.get("prompt_tokens_evaluated", 0)
                        seen["prompt_tokens"] = event.detail.get("prompt_tokens", 0)
                elif isinstance(event, ToolsSelected):
                    seen["selected"] = list(event.selected)

            query = str(record.get("query", ""))
            pipeline.exclude_example = query  # the model never sees the answer it is scored on
            plan = await pipeline.plan_only(query, emit=emit)
            reference = parse_plan(str(record.get("plan", "")))
            needed = list(record.get("tools") or reference.tools)
            ok = plans_isomorphic(plan, reference) if plan.ok else False
            success += ok
            failures += not plan.ok
            recalls.append(tool_recall(seen.get("selected", []), needed))
            plan_recalls.append(tool_recall(plan.tools, needed))
            evaluated.append(seen.get("evaluated", 0))
            prompt_tokens.append(seen.get("prompt_tokens", 0))
            if plan.ok and plan.tasks:
                started = time.perf_counter()
                await pipeline.run_plan(plan, emit=lambda e: None, approver=deny_all, dry_run=DryRun.SAFE)
                stages.setdefault("execution", []).append(time.perf_counter() - started)
            items.append({"id": record.get("id"), "success": ok, "valid": plan.ok,
                          "errors": [str(d) for d in plan.errors][:3], "prompt_tokens_evaluated": seen.get("evaluated", 0)})
        n = len(records)
        return {
            "total": n, "success": success, "success_rate": round(success / n, 6) if n else None,
            "tool_recall": round(statistics.fmean(recalls), 6) if recalls else None,
            "plan_tool_recall": round(statistics.fmean(plan_recalls), 6) if plan_recalls else None,
            "invalid_plans": failures,
            "stages": {name: _stage_summary(v) for name, v in stages.items()},
            "prompt_tokens": _stage_summary([float(x) for x in prompt_tokens]),
            "prompt_tokens_evaluated": _stage_summary([float(x) for x in evaluated]),
            "records": items,
        }

    return _run(run_all())


def eval_command(args: argparse.Namespace) -> int:
    records = _read_records(args.data)
    if args.limit is not None:
        if args.limit < 1:
            raise CliError("--limit must be at least 1")
        records = records[: args.limit]
    if not records:
        raise CliError(f"{args.data} has no records")
    pipeline = _pipeline(args)
    if args.examples:
        from pathlib import Path

        from core.toolrag.examples import ExampleError, ExamplePool, read_jsonl_examples

        try:
            pool, _bad = read_jsonl_examples(Path(args.examples))
        except ExampleError as exc:
            raise CliError(str(exc)) from None
        if not pool:
            raise CliError(f"{args.examples}: no usable examples")
        pipeline.example_pool = ExamplePool(pool)
    config = pipeline.config
    config.backend = "sandbox"  # evaluation never touches the user's apps
    try:
        report = evaluate(pipeline, records)
    finally:
        pipeline.close()
    if args.json:
        print_json(report)
    else:
        print(f"success rate: {report['success']}/{report['total']} ({report['success_rate']:.1%})")
        print(f"tool recall (ToolRAG): {report['tool_recall']:.3f}; in plans: {report['plan_tool_recall']:.3f}")
        print(f"invalid plans: {report['invalid_plans']}")
        for name, s in report["stages"].items():
            if s:
                print(f"  {name}: mean {s['mean'] * 1000:.0f} ms, p50 {s['p50'] * 1000:.0f} ms, p95 {s['p95'] * 1000:.0f} ms")
        pe = report["prompt_tokens_evaluated"]
        if pe:
            print(f"prompt tokens evaluated per request: mean {pe['mean']:.0f} of {report['prompt_tokens']['mean']:.0f}")
    return 0
