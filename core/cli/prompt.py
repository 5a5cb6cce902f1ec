"""`tinyagent prompt`: the planner's prompt for a request, rendered without running a model.

    tinyagent prompt "QUERY" [--tools a,b] [--now "YYYY-MM-DD HH:MM"] [--examples FILE.jsonl]
                     [--instructions TEXT] [--profile auto|tinyagent|compact] [--model GGUF] [--json]
    tinyagent prompt --cases FILE.jsonl --json

--cases reads the golden-case format of ../shared/golden (planner cases have `tools`,
joiner cases have `tasks`) and prints one JSON line per case: {"id", "system", "user",
"tool_order"} or {"id", "prompt"}. Exit 0; 2 for bad input (the line is named).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from types import SimpleNamespace
from typing import Any, get_args

from tinyagent.core.cli.common import CliError, config_from, print_json, read_text_arg, say
from tinyagent.core.config import PromptSetting
from tinyagent.core.jsonl import JsonlError, parse_jsonl
from tinyagent.core.modelstore import ModelStoreError, default_model
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner.chat import ChatTemplateError
from tinyagent.core.planner.llm import LocalLLM, ModelLoadError
from tinyagent.core.planner.profile import ExampleSource
from tinyagent.core.planner.profiles import ProfileError, PromptSetup, setup_for
from tinyagent.core.planner_model import resolve_model_path
from tinyagent.core.toolbox import Toolbox
from tinyagent.core.toolrag.examples import ExamplePool
from tinyagent.tools.registry import REGISTRY, tools_for_apps

NOW_INPUT = "%Y-%m-%d %H:%M"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prompt", help="print the planner prompt for a request (no model runs)",
                       description="Print the system and user texts the planner is sent for QUERY; with --model, "
                       "also the exact string the model receives (its chat template applied). Without --tools "
                       "every enabled tool is offered and, in the tinyagent profile, TinyAgent's built-in examples "
                       "are shown (TinyAgent without ToolRAG). --cases renders every case of a golden-format JSONL "
                       "file as JSON lines.")
    p.add_argument("query", nargs="?", help="the request")
    p.add_argument("--tools", metavar="A,B,...", help="the selected tools (default: every enabled tool)")
    p.add_argument("--now", metavar="'YYYY-MM-DD HH:MM'", help="the date and time the prompt states (default: now)")
    p.add_argument("--examples", metavar="FILE.jsonl", help="in-context examples to show, one {query, plan} a line")
    p.add_argument("--instructions", metavar="TEXT", help="the user's instructions (default: config instructions)")
    p.add_argument("--profile", choices=get_args(PromptSetting), default=None,
                   help="prompt layout (default: planner.prompt in config; auto = by model)")
    p.add_argument("--model", metavar="GGUF", help="also render through this model's chat template")
    p.add_argument("--cases", metavar="FILE.jsonl", help="render every planner/joiner case of this file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=prompt_command)


def _now(text: str | None, where: str = "--now") -> dt.datetime:
    if not text:
        return dt.datetime.now().replace(second=0, microsecond=0)
    try:
        return dt.datetime.strptime(str(text).strip(), NOW_INPUT)
    except ValueError:
        raise CliError(f"{where} must look like 'YYYY-MM-DD HH:MM', not {text!r}") from None


def _examples(records: Any, where: str) -> list[Any]:
    if not isinstance(records, list):
        raise CliError(f"{where}: examples must be a list of {{query, plan}}")
    out = []
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict) or not isinstance(r.get("query"), str) or not isinstance(r.get("plan"), str):
            raise CliError(f"{where}: example {n} needs text fields 'query' and 'plan'")
        out.append(SimpleNamespace(query=r["query"], plan=r["plan"]))
    return out


def _jsonl(path: str) -> list[tuple[int, dict]]:
    try:
        return parse_jsonl(read_text_arg(path), path)
    except JsonlError as exc:
        raise CliError(str(exc)) from None


def _tool_names(names: Any, where: str) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CliError(f"{where}: 'tools' must be a list of tool names")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise CliError(f"{where}: unknown tool(s) {', '.join(unknown)}")
    return names


# -- golden cases ---------------------------------------------------------------------------
def render_case(record: dict, where: str, profile: str = "tinyagent") -> dict:
    """One golden-format case, rendered as TinyAgent would (planner or joiner)."""
    case_id = record.get("id")
    if "tasks" in record:
        return {"id": case_id, "prompt": render_joiner_case(record, where)}
    query = record.get("query")
    if not isinstance(query, str):
        raise CliError(f"{where}: 'query' must be text")
    tools = _tool_names(record.get("tools"), where)
    examples = None if record.get("examples") is None else _examples(record["examples"], where)
    context = record.get("context") or ""
    if not isinstance(context, str):
        raise CliError(f"{where}: 'context' must be text")
    instructions = record.get("custom_instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise CliError(f"{where}: 'custom_instructions' must be text or null")
    setup = PromptSetup(profile, "--cases")
    try:
        rendered = setup.planner_prompt(query, tools, examples, now=_now(record.get("now"), f"{where}: 'now'"),
                                        instructions=instructions, context=context)
    except (KeyError, ValueError) as exc:
        raise CliError(f"{where}: {exc}") from None
    return {"id": case_id, "system": rendered.system, "user": rendered.user, "tool_order": list(rendered.tool_order)}


def render_joiner_case(record: dict, where: str) -> str:
    query, tasks = record.get("query"), record.get("tasks")
    if not isinstance(query, str) or not isinstance(tasks, list):
        raise CliError(f"{where}: a joiner case needs 'query' (text) and 'tasks' (a list)")
    rounds: dict[int, list[tj.Step]] = {}
    for n, t in enumerate(tasks, 1):
        if not isinstance(t, dict) or not isinstance(t.get("tool"), str) or not isinstance(t.get("args", []), list):
            raise CliError(f"{where}: task {n} needs 'tool' (text) and 'args' (a list)")
        observation = t.get("observation")
        step = tj.Step(int(t.get("id", n)), t["tool"], tuple(t.get("args", [])),
                       None if observation is None else str(observation), str(t.get("thought") or ""))
        rounds.setdefault(int(t.get("round", 1)), []).append(step)
    pad = tj.scratchpad([rounds[k] for k in sorted(rounds)])
    return tj.joiner_prompt(query, pad, final=bool(record.get("final")))


# -- one request -------------------------------------------------------------------------------
def _offered_tools(named: list[str], config: Any) -> list[Any]:
    """The tools `--tools` names, else every enabled one; MCP servers' tools among them (their
    servers are started to list them, and stopped) only where --tools names one or names none."""
    if named and all(n in REGISTRY for n in named):
        return [REGISTRY[n] for n in named]
    # A server that cannot start offers no tools here (`tinyagent mcp list` says why).
    toolbox = Toolbox(config, note=lambda problem: None)
    try:
        mcp = {t.name: t for t in toolbox.mcp_tools()}
    finally:
        toolbox.close()
    if not named:
        return [*tools_for_apps(set(config.apps)), *mcp.values()]
    unknown = [n for n in named if n not in REGISTRY and n not in mcp]
    if unknown:
        raise CliError(f"--tools: unknown tool(s) {', '.join(unknown)}")
    return [REGISTRY[n] if n in REGISTRY else mcp[n] for n in named]


def _setup(args: argparse.Namespace, config: Any) -> tuple[Any, Any]:
    """(PromptSetup, LocalLLM or None) for the chosen profile and, with --model, its template."""
    if not args.model:
        target = config.models.planner or _default_planner_file()
        try:
            return setup_for(config, path=target, profile=args.profile), None
        except ProfileError as exc:
            raise CliError(str(exc)) from None

    try:
        llm = LocalLLM(resolve_model_path(args.model), vocab_only=True)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from None
    try:
        return setup_for(config, path=llm.model_path, model=llm, profile=args.profile), llm
    except ProfileError as exc:
        llm.close()
        raise CliError(str(exc)) from None


def _default_planner_file() -> str:
    """The default planner's file name, so `auto` gives the profile of the model users get."""
    try:
        entry = default_model("planner")
    except (ModelStoreError, OSError):  # an unreadable manifest: `auto` then goes by the configured file only
        return ""
    return (entry.filename or "") if entry else ""


def prompt_command(args: argparse.Namespace) -> int:
    if args.cases:
        profile = args.profile if args.profile in ("tinyagent", "compact") else "tinyagent"
        for number, record in _jsonl(args.cases):
            print(json.dumps(render_case(record, f"{args.cases}, line {number}", profile), ensure_ascii=False))
        return 0
    if not args.query:
        raise CliError("give a QUERY, or --cases FILE.jsonl")

    config = config_from(args)
    named = [n.strip() for n in (args.tools or "").split(",") if n.strip()]
    if args.tools is not None and not named:  # as `grammar --tools` does: ",," names no tool
        raise CliError("--tools names no tool; give a comma list of tool names")
    specs = _offered_tools(named, config)
    tools = [t.name for t in specs]
    examples = None
    if args.examples:
        examples = _examples([r for _, r in _jsonl(args.examples)], args.examples)
    setup, llm = _setup(args, config)
    left_out = [t.name for t in specs if t.server] if setup.strategy.leaves_out_mcp else []
    if left_out:  # as `ask` says it: the profile's prompt has no place for them
        say(f"info: the {setup.profile} prompt leaves out {len(left_out)} MCP tool"
            f"{'' if len(left_out) == 1 else 's'} ({', '.join(left_out)}): {setup.strategy.leaves_out_mcp}",
            file=sys.stderr)
        specs = [t for t in specs if not t.server]
        if not specs:
            raise CliError(f"the {setup.profile} prompt describes none of these tools")
    try:
        if examples is None and args.tools:
            pool, problem = ExamplePool.load_for_planning()
            if problem:
                say(f"warning: {problem}", file=sys.stderr)
            examples = setup.strategy.examples(args.query, specs, ExampleSource(lambda: pool, config.planner.examples))
        instructions = config.instructions if args.instructions is None else args.instructions
        try:
            rendered = setup.planner_prompt(args.query, specs, examples, now=_now(args.now),
                                            instructions=instructions)
        except ChatTemplateError as exc:
            raise CliError(str(exc)) from None
        tokens = len(llm.tokenize(rendered.text, special=rendered.templated)) if llm is not None else None
    finally:
        if llm is not None:
            llm.close()
    report = {"profile": setup.profile, "why": setup.why, "tools": tools, "tool_order": list(rendered.tool_order),
              "system": rendered.system, "user": rendered.user}
    if left_out:
        report["left_out"] = left_out
    if llm is not None:
        report.update({"chat_template": setup.template.name, "chat_template_source": setup.template.source,
                       "prompt": rendered.text, "prompt_tokens": tokens})
    if args.json:
        print_json(report)
        return 0
    print(f"=== system ({setup.profile} profile: {setup.why}) ===")
    say(rendered.system, end="" if rendered.system.endswith("\n") else "\n")
    print("=== user ===")
    say(rendered.user)
    if llm is not None:
        print(f"=== what the model receives ({setup.template.source}; {tokens} tokens, BOS added by llama.cpp "
              "where the model wants one) ===")
        say(rendered.text)
    return 0
