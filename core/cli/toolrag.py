"""`tinyagent toolrag` (which tools a request needs, or --eval on labelled data) and
`tinyagent examples list|add|remove` (the in-context example pool)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyagent.core.cli.common import CliError, config_from, print_json, read_text_arg, say
from tinyagent.core.config import Config
from tinyagent.core.toolbox import Toolbox
from tinyagent.core.toolrag import ToolClassifier, ToolRAG, ToolRAGError
from tinyagent.core.toolrag.data import DataError, load_labelled
from tinyagent.core.toolrag.evaluate import evaluate
from tinyagent.core.toolrag.examples import (
    ExampleError,
    ExamplePool,
    add_user_example,
    import_user_examples,
    read_jsonl_examples,
    remove_user_example,
    user_examples_file,
)
from tinyagent.core.toolrag.similarity import SimilarTools


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("toolrag", help="show the tool probabilities and the selection for a request",
                       description="Run the ToolRAG classifier on a request, or evaluate it with --eval.")
    p.add_argument("request", nargs="?", help="the request text")
    p.add_argument("--eval", metavar="DATA", help="evaluate on a JSON-lines file of {id, query, tools}")
    p.add_argument("--split", choices=("auto", "test", "all", "train", "val"), default="auto",
                   help="rows of DATA to evaluate: test = the held-out split (by hash of id) the built-in "
                        "model never saw; auto (default) = test when every row has an id, else all")
    p.add_argument("--threshold", type=float, help="probability needed to select a tool (default: config)")
    p.add_argument("--model", metavar="DIR", help="ONNX model dir (default: config, else the built-in)")
    p.add_argument("--no-rules", action="store_true", help="do not add companion tools")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_toolrag)

    e = sub.add_parser("examples", help="list, add or remove in-context examples",
                       description="The example requests with plans that go into the planner's prompt.")
    esub = e.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = esub.add_parser("list", help="list the built-in and your own examples")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_examples_list)
    add = esub.add_parser("add", help="save a request and its plan (a file, or - for stdin) as an example")
    add.add_argument("query")
    add.add_argument("planfile")
    add.set_defaults(func=_examples_add)
    imp = esub.add_parser("import", help="add every {query, plan} line of a JSONL file to your examples",
                          description="Validate each line's plan and save the valid ones to your examples file in one "
                          "write. Exit 0: all imported; 1: some lines were skipped (listed); 2: none could be used.")
    imp.add_argument("file", metavar="FILE.jsonl")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=_examples_import)
    rm = esub.add_parser("remove", help="remove one of your examples by number (see list) or request text")
    rm.add_argument("which")
    rm.set_defaults(func=_examples_remove)


def _load_toolrag(args: argparse.Namespace):
    config = config_from(args)
    threshold = config.toolrag.threshold if args.threshold is None else args.threshold
    try:
        classifier = ToolClassifier.load(args.model or config.models.toolrag or None)
        return ToolRAG(classifier, threshold=threshold, enabled_apps=config.apps, rules=not args.no_rules)
    except ToolRAGError as exc:  # a missing or broken model dir is bad input (README: exit 2)
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _toolrag(args: argparse.Namespace) -> int:
    if bool(args.eval) == bool(args.request):
        raise CliError("give either a REQUEST or --eval DATA")
    if args.eval:
        return _evaluate(args)
    if not args.request.strip():
        raise CliError("the request is empty")
    try:
        selection = _load_toolrag(args).select(args.request)
        config = config_from(args)
        similar = _mcp_similarities(config, args.request)
    except ToolRAGError as exc:  # it loaded but cannot score this request (a vocab without [UNK])
        raise CliError(str(exc)) from None
    if args.json:
        extra = {} if similar is None else {"similarities": similar.similarities, "similarity_selected":
                                            list(similar.selected), "similarity_threshold": similar.threshold}
        print_json({**selection.to_json(), **extra})
        return 0
    chosen, added = set(selection.selected), set(selection.added_by_rules)
    for name, p in sorted(selection.probabilities.items(), key=lambda kv: -kv[1]):
        mark = "+ rule" if name in added else "*" if name in chosen else ""
        say(f"{p:6.3f}  {'#' * round(p * 20):20s}  {name:24s} {mark}")
    say(f"selected ({len(selection.selected)}, threshold {selection.threshold}): "
          f"{', '.join(selection.selected) or 'none'}  [{selection.seconds * 1000:.2f} ms]")
    if similar is not None:
        # Not probabilities: the cosine similarity of each MCP tool's name and description to the request.
        for name, s in sorted(similar.similarities.items(), key=lambda kv: -kv[1]):
            say(f"~{s:5.3f}  {'~' * round(max(s, 0.0) * 20):20s}  {name:24s} {'*' if name in similar.selected else ''}")
        say(f"MCP tools by similarity ({len(similar.selected)}, similarity {similar.threshold}, at most "
            f"{config.toolrag.mcp_max_tools}): {', '.join(similar.selected) or 'none'}")
    return 0


def _mcp_similarities(config: Config, request: str) -> SimilarTools | None:
    """The configured MCP servers' tools ranked for `request` (None without any): their servers
    are started to list them, and stopped again."""
    problems: list[str] = []
    toolbox = Toolbox(config, note=problems.append)
    try:
        tools, similar = toolbox.offered_mcp(request, rank=True)
    finally:
        toolbox.close()
    if tools and similar is None:  # the ranking could not run (the noted reason says why)
        raise CliError(problems[-1] if problems else "MCP tools cannot be ranked")
    return similar


def _evaluate(args: argparse.Namespace) -> int:
    split = args.split
    try:
        if split == "auto":
            rows = load_labelled(args.eval)
            split = "test" if all(r.id for r in rows) else "all"
        rows = load_labelled(args.eval, split)
    except DataError as exc:
        raise CliError(str(exc)) from None
    try:
        metrics = {"data": args.eval, "split": split, **evaluate(_load_toolrag(args), rows)}
    except ToolRAGError as exc:  # a request of the data it cannot score
        raise CliError(str(exc)) from None
    if args.json:
        print_json(metrics)
    else:
        for key, value in metrics.items():
            say(f"{key:20s} {value}")
    return 0


def _examples_list(args: argparse.Namespace) -> int:
    try:  # listing shows no similarity: no encoder, so a large pool is not embedded just to list it
        pool = ExamplePool.load(encoder=None)
    except ExampleError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json([{"source": e.source, "query": e.query, "tools": list(e.tools), "plan": e.plan}
                    for e in pool.examples])
        return 0
    user_n = 0
    for e in pool.examples:
        if e.source == "user":
            user_n += 1
        label = f"user {user_n:3d}" if e.source == "user" else "builtin "
        say(f"{label}  {e.query}\n          tools: {', '.join(e.tools)}")
    say(f"{len(pool.examples)} examples ({user_n} yours, in {user_examples_file()})")
    return 0


def _examples_add(args: argparse.Namespace) -> int:
    try:
        example = add_user_example(args.query, read_text_arg(args.planfile))
    except ExampleError as exc:
        raise CliError(str(exc)) from None
    say(f"saved to {user_examples_file()}: {example.query} ({', '.join(example.tools)})")
    return 0


def _examples_import(args: argparse.Namespace) -> int:
    try:
        good, bad = read_jsonl_examples(Path(args.file))
        if not good:
            raise CliError(f"{args.file}: no usable examples" + (f" ({len(bad)} invalid lines)" if bad else ""))
        imported = import_user_examples(good)
    except ExampleError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json({"imported": imported, "skipped": [{"line": n, "error": e} for n, e in bad],
                    "file": str(user_examples_file())})
    else:
        for number, error in bad:
            say(f"skipped line {number}: {error}", file=sys.stderr)
        say(f"imported {imported} examples into {user_examples_file()}" + (f"; skipped {len(bad)}" if bad else ""))
    return 1 if bad else 0


def _examples_remove(args: argparse.Namespace) -> int:
    try:
        removed = remove_user_example(args.which)
    except ExampleError as exc:
        raise CliError(str(exc)) from None
    say(f"removed: {removed.query}")
    return 0
