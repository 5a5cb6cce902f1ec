"""`run-plan` (execute a plan file) and `check-plans` (validate a JSONL data set)."""

from __future__ import annotations

import argparse
import asyncio

from tinyagent.core.backends import BackendUnavailable
from tinyagent.core.cli.approve import TerminalApprover
from tinyagent.core.cli.common import CliError, add_run_options, config_from, json_sink, print_json, read_text_arg, say
from tinyagent.core.cli.render import TextRenderer
from tinyagent.core.events import Notice
from tinyagent.core.executor import DryRun
from tinyagent.core.jsonl import JsonlError, jsonl_lines, read_record
from tinyagent.core.parser import parse_plan
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.sanitize import visible
from tinyagent.tools.backend import ToolError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run-plan", help="run a plan from a file or standard input",
                       description="Run an LLMCompiler plan. Asks before each step that changes something, "
                       "unless --yes. Exit 0: every task ran; 1: some failed, were declined or skipped; "
                       "2: usage error or invalid plan.")
    p.add_argument("file", metavar="FILE|-", help="plan text file, or - for standard input")
    add_run_options(p)
    p.add_argument("--strict", action="store_true", help="with --dry-run: run nothing at all")
    p.set_defaults(func=run_plan_command)

    c = sub.add_parser("check-plans", help="validate the plans in a JSONL data set",
                       description="Validate each line's `plan` against the tool registry.")
    c.add_argument("data", metavar="DATA.jsonl")
    c.add_argument("--json", action="store_true", help="print one JSON object: total, valid, invalid")
    c.set_defaults(func=check_plans_command)


def run_plan_command(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.backend:
        config.backend = args.backend
    if args.strict and not args.dry_run:
        raise CliError("--strict only makes sense with --dry-run")
    text = read_text_arg(args.file)
    emit = json_sink if args.json else TextRenderer()
    pipeline = Pipeline(config)  # no model is loaded: running a written plan needs none
    try:  # closed on every way out: it may have started MCP servers
        # The plan may call the MCP servers' tools: they are known once the servers are asked.
        registry = pipeline.registry()
        pipeline.say_notices(emit)  # a server that did not start is said before the plan's problems
        plan = parse_plan(text, registry)
        if plan.errors:
            details = "\n".join(f"  {d}" for d in plan.errors)
            raise CliError(f"invalid plan:\n{details}")
        for warning in plan.warnings:  # --json: as events of their own, so the stream stays JSON lines
            if args.json:
                json_sink(Notice("warning", str(warning)))
            else:
                say(f"warning: {warning}")
        dry_run = DryRun.OFF if not args.dry_run else (DryRun.STRICT if args.strict else DryRun.SAFE)
        try:
            summary = asyncio.run(pipeline.run_plan(plan, emit=emit, approver=TerminalApprover(),
                                                    dry_run=dry_run, yes=args.yes))
        except (BackendUnavailable, ToolError) as exc:
            raise CliError(str(exc)) from None
    finally:
        pipeline.close()
    return 0 if summary.all_done else 1


def check_plans(path: str) -> dict:
    """Validate every record's plan: {total, valid, invalid: [{id, line, error}], warnings}."""
    text = read_text_arg(path)
    total, valid, invalid, warned = 0, 0, [], 0
    for number, raw in jsonl_lines(text):
        total += 1
        try:
            record = read_record(raw)
            plan_text = record["plan"]
            if not isinstance(plan_text, str):
                raise TypeError("`plan` is not a string")
        except (JsonlError, KeyError, TypeError) as exc:
            invalid.append({"id": None, "line": number, "error": f"not a record with a `plan`: {str(exc)[:200]}"})
            continue
        plan = parse_plan(plan_text)
        warned += bool(plan.warnings)
        if plan.errors:
            invalid.append({"id": _record_id(record.get("id")), "line": number,
                            "error": "; ".join(str(d) for d in plan.errors)})
        else:
            valid += 1
    return {"total": total, "valid": valid, "invalid": invalid, "with_warnings": warned}


def _record_id(value: object) -> str | int | None:
    """A record's id as reported: text or a number, bounded; anything else (deep lists, nan) is dropped."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    if isinstance(value, int):
        return value if abs(value) < 2**63 else None

    return visible(value[:200])


def check_plans_command(args: argparse.Namespace) -> int:
    report = check_plans(args.data)
    if args.json:
        print_json(report)
    else:
        print(f"{report['valid']} of {report['total']} plans are valid "
              f"({report['with_warnings']} with warnings)")
        for item in report["invalid"]:
            print(f"  line {item['line']} ({item['id']}): {visible(item['error'])}")
    return 0 if not report["invalid"] else 1
