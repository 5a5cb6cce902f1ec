"""The planner's layers import in one direction: no cycle, lazy (function-local) imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
OWN = ("core", "tools", "tui")
# The modules whose imports must form no cycle with anything.
CHECKED = ("core.planner", "core.cli.planner", "core.cli.models", "core.cli.eval", "core.modelstore",
           "core.gguf_file", "core.wheels", "core.evaluation", "tui.screens.models")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in OWN}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OWN:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from core.planner import llm`
    return found


def _graph() -> nx.DiGraph:
    files = {_module_name(p): p for top in OWN for p in (ROOT / top).rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in files.items():
        for target in _imports(path):
            if target in files and target != name:
                graph.add_edge(name, target)
    return graph


def test_no_import_cycle_through_the_planner_and_model_modules():
    graph = _graph()
    cycles = [c for c in nx.simple_cycles(graph) if any(m.startswith(CHECKED) for m in c)]
    assert cycles == [], cycles


def test_grammar_builder_runtime_and_checker_import_in_one_direction():
    graph = _graph()
    assert graph.has_edge("core.planner.grammar_check", "core.planner.llm")
    assert graph.has_edge("core.planner.llm", "core.planner.grammar")
    assert not nx.has_path(graph, "core.planner.grammar", "core.planner.llm")
    assert not nx.has_path(graph, "core.planner.llm", "core.planner.grammar_check")
