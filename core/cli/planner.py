"""`plan`, `ask` and `grammar`: the local planner from the command line.

Exit status: 0 success; 1 the plan was invalid or some task did not run (failed, declined,
skipped); 2 usage errors, a missing or broken model, bad data.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from tinyagent.core.backends import BackendUnavailable
from tinyagent.core.cli import prompt
from tinyagent.core.cli.approve import TerminalApprover
from tinyagent.core.cli.common import (
    CliError,
    add_adapter_option,
    add_run_options,
    add_server_option,
    config_from,
    json_sink,
    print_json,
    read_text_arg,
    say,
    with_planner_options,
)
from tinyagent.core.cli.render import TextRenderer, tools_line
from tinyagent.core.config import Config, ConfigError
from tinyagent.core.dag import critical_path, layers, plan_graph
from tinyagent.core.events import Event, Notice, PlanToken, StageTiming, ToolsSelected, _jsonable
from tinyagent.core.executor import DryRun
from tinyagent.core.jsonl import JsonlError, parse_jsonl
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.plan import Plan
from tinyagent.core.planner.grammar import GrammarError, limits_for, plan_grammar
from tinyagent.core.planner.grammar_check import check_plans
from tinyagent.core.planner.llm import ModelError, ModelLoadError, ServerError
from tinyagent.tools.backend import ToolError
from tinyagent.tools.registry import REGISTRY, ToolSpec, tools_for_apps

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="write the plan for a request (nothing runs)",
                       description="Stream the local model's plan for REQUEST and show its DAG. Nothing is executed.")
    p.add_argument("request")
    _model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object: plan, tasks, DAG, diagnostics, timings")
    p.add_argument("--show-prompt", action="store_true",
                   help="also print exactly what the model received (chat template applied); with --json as 'prompt'")
    p.set_defaults(func=plan_command)

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


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="planner GGUF file (default: models.planner in config.yaml)")
    add_adapter_option(p)
    add_server_option(p)


# -- shared -------------------------------------------------------------------------------------
def _pipeline(args: argparse.Namespace, **kwargs: Any) -> Pipeline:
    config = with_planner_options(args, config_from(args))
    if getattr(args, "backend", None):
        config.backend = args.backend
    return Pipeline(config, model_override=args.model, **kwargs)


def run_model_command(coro: Coroutine[Any, Any, T]) -> T:
    """Run the command's coroutine; model and backend problems become one clean line."""
    try:
        return asyncio.run(coro)
    except (ModelLoadError, ServerError) as exc:
        raise CliError(str(exc)) from None
    except (ModelError, GrammarError) as exc:
        raise CliError(f"the model failed: {exc}") from None
    except (BackendUnavailable, ToolError, ConfigError) as exc:  # ConfigError: e.g. no app enabled
        raise CliError(str(exc)) from None


def plan_json(plan: Plan) -> dict:
    graph = plan_graph(plan)
    return {"plan": plan.to_text(), "ok": plan.ok, "tasks": [_jsonable(t) for t in plan.tasks],
            "dag": {"layers": layers(plan), "edges": [list(e) for e in graph.edges],
                    "critical_path": critical_path(plan)},
            "errors": [str(d) for d in plan.errors], "warnings": [str(d) for d in plan.warnings]}


# -- plan ------------------------------------------------------------------------------------------
def plan_command(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    timings: dict[str, Any] = {}
    selected: list[str] = []

    def emit(event: Event) -> None:
        if isinstance(event, PlanToken) and not args.json:
            say(event.text, end="")
        elif isinstance(event, StageTiming):
            timings[event.stage] = round(event.seconds, 6)
            timings.update({k: v for k, v in event.detail.items() if isinstance(v, int)})
        elif isinstance(event, ToolsSelected):
            selected[:] = event.selected
            if not args.json:
                print(tools_line(event), file=sys.stderr)
        elif isinstance(event, Notice) and not args.json:
            say(f"{event.level}: {event.message}", file=sys.stderr)

    try:
        response = run_model_command(pipeline.plan_only(args.request, emit=emit))
    finally:
        pipeline.close()
    plan = response.plan
    report = plan_json(plan)
    setup, prompt_text = response.setup, response.prompt.text
    if args.show_prompt and setup is not None:
        report.update({"prompt": prompt_text, "profile": setup.profile, "chat_template": setup.template.source})
    if args.json:
        print_json({"request": args.request, "tools": selected, **report, "timings": timings})
    else:
        if args.show_prompt and setup is not None:
            print(f"\n=== the prompt the model received ({setup.profile} profile, {setup.template.source}) ===")
            say(prompt_text, end="" if prompt_text.endswith("\n") else "\n")
            print("=== end of prompt ===", end="")
        print()
        print("DAG: " + " -> ".join("{" + ", ".join(f"{i}:{plan.task(i).tool}" for i in layer) + "}"
                                    for layer in layers(plan)) if plan.tasks else "DAG: (empty)")
        for d in plan.errors:
            say(f"error: {d}")
        for d in plan.warnings:
            say(f"warning: {d}")
    return 0 if plan.ok and plan.tasks else 1


# -- ask -------------------------------------------------------------------------------------------
def ask_command(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    emit = json_sink if args.json else TextRenderer(verbose=args.verbose)
    dry_run = DryRun.SAFE if args.dry_run else DryRun.OFF
    try:
        result = run_model_command(pipeline.ask(args.request, emit=emit, approver=TerminalApprover(), dry_run=dry_run,
                                   yes=args.yes))
        if args.verbose and not args.json and pipeline.llm is not None:
            print(f"  planner: {getattr(pipeline.llm, 'engine', '')}")
    finally:
        pipeline.close()
    if not result.plan.tasks:
        return 2
    return 0 if result.ok else 1


# -- grammar -----------------------------------------------------------------------------------------
def _tools_arg(text: str | None, config: Config) -> list[ToolSpec]:
    if not text:
        return list(tools_for_apps(set(config.apps)))
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown or not names:
        raise CliError(f"unknown tool(s): {', '.join(unknown) or '(none given)'}; known: {', '.join(REGISTRY)}")
    return [REGISTRY[n] for n in names]


def _read_records(path: str) -> list[dict]:
    try:
        return [record for _, record in parse_jsonl(read_text_arg(path), path)]
    except JsonlError as exc:
        raise CliError(str(exc)) from None


def grammar_command(args: argparse.Namespace) -> int:
    config = config_from(args)
    if not args.check:
        tools = _tools_arg(args.tools, config)
        text = plan_grammar(tools, **limits_for(config).as_kwargs())
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
        report = check_plans(records, args.model, _tools_arg(args.tools, config) if args.tools else None,
                             **limits_for(config).as_kwargs())
    except (ModelLoadError, GrammarError) as exc:
        raise CliError(str(exc)) from None
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["rate"] = round(report["accepted"] / report["total"], 6) if report["total"] else None
    print_json(report)
    return 0
