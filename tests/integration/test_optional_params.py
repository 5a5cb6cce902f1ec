"""Trailing optional parameters (only MCP tools have them): the parser, the grammar, the
executor and the argument coercion accept a call down to its required arguments, and the 16
built-in tools, which have none, are exactly as before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.grammar_check import grammar_accepts as accepts
from tinyagent.core.events import TaskStatus
from tinyagent.core.executor import Executor
from tinyagent.core.parser import parse_plan
from tinyagent.core.planner.grammar import plan_grammar
from tinyagent.core.planner.grammar_kinds import kind_of
from tinyagent.tools.args import coerce_args
from tinyagent.tools.backend import ToolCall
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.registry import INT, STR, TOOLS, Effect, Param, ToolSpec
from tinyagent.tools.registry import REGISTRY as BUILT_IN


def _read(backend: Any, args: dict[str, Any], extras: dict[str, Any]) -> str:
    return repr(sorted(args.items()))


READ = ToolSpec(
    "read_text_file", "files", Effect.READ, "Reads a file.",
    (Param("path", STR, "the file"), Param("head", INT, "first lines", optional=True),
     Param("tail", INT, "last lines", optional=True)),
    "the text", server="files", sandbox=_read,
)
REGISTRY = {READ.name: READ}


def test_a_spec_with_a_required_parameter_after_an_optional_one_is_refused():
    with pytest.raises(ValueError, match="optional parameters must come after"):
        ToolSpec("bad", "x", Effect.READ, "", (Param("a", STR, "", optional=True), Param("b", STR, "")), "")


def test_the_parser_takes_the_required_arguments_up_to_all_of_them():
    for args in ('"a.txt"', '"a.txt", 3', '"a.txt", 3, 4', '"a.txt", None, 4'):
        plan = parse_plan(f"1. read_text_file({args})\n2. join()<END_OF_PLAN>", REGISTRY)
        assert plan.ok, (args, plan.errors)
    for args in ("", '"a.txt", 3, 4, 5'):
        plan = parse_plan(f"1. read_text_file({args})\n2. join()<END_OF_PLAN>", REGISTRY)
        assert [d.message for d in plan.errors] == [
            f"read_text_file takes 1 to 3 arguments (path, head?, tail?) but got {len(args.split(',')) if args else 0}"]
    plan = parse_plan('1. read_text_file("a.txt", "three")\n2. join()<END_OF_PLAN>', REGISTRY)
    assert "argument 2 (head) of read_text_file must be an integer" in plan.errors[0].message


def test_built_in_tools_still_take_exactly_their_arity():
    plan = parse_plan('1. send_sms(["+1 555 0100"])\n2. join()<END_OF_PLAN>')
    assert [d.message for d in plan.errors] == ["send_sms takes 2 arguments (recipients, message) but got 1"]
    assert all(t.required == t.arity and not t.server for t in TOOLS)


def test_coercion_leaves_out_optional_arguments_not_given():
    assert coerce_args(READ, {"path": "a.txt"}) == {"path": "a.txt"}
    assert coerce_args(READ, {"path": "a.txt", "head": None, "tail": ""}) == {"path": "a.txt"}
    assert coerce_args(READ, {"path": "a.txt", "tail": "4"}) == {"path": "a.txt", "tail": 4}
    # a required argument not given is still there, typed as "not given"
    assert coerce_args(READ, {}) == {"path": ""}


def test_a_servers_tool_gets_its_text_as_written_and_a_built_in_tool_trimmed():
    assert coerce_args(READ, {"path": " a.txt\n"}) == {"path": " a.txt\n"}
    assert coerce_args(BUILT_IN["get_phone_number"], {"name": " Sarah\n"}) == {"name": "Sarah"}


class _Backend(BaseBackend):
    name = "sandbox"

    def handler(self, tool: ToolSpec) -> Any:
        return tool.sandbox


def test_the_executor_binds_only_the_arguments_the_plan_gave():
    plan = parse_plan('1. read_text_file("a.txt")\n2. read_text_file("b.txt", None, 2)\n3. join()<END_OF_PLAN>',
                      REGISTRY)
    executor = Executor(_Backend(), registry=REGISTRY)
    summary = asyncio.run(executor.run(plan.tasks))
    assert summary.statuses == {1: TaskStatus.DONE, 2: TaskStatus.DONE}
    assert summary.outputs[1] == "[('path', 'a.txt')]"
    assert summary.outputs[2] == "[('path', 'b.txt'), ('tail', 2)]"


def test_the_executor_refuses_a_call_with_too_few_arguments():
    plan = parse_plan("1. read_text_file()\n2. join()<END_OF_PLAN>", None)  # unchecked, as a replan's carry-over
    summary = asyncio.run(Executor(_Backend(), registry=REGISTRY).run(plan.tasks))
    assert summary.statuses[1] is TaskStatus.FAILED
    assert summary.errors[1] == "read_text_file takes 1 to 3 arguments, got 0"


def test_the_grammar_lets_a_plan_leave_out_trailing_optional_arguments(vocab_llm):
    grammar = plan_grammar([READ], max_tasks=3, max_string=40)
    for args in ('"a.txt"', '"a.txt", 3', '"a.txt", 3, 4', '"a.txt", None, 4', '"$1", 2'):
        text = f'1. read_text_file("x")\n2. read_text_file({args})\n3. join()<END_OF_PLAN>'
        assert accepts(vocab_llm, grammar, text), args
    for args in ("", '"a.txt", , 4', '"a.txt", 3, 4, 5', '"a.txt",3'):
        text = f"1. read_text_file({args})\n2. join()<END_OF_PLAN>"
        assert not accepts(vocab_llm, grammar, text), args


def test_the_grammar_of_a_tool_with_only_optional_parameters(vocab_llm):
    spec = ToolSpec("list_things", "x", Effect.READ, "", (Param("a", STR, "", optional=True),
                                                          Param("b", INT, "", optional=True)), "", server="x")
    grammar = plan_grammar([spec], max_tasks=2, max_string=20)
    for args in ("", '"x"', '"x", 2'):
        assert accepts(vocab_llm, grammar, f"1. list_things({args})\n2. join()<END_OF_PLAN>"), args
    assert not accepts(vocab_llm, grammar, "1. list_things(, 2)\n2. join()<END_OF_PLAN>")


def test_argument_kinds_are_the_built_in_tools_only():
    """A server's `priority` or `duration` is whatever that server means, not a reminder's digit."""
    spec = ToolSpec("plan_trip", "x", Effect.EXTERNAL, "", (Param("priority", STR, ""), Param("duration", STR, "")),
                    "", server="trips")
    assert [kind_of(spec, p) for p in spec.params] == [None, None]
    grammar = plan_grammar([spec], kinds=True)
    assert "t-plan-trip-1 ::= \"plan_trip(\" str-1 \", \" str-1 \")\"" in grammar


def test_a_tool_call_keeps_the_arguments_it_was_given():
    call = ToolCall(READ, {"path": "a.txt"})
    assert _Backend().prepare(call).summary == "Run read_text_file"
