"""Plans as graphs: layers for drawing, the critical path, and the paper's success metric.

A predicted plan succeeds when its DAG is isomorphic to the reference plan's: nodes matched
on tool name, edges are dependencies (`$N` uses). Arguments do not count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from tinyagent.core.plan import Plan, Ref, Task, Template

if TYPE_CHECKING:
    import networkx as nx

# networkx is imported where a graph is built, not at module load: its import costs ~170 ms,
# and every CLI start (`tinyagent --help` included) loads this module through the pipeline.


def plan_graph(plan: Plan | Iterable[Task]) -> nx.DiGraph:
    import networkx as nx

    tasks = plan.tasks if isinstance(plan, Plan) else tuple(plan)
    graph = nx.DiGraph()
    for task in tasks:
        graph.add_node(task.id, tool=task.tool)
    for task in tasks:
        for dep in task.deps:
            if dep in graph:
                graph.add_edge(dep, task.id)
    return graph


def layers(plan: Plan | Iterable[Task]) -> list[list[int]]:
    """Task ids by depth: layer 0 needs nothing; layer k needs something in layer k-1."""
    import networkx as nx

    return [sorted(layer) for layer in nx.topological_generations(plan_graph(plan))]


def critical_path(plan: Plan | Iterable[Task], durations: Mapping[int, float] | None = None) -> list[int]:
    """The chain of tasks that bounds the run time (each task weighs 1 without durations)."""
    import networkx as nx

    graph = plan_graph(plan)
    if graph.number_of_nodes() == 0:
        return []
    weight = (lambda n: durations.get(n, 0.0)) if durations else (lambda n: 1.0)
    best: dict[int, tuple[float, int | None]] = {}
    for node in nx.topological_sort(graph):
        preds = [(best[p][0], p) for p in graph.predecessors(node)]
        length, prev = max(preds) if preds else (0.0, None)
        best[node] = (length + weight(node), prev)
    step: int | None = max(best, key=lambda n: (best[n][0], -n))
    path: list[int] = []
    while step is not None:
        path.append(step)
        step = best[step][1]
    return path[::-1]


def plans_isomorphic(predicted: Plan, reference: Plan) -> bool:
    import networkx as nx

    a, b = plan_graph(predicted), plan_graph(reference)
    if a.number_of_nodes() != b.number_of_nodes() or a.number_of_edges() != b.number_of_edges():
        return False
    if Counter(nx.get_node_attributes(a, "tool").values()) != Counter(nx.get_node_attributes(b, "tool").values()):
        return False
    return nx.is_isomorphic(a, b, node_match=lambda x, y: x["tool"] == y["tool"])


def tool_recall(predicted: Iterable[str], needed: Iterable[str]) -> float:
    """Share of the needed tools (as a set) that the prediction uses."""
    need = set(needed)
    if not need:
        return 1.0
    return len(need & set(predicted)) / len(need)


def final_steps(plan: Plan) -> list[int]:
    """Ids of the steps no other step needs (the request's actions), in the plan's order."""
    by_id = {t.id for t in plan.tasks}
    needed = {dep for t in plan.tasks for dep in t.deps if dep in by_id}
    return [t.id for t in plan.tasks if t.id not in needed]


def just_in_time(plan: Plan, sinks: Sequence[int] | None = None) -> list[int]:
    """Task ids in the order where each step comes right before the first step that needs it.

    The steps nothing needs (the request's actions: an email, a note) keep their order; each is
    preceded by whatever it needs that is not written yet, depth first, in the plan's order. So a
    clause's lookups sit with the clause rather than all at the top, as half of TinyAgent's plans
    have them (the other half the other way): one order, decided clause by clause.
    `sinks`, when given, is the order of the steps nothing needs (every one of them, once).
    """
    by_id = {t.id: t for t in plan.tasks}
    order: list[int] = []
    placed: set[int] = set()

    def place(task_id: int) -> None:
        if task_id in placed:
            return
        placed.add(task_id)
        for dep in sorted(d for d in by_id[task_id].deps if d in by_id):
            place(dep)
        order.append(task_id)

    written = final_steps(plan)
    if sinks is None:
        sinks = written
    elif sorted(sinks) != sorted(written):
        raise ValueError("sinks must list every step nothing needs, once")
    for task_id in sinks:  # every other step is needed by one of these, so placed with it
        place(task_id)
    return order


def renumber(plan: Plan, order: list[int]) -> Plan:
    """The same plan with tasks in `order` (a topological order of ids), numbered 1..n."""
    new_id = {old: i for i, old in enumerate(order, start=1)}
    if sorted(new_id) != sorted(t.id for t in plan.tasks):
        raise ValueError("order must list every task id once")

    def remap(value):
        if isinstance(value, Ref):
            return Ref(new_id[value.task_id])
        if isinstance(value, Template):
            return Template(tuple(Ref(new_id[p.task_id]) if isinstance(p, Ref) else p for p in value.parts))
        if isinstance(value, list):
            return [remap(v) for v in value]
        return value

    by_id = {t.id: t for t in plan.tasks}
    tasks = tuple(
        Task(new_id[old], by_id[old].tool, tuple(remap(a) for a in by_id[old].args),
             thought=by_id[old].thought, comment=by_id[old].comment)
        for old in order
    )
    for task in tasks:
        if any(dep >= task.id for dep in task.deps):
            raise ValueError("order is not topological: a task would come before one it needs")
    return Plan(tasks, plan.joined)
