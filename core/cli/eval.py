"""`tinyagent eval`: the planner measured on a {query, plan} JSONL data set, record by record.

Exit status: 0 the evaluation ran (whatever the success rate); 2 usage errors, bad data,
a missing or broken model.
"""

from __future__ import annotations

import argparse
import sys

from tinyagent.core.cli.common import (
    CliError,
    add_adapter_option,
    add_server_option,
    config_from,
    print_json,
    read_text_arg,
    say,
    with_planner_options,
)
from tinyagent.core.cli.planner import run_model_command
from tinyagent.core.config import Config
from tinyagent.core.evaluation import (
    EvalDataError,
    Progress,
    RecordResult,
    choose,
    evaluate_record,
    load_example_pool,
    load_results,
    read_jsonl,
    summarize,
)
from tinyagent.core.jsonl import dumps_line
from tinyagent.core.pipeline import Pipeline, RequestOptions
from tinyagent.core.planner.profiles import PROFILES
from tinyagent.core.toolrag.data import SPLITS, split_of


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="measure the planner on a JSONL data set",
                       description="For each {id, query, plan} record: plan with the local model and compare DAGs "
                       "(the paper's success rate: same tools, same dependencies), tool recall, invalid plans, "
                       "seconds per stage and prompt tokens evaluated. Plans run as a dry run in the sandbox. "
                       "A progress bar with the ETA goes to stderr.")
    e.add_argument("data", metavar="DATA.jsonl")
    e.add_argument("--model", metavar="PATH", help="planner GGUF file or model-store name "
                   "(default: models.planner in config.yaml)")
    add_server_option(e)
    e.add_argument("--examples", metavar="POOL.jsonl", help="draw in-context examples from this {query, plan} "
                   "file instead of the built-in and user pool (never the question being asked)")
    add_adapter_option(e)
    e.add_argument("--profile", metavar="NAME", help=f"prompt profile: {', '.join(PROFILES)} "
                   "(default: planner.prompt, auto)")
    e.add_argument("--no-grammar", action="store_true", help="sample plans without the plan grammar")
    e.add_argument("--all-tools", action="store_true", help="skip ToolRAG: every enabled tool goes into the prompt")
    e.add_argument("--split", choices=SPLITS, default="all",
                   help="only the records of this split (core.toolrag.data.split_of: by id, ~20%% test, "
                   "~10%% val); `test` is what training never saw (default: all)")
    e.add_argument("--limit", type=int, metavar="N", help="only the first N records (of the sample, if any)")
    e.add_argument("--sample", type=int, metavar="N", help="a random sample of N records")
    e.add_argument("--seed", type=int, default=0, metavar="S", help="seed of --sample (default 0)")
    e.add_argument("--out", metavar="FILE.jsonl", help="append one line per record; records whose id is "
                   "already there are not run again (resume)")
    e.add_argument("--json", action="store_true", help="print one JSON object: the summary and every record")
    e.set_defaults(func=eval_command)


def _configured(args: argparse.Namespace) -> Config:
    config = with_planner_options(args, config_from(args))
    config.backend = "sandbox"  # evaluation never touches the user's apps
    if args.all_tools:
        config.toolrag.enabled = False
    if args.profile:
        if args.profile not in PROFILES:
            raise CliError(f"--profile must be one of {', '.join(PROFILES)}, not {args.profile!r}")
        config.planner.prompt = args.profile
    return config


def _positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise CliError(f"{flag} must be at least 1")


def eval_command(args: argparse.Namespace) -> int:
    _positive(args.limit, "--limit")
    _positive(args.sample, "--sample")
    try:
        records = read_jsonl(args.data, read_text_arg(args.data))  # the 64 MiB limit, stdin included
        pool, _skipped = load_example_pool(args.examples) if args.examples else (None, 0)
    except EvalDataError as exc:
        raise CliError(str(exc)) from None
    if args.split != "all":
        records = [r for r in records if split_of(str(r.get("id", "") or "")) == args.split]
    chosen = choose(records, limit=args.limit, sample=args.sample, seed=args.seed)
    if not chosen:
        raise CliError(f"{args.data} has no records" + ("" if args.split == "all" else f" in the {args.split} split"))
    try:
        earlier = load_results(args.out, {key for key, _ in chosen}) if args.out else {}
    except OSError as exc:  # a directory, or a file we may not read: say so before any model loads
        raise CliError(f"cannot use --out {args.out}: {getattr(exc, 'strerror', None) or exc}") from None
    todo = [(key, r) for key, r in chosen if key not in earlier]
    config = _configured(args)
    pipeline = Pipeline(config, model_override=args.model)
    options = RequestOptions(example_pool=pool, use_grammar=not args.no_grammar)
    progress = Progress(len(todo), _stderr, tty=sys.stderr.isatty())
    if earlier:
        say(f"resuming: {len(earlier)} of {len(chosen)} records already in {args.out}", file=sys.stderr)
    results: list[RecordResult] = list(earlier.values())

    async def run_all() -> None:
        for key, record in todo:
            result = await evaluate_record(pipeline, key, record, options=options)
            results.append(result)
            if args.out:
                _append(args.out, result.to_json())
            progress.step(f"{sum(r.success for r in results)} matched")

    try:
        run_model_command(run_all())
    finally:
        progress.close()
        pipeline.close()
    order = {key: i for i, (key, _) in enumerate(chosen)}
    results.sort(key=lambda r: order.get(r.id, len(order)))
    report = summarize(results)
    report.update(split=args.split, grammar=not args.no_grammar, all_tools=bool(args.all_tools), profile=args.profile,
                  adapter=config.planner.adapter or None,
                  examples=args.examples, examples_in_pool=len(pool.examples) if pool else None)
    if args.json:
        print_json({**report, "records": [r.to_json() for r in results]})
    else:
        _print_text(report)
    return 0


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _append(path: str, row: dict) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(dumps_line(row) + "\n")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc}") from None


def _print_text(report: dict) -> None:
    print(f"success rate: {report['success']}/{report['total']} ({report['success_rate']:.1%})")
    print(f"tool recall (ToolRAG): {report['tool_recall']:.3f}; in plans: {report['plan_tool_recall']:.3f}")
    print(f"invalid plans: {report['invalid_plans']}")
    if report.get("plans_with_lookups_added"):
        print(f"plans given a lookup step the model left implicit: {report['plans_with_lookups_added']}")
    for name, s in report["stages"].items():
        if s:
            print(f"  {name}: mean {s['mean'] * 1000:.0f} ms, p50 {s['p50'] * 1000:.0f} ms, p95 {s['p95'] * 1000:.0f} ms")
    pe = report["prompt_tokens_evaluated"]
    if pe:
        print(f"prompt tokens evaluated per request: mean {pe['mean']:.0f} of {report['prompt_tokens']['mean']:.0f}")
