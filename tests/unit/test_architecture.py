"""The house's import rules (ARCHITECTURE.md), read from the source, function-local imports included.

tools/ imports nothing from core/; core/ imports nothing from tui/ except the CLI's one
launcher; no module reaches itself through any chain of imports; core/ and tools/ load
without Textual, and `tinyagent --help` loads no heavy runtime. Every import of ours names the one
installed package (`tinyagent.core...`, pyproject's package-dir), never a bare `core` or `tools`.

The graph names modules by their source paths (core/pipeline.py is "core.pipeline"), so an
import of tinyagent.core.pipeline is read as core.pipeline.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tools", "tui", "models", "applescripts")
INSTALLED = "tinyagent"  # the one package the source folders are installed under
# The CLI may import the TUI only to launch it.
TUI_LAUNCHERS = {"core.cli.common"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _source_name(name: str) -> str:
    """tinyagent.core.plan -> core.plan: the name the graph gives the module."""
    return name.removeprefix(INSTALLED + ".")


def _imported(node: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [_source_name(alias.name) for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # `from pkg import submodule` depends on the submodule; `from mod import name` on mod
    named = [_source_name(f"{source}.{a.name}") for a in node.names]
    submodules = [name for name in named if name in known]
    source = "" if source == INSTALLED else _source_name(source)  # `from tinyagent import core`
    return submodules + ([source] if len(submodules) < len(node.names) else [])


def import_graph() -> nx.DiGraph:
    known = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py", known):
                while target and target not in known:  # core.plan.Task -> core.plan
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph.add_edge(module, target)
    return graph


def test_the_graph_sees_function_local_imports():
    graph = import_graph()
    assert graph.number_of_edges() > 100
    assert graph.has_edge("core.cli.common", "tui.app")  # a lazy import inside a function


def test_no_import_cycles():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:10])


def test_tools_import_nothing_from_core():
    bad = [(a, b) for a, b in import_graph().edges if a.startswith("tools") and b.startswith("core")]
    assert bad == []


def test_core_imports_tui_only_to_launch_it():
    bad = [(a, b) for a, b in import_graph().edges
           if a.startswith("core") and b.startswith("tui") and a not in TUI_LAUNCHERS]
    assert bad == []


def test_grammar_builder_runtime_and_checker_import_in_one_direction():
    graph = import_graph()
    assert graph.has_edge("core.planner.grammar_check", "core.planner.llm")
    assert graph.has_edge("core.planner.llm", "core.planner.grammar")
    assert not nx.has_path(graph, "core.planner.grammar", "core.planner.llm")
    assert not nx.has_path(graph, "core.planner.llm", "core.planner.grammar_check")


def test_the_config_imports_nothing_of_the_planner_but_its_url_check_and_profile_names():
    """Every layer reads core.config, so it sits below the planner: the chat layouts it checks
    names against live in core/chat_layouts.py; server_url is standard library only, and
    profile_names (the profiles' names as one Literal type) imports nothing."""
    planner = {b for b in import_graph().successors("core.config") if b.startswith("core.planner")}
    assert planner <= {"core.planner", "core.planner.server_url", "core.planner.profile_names"}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_engines_are_handed_what_they_load():
    """The planner never imports the model store (core/planner_model.py finds its file; the manifest
    it reads profiles from sits below both, in core/model_manifest.py), nor the voice code a tool
    backend (core/backends.py lists the contacts its hint names)."""
    graph = import_graph()
    assert graph.has_edge("core.planner.profiles", "core.model_manifest")
    bad = [(a, b) for a, b in graph.edges if _inside(a, "core.planner") and _inside(b, "core.modelstore")]
    bad += [(a, b) for a, b in graph.edges if _inside(a, "core.voice") and _inside(b, "tools.sandbox")]
    bad += [(a, b) for a, b in graph.edges if a == "core.model_manifest" and b.startswith(("core.", "tools."))]
    assert bad == []


def test_a_cycle_and_a_back_edge_would_be_seen(tmp_path, monkeypatch):
    """The checks above cannot pass vacuously: a planted cycle and tools -> core are found."""
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
    (tmp_path / "core" / "a.py").write_text("def f():\n    from tinyagent.core import b\n")
    (tmp_path / "core" / "b.py").write_text("from tinyagent.core.a import f\n")
    (tmp_path / "tools" / "t.py").write_text("import tinyagent.core.a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph()
    assert [sorted(c) for c in nx.simple_cycles(graph)] == [["core.a", "core.b"]]
    assert graph.has_edge("tools.t", "core.a")


# Where code of ours lives: the installed packages' folders, the installed package's top, the
# tests and the benchmarks.
OUR_CODE = (*PACKAGES, "package", "tests", "bench")


def bare_imports() -> list[str]:
    """Imports naming a source folder (`core`, `tools`, ...) as a top-level package: installed,
    there is none; beside the installed one, the same file would load twice under two names."""
    found = []
    for folder in OUR_CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
                          for name in names if name.split(".")[0] in PACKAGES]
    return found


def test_every_import_of_ours_names_the_installed_package():
    assert bare_imports() == []


def test_a_bare_import_would_be_seen(tmp_path, monkeypatch):
    for folder in OUR_CODE:
        (tmp_path / folder).mkdir()
    (tmp_path / "tui" / "a.py").write_text("import tools.registry\nfrom tinyagent.core import plan\n")
    (tmp_path / "tests" / "t.py").write_text("def f():\n    from core.plan import Task\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert bare_imports() == ["tui/a.py:1: tools.registry", "tests/t.py:2: core.plan"]


def _packages(package: str) -> list[str]:
    """Every module of a source folder, by its installed name (tinyagent.core, tinyagent.core.cli, ...)."""
    names = [f"{INSTALLED}.{package}"]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{INSTALLED}.{package}."):
        names.append(info.name)
    return names


def test_every_module_loads_under_one_name_only():
    """Importing everything, the app included, loads no module as `core...`, `tools...` or
    `tui...` as well: one file under two names would be two modules with two sets of globals."""
    modules = [m for m in _packages("core") + _packages("tools") + _packages("tui") if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bare = sorted(m for m in sys.modules if m.split('.')[0] in {PACKAGES!r})\n"
        "print(len(sys.modules), ','.join(bare))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, bare = out.stdout.strip().partition(" ")[::2]
    assert int(count) > 100 and bare == "", f"loaded under a bare name: {bare}"


def test_core_and_tools_import_without_textual():
    modules = [m for m in _packages("core") + _packages("tools") if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"core/tools pulled in: {out.stdout}"


def test_cli_help_does_not_load_heavy_runtimes():
    code = (
        "import sys\nfrom tinyagent.core.cli import build_parser\nbuild_parser()\n"
        "heavy = [m for m in ('llama_cpp', 'onnxruntime', 'sounddevice', 'pywhispercpp', 'torch', 'textual', 'networkx')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
