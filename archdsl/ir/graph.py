"""The graph the pipeline passes along: named nodes in insertion (topological) order, each a :class:`Node`
(the op, its ordered inputs, the source span), and edges from inputs to consumers.

A small subset of networkx's DiGraph interface (``g.nodes[name]``, ``g.graph``, iteration in
insertion order, ``add_node``/``add_edge``, ``out_degree``, ``remove_nodes_from``, ``copy``) —
all archdsl needs, without networkx's import time (a third of a report's run time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only
    from ..errors import Span
    from ..ops import Op


@dataclass
class Node:
    """A layer of the graph: its op (with its resolved arguments), its inputs in order, and where the spec
    wrote it. The stages that read the graph never write into it; a transform works on a copy."""

    op: Op
    inputs: list[str]
    span: Span | None = None


class Graph:
    def __init__(self, **attrs: Any):
        self.graph: dict[str, Any] = dict(attrs)
        self.nodes: dict[str, Node] = {}
        self._succ: dict[str, dict[str, None]] = {}  # node → consumers, in the order they were added
        self._pred: dict[str, dict[str, None]] = {}

    def add_node(self, name: str, node: Node) -> None:
        self.nodes[name] = node
        self._succ.setdefault(name, {})
        self._pred.setdefault(name, {})

    def add_edge(self, a: str, b: str) -> None:
        """An edge between two nodes the graph holds."""
        self._succ[a][b] = None
        self._pred[b][a] = None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.nodes))

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def successors(self, name: str) -> Iterator[str]:
        return iter(self._succ[name])

    def predecessors(self, name: str) -> Iterator[str]:
        return iter(self._pred[name])

    def out_degree(self, name: str) -> int:
        return len(self._succ[name])

    def in_degree(self, name: str) -> int:
        return len(self._pred[name])

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(a, b) for a, succ in self._succ.items() for b in succ]

    def remove_nodes_from(self, names: Iterable[str]) -> None:
        for n in list(names):
            if n not in self.nodes:
                continue
            for s in self._succ.pop(n):
                self._pred[s].pop(n, None)
            for p in self._pred.pop(n):
                self._succ[p].pop(n, None)
            del self.nodes[n]

    def copy(self) -> Graph:
        """A copy with its own graph dict, nodes and edges (the ops and spans are shared: they are not changed)."""
        g = Graph(**self.graph)
        g.nodes = {n: replace(d, inputs=list(d.inputs)) for n, d in self.nodes.items()}
        g._succ = {n: dict(s) for n, s in self._succ.items()}
        g._pred = {n: dict(p) for n, p in self._pred.items()}
        return g


def ancestors(g: Graph, name: str) -> set[str]:
    """Every node with a path to ``name``."""
    seen: set[str] = set()
    stack = list(g.predecessors(name))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(g.predecessors(n))
    return seen
