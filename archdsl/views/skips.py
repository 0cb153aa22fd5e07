"""Which edges of a diagram are residual shortcuts, skip connections or size references: the walks
over the graph of layers that find them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..ir.analysis import Analysis, Layer
from ..limits import WALK_BUDGET


class LayerGraph:
    """The layers as a graph of data edges (what flows) and reference edges (what lends a size)."""

    def __init__(self, a: Analysis):
        self.a = a
        self.by = {x.name: x for x in a.layers}
        self.order = {x.name: i for i, x in enumerate(a.layers)}
        # an identity shortcut (a projection with nothing to project) is drawn as an edge, not a box
        self.elided = {x.name for x in a.layers if x.kind.shortcut and x.params == 0}
        self.data: dict[str, list[str]] = {}
        self.refs: dict[str, list[str]] = {}
        for x in a.layers:
            n_data, n_refs = x.kind.split_inputs(len(x.inputs))
            self.data[x.name] = [self.resolve(i) for i in x.inputs[:n_data]]
            self.refs[x.name] = [self.resolve(i) for i in x.inputs[n_data : n_data + n_refs]]
        self.consumers: dict[str, int] = {x.name: 0 for x in a.layers}
        self.succ: dict[str, list[str]] = {x.name: [] for x in a.layers}
        for x in a.layers:
            if x.name in self.elided:
                continue
            for u in self.data[x.name]:
                self.consumers[u] += 1
            for u in self.data[x.name] + self.refs[x.name]:
                self.succ[u].append(x.name)
        self.parents = parents(self.by)  # every block name
        self._between: dict[tuple[str, int], set[str]] = {}
        self.budget = WALK_BUDGET  # layers the walks below may still visit

    def resolve(self, name: str) -> str:
        while name in self.elided:
            name = self.by[name].inputs[0]
        return name

    def layers(self) -> Iterator[Layer]:
        return (x for x in self.a.layers if x.name not in self.elided)

    def preds(self, name: str) -> list[str]:
        return self.data[name] + self.refs[name]

    def reach(self, name: str, below: int) -> set[str]:
        """The layers a path from ``name`` reaches before the layer at position ``below`` of the order. The
        order is topological, so the walk never leaves that stretch: a merge's question costs the size of
        what lies between its fork and itself, not the whole graph's. Empty once the budget is spent."""
        key = (name, below)
        if key not in self._between:
            seen: set[str] = set()
            stack = [name]
            while stack and self.budget > 0:
                succ = self.succ[stack.pop()]
                self.budget -= len(succ) + 1
                for v in succ:
                    if v not in seen and self.order[v] < below:
                        seen.add(v)
                        stack.append(v)
            self._between[key] = seen
        return self._between[key]

    def on_paths(self, fork: str, merge: str) -> set[str]:
        """The layers on some path from ``fork`` to ``merge`` (both left out)."""
        ahead = self.reach(fork, self.order[merge])
        seen: set[str] = set()
        stack = [merge]
        while stack:
            for u in self.preds(stack.pop()):
                if u in ahead and u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen


def edge_kinds(g: LayerGraph) -> dict[tuple[str, str], str]:
    """skip/shortcut for the layer-level edges of shortcuts and skip connections; the rest are data.

    Each input of a merge is a branch: the chain of single-consumer layers back to where it forks off.
    A residual's inputs after the first are its shortcut, and so is the shortest branch of an add when it
    holds at most one layer and another more (a residual written as an add). Of a concat/add/mean, a
    branch is a skip connection when it holds nothing but identities, crops and pads while another branch
    computes (DenseNet, UNet's copy-and-crop); when another path from its fork to the merge passes through
    a coarser map than both ends and it does not (an encoder-decoder: FCN's ``@pool4 - score_pool4``); and
    its first edge
    alone is a long-range edge when it reaches past layers written outside the merge's group (SSD's
    heads on backbone maps), rather than into a branch of the merge's own body (Inception)."""
    kinds: dict[tuple[str, str], str] = {}
    coarsest: dict[tuple[str, str], int | None] = {}  # (fork, merge) → the smallest map between them
    for m in g.layers():
        ins = g.data[m.name]
        if len(ins) < 2:
            continue
        branches = [_branch(g, u) for u in ins]
        lengths = [sum(1 for n in nodes if not (g.by[n].kind.pointwise or g.by[n].kind.minor)) for nodes, _ in branches]
        longest, shortest = max(lengths), min(lengths)
        jumps = _Jumps(g, m.name, [(fork, [fork, *reversed(nodes), m.name][1]) for nodes, fork in branches])
        for i, (nodes, fork) in enumerate(branches):
            path = [fork, *reversed(nodes), m.name]
            if m.kind.shortcuts == "after_first":
                kind, edges = ("shortcut" if i >= 1 else None), path
            elif (lengths[i] == 0 and longest > 0) or _through_coarser(g, fork, nodes, m.name, coarsest):
                kind, edges = "skip", path
            elif m.kind.shortcuts == "shortest" and lengths[i] <= 1 < longest and lengths[i] == shortest:
                kind, edges = "shortcut", path  # a residual written as an add (WRN's 1x1 convdim)
            elif jumps(fork, path[1]):
                kind, edges = "skip", path[:2]
            else:
                kind, edges = None, []
            if kind:
                for u, v in zip(edges, edges[1:]):
                    kinds[(u, v)] = kind
    return kinds


def _branch(g: LayerGraph, u: str) -> tuple[list[str], str]:
    """The chain of single-input, single-consumer layers that ends in ``u`` (latest first), and the layer
    it starts from (the fork)."""
    nodes = []
    while not g.by[u].kind.is_input and len(g.data[u]) == 1 and g.consumers[u] == 1:
        nodes.append(u)
        u = g.data[u][0]
    return nodes, u


def _through_coarser(
    g: LayerGraph, fork: str, nodes: list[str], merge: str, coarsest: dict[tuple[str, str], int | None]
) -> bool:
    """Whether another path from ``fork`` to ``merge`` passes through a map smaller than both of theirs
    while this branch (``nodes``) does not: it skips across the bottom of an encoder-decoder. The smallest
    map between a fork and a merge is found once for all the branches they share (``coarsest``)."""
    ends = [area(tuple(g.by[n].output_shape)) for n in (fork, merge)]
    if None in ends:
        return False
    lowest = min(ends)

    def coarser(n: str) -> bool:
        a = area(tuple(g.by[n].output_shape))
        return a is not None and a < lowest

    if any(coarser(n) for n in nodes):
        return False
    if (fork, merge) not in coarsest:
        areas = [area(tuple(g.by[n].output_shape)) for n in g.on_paths(fork, merge)]
        coarsest[(fork, merge)] = min((a for a in areas if a is not None), default=None)
    least = coarsest[(fork, merge)]
    return least is not None and least < lowest


class _Jumps:
    """Whether an edge fork → first into ``merge`` reaches past layers, grown from the fork, that were written
    outside the merge's group (its own, or the group it stands in when it has none: Inception-ResNet's
    unlabelled concat of labelled branches). Each fork's stretch is walked once for all its branches."""

    def __init__(self, g: LayerGraph, merge: str, edges: list[tuple[str, str]]):
        self.g = g
        own = merge + "."
        self.scope = own if merge in g.parents else merge.rpartition(".")[0] + "."
        self.until: dict[str, int] = {}  # fork → the furthest first layer of its branches
        for fork, first in edges:
            self.until[fork] = max(self.until.get(fork, 0), g.order[first])
        self.outside: dict[str, int] = {}  # fork → the position of the first layer it grows outside the group

    def __call__(self, fork: str, first: str) -> bool:
        if self.scope == ".":
            return False
        if fork not in self.outside:
            g = self.g
            grown = g.reach(fork, self.until[fork])
            self.outside[fork] = min((g.order[x] for x in grown if not x.startswith(self.scope)), default=len(g.order))
        return self.outside[fork] < self.g.order[first]


def parents(ids: Iterable[str]) -> set[str]:
    """Every proper prefix of the names: the blocks that hold something."""
    out = set()
    for name in ids:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


def area(shape: tuple[int, ...]) -> int | None:
    """The spatial size of a CxHxW map (None for a vector)."""
    return shape[1] * shape[2] if len(shape) == 3 else None


def dense_chains(g: LayerGraph) -> dict[str, tuple[str, list[str], str]]:
    """DenseNet's connectivity, written as each layer's ``concat { identity; H }``: concat → (the input of its
    chain, the new maps of each layer up to it, the ``x`` it reads), for every concat of an identity of some
    ``x`` and a branch that computes from the same ``x``. Chained (``x`` itself such a concat), the l-th concat
    of a dense block holds the block's input and the l layers' new maps: what each later layer reads."""
    out: dict[str, tuple[str, list[str], str]] = {}
    for m in g.layers():
        ins = g.data[m.name]
        if not m.kind.stacks_channels or len(ins) != 2:
            continue
        (n0, f0), (n1, f1) = _branch(g, ins[0]), _branch(g, ins[1])
        if f0 != f1:
            continue
        plain = [all(g.by[n].kind.passes_through for n in nodes) for nodes in (n0, n1)]
        if plain.count(True) != 1 or not (n0 if plain[1] else n1):
            continue
        new = ins[1] if plain[0] else ins[0]
        start, before, _ = out.get(f0, (f0, [], ""))
        out[m.name] = (start, [*before, new], f0)
    return out
