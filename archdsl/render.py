"""Diagrams of a network: Graphviz (SVG, PNG, PDF, DOT) and TikZ (PlotNeuralNet's look), drawn from the
graph's names and the Analysis alone (no torch).

A diagram is a list of boxes and edges built by :func:`diagram`:

- a box is one layer, several layers folded into one (``conv 3x3, 64`` with ``bn · relu`` under it), or
  a whole block rolled up at ``depth`` (its name, what it holds, its parameters and output shape);
- blocks above ``depth`` are clusters (``subgraph cluster_*``) labelled with the block's name;
- residual shortcuts and skip connections (an input of a merge that bypasses the other branches: an
  identity, a crop, or a reference to a layer far back) are dashed edges with their tensor's shape;
- a crop's or resize's reference (``crop(@down1)``) is a dotted edge that lends only its size;
- every output of the network ends in an output box of its own.

:func:`to_dot` writes it as DOT text; :func:`render` runs Graphviz's ``dot`` for SVG/PNG/PDF and
:mod:`archdsl.tikz` writes TikZ. A network whose spatial size goes down and comes back up with skip
connections across (UNet, FCN) is drawn as a U: the decoder climbs back up beside the encoder and
each skip runs across.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import report
from .analysis import Analysis, Layer
from .errors import ArchError
from .ops import REGISTRY

FORMATS = ("svg", "png", "pdf", "dot", "tex")
MAX_BOXES = 100  # the automatic depth keeps a diagram within about this many boxes
MAX_TEXT = 200  # characters of a name or of the folded layers written in a box (longer ones end in '…')
MAX_ID = 1000  # characters of a quoted DOT string (Graphviz refuses one over 16,384)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# the layers the search for skip connections may visit, all merges together: past it (only graphs of many
# merges that each span most of the network come near) the remaining edges are drawn as plain data edges
WALK_BUDGET = 4_000_000
DOT_TIMEOUT = 120  # seconds dot may take (a concat of 4,000 branches at --depth all takes it ~30 s)
TOO_BIG_HINT = ("draw fewer boxes (--depth auto, 1, 2, ...), or render the .dot file with Graphviz yourself "
                "(dot -Tsvg net.dot -o net.svg), with all the time it needs")
INSTALL_HINT = ("install Graphviz for SVG/PNG/PDF: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install graphviz`; or render the .dot file "
                "elsewhere with `dot -Tsvg net.dot -o net.svg`")

# fill colours by op family (``Op.family``; PlotNeuralNet's palette, lightened), and for the boxes that are no op
PALETTE = {
    "conv": "#FFE9A8", "dwconv": "#FFF2C7", "upsampling": "#BFDDF5", "pool": "#F6C1BD", "classifier": "#DCC8F0",
    "spatial": "#CDEFE6", "reshape": "#E8E8E8", "io": "#C9E7C9", "output": "#C9E7C9", "block": "#DDE6F3",
}
DEFAULT_COLOR = "#EEEEEE"
SKIP_COLOR = "#D9480F"
SHORTCUT_COLOR = "#1C6DD0"
REF_COLOR = "#8A8A8A"
CLUSTER_FILLS = ("#F7F9FC", "#EDF2F9")


class GraphvizError(ArchError):
    """Graphviz could not draw the diagram: ``archdsl render`` exits 3 (the .dot file is written instead)."""


class GraphvizMissing(GraphvizError):
    """Graphviz's ``dot`` program is not on the PATH (SVG, PNG and PDF need it; DOT and TikZ do not)."""


class GraphvizFailed(GraphvizError):
    """``dot`` ran but failed, or did not finish within DOT_TIMEOUT seconds (a diagram too wide for it)."""


# ---------------------------------------------------------------------------------------------------------
# the diagram model


@dataclass
class Box:
    id: str  # a layer's name, a block's name, or output:NAME
    kind: str  # input, layer, merge, block or output
    layers: list[Layer]  # what it stands for, in order
    title: str  # the op, short: conv 3x3/2, 64
    notes: list[str] = field(default_factory=list)  # folded layers (bn · relu) or a block's contents
    name: str = ""  # the layer or block name shown under the op
    shape: tuple[int, ...] = ()
    params: int = 0
    op: str = ""  # the op that colours it
    clusters: tuple[str, ...] = ()  # enclosing blocks, outermost first


@dataclass
class Edge:
    src: str
    dst: str
    kind: str  # data, skip, shortcut, ref or output
    shape: tuple[int, ...]
    label: bool = False  # show the tensor shape on it


@dataclass
class Diagram:
    name: str
    depth: int | None
    boxes: dict[str, Box]
    edges: list[Edge]
    clusters: dict[str, list[str]]  # block name → its boxes (blocks that hold at least two)
    params: int = 0
    macs: int = 0
    hwc: bool = False
    u_shape: bool = False  # drawn as a U (encoder down, decoder back up)
    up: set[str] = field(default_factory=set)  # the boxes of the way back up, when u_shape

    def layer_count(self) -> int:
        return sum(len(b.layers) for b in self.boxes.values())


def shape_text(shape: tuple[int, ...], hwc: bool = False) -> str:
    """``(64, 56, 56)`` → ``64x56x56`` (``56x56x64`` with hwc); a vector → its length."""
    if hwc and len(shape) == 3:
        shape = (shape[1], shape[2], shape[0])
    return "x".join(str(d) for d in shape)


def color(op: str, default: str | None = None) -> str:
    """A box's fill: its op's family colour; ``output`` and ``block`` (boxes that are no op) their own."""
    cls = REGISTRY.get(op)
    key = cls.family if cls is not None else op  # an op without a family takes the default
    return PALETTE.get(key or "", default or DEFAULT_COLOR)


def op_title(layer: Layer, ins: list[tuple[int, ...]] | None = None) -> str:
    """The op in a few characters, as the papers' figures write it (``Op.title``)."""
    return layer.kind.title(layer.args, ins or [], layer.output_shape)


# ---------------------------------------------------------------------------------------------------------
# building a diagram


class _Graph:
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
            self.refs[x.name] = [self.resolve(i) for i in x.inputs[n_data:n_data + n_refs]]
        self.consumers: dict[str, int] = {x.name: 0 for x in a.layers}
        self.succ: dict[str, list[str]] = {x.name: [] for x in a.layers}
        for x in a.layers:
            if x.name in self.elided:
                continue
            for u in self.data[x.name]:
                self.consumers[u] += 1
            for u in self.data[x.name] + self.refs[x.name]:
                self.succ[u].append(x.name)
        self.parents = _parents(self.by)  # every block name
        self._between: dict[tuple[str, int], set[str]] = {}
        self.budget = WALK_BUDGET  # layers the walks below may still visit

    def resolve(self, name: str) -> str:
        while name in self.elided:
            name = self.by[name].inputs[0]
        return name

    def layers(self):
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


def _edge_kinds(g: _Graph) -> dict[tuple[str, str], str]:
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


def _branch(g: _Graph, u: str) -> tuple[list[str], str]:
    """The chain of single-input, single-consumer layers that ends in ``u`` (latest first), and the layer
    it starts from (the fork)."""
    nodes = []
    while not g.by[u].kind.is_input and len(g.data[u]) == 1 and g.consumers[u] == 1:
        nodes.append(u)
        u = g.data[u][0]
    return nodes, u


def _through_coarser(g: _Graph, fork: str, nodes: list[str], merge: str,
                     coarsest: dict[tuple[str, str], int | None]) -> bool:
    """Whether another path from ``fork`` to ``merge`` passes through a map smaller than both of theirs
    while this branch (``nodes``) does not: it skips across the bottom of an encoder-decoder. The smallest
    map between a fork and a merge is found once for all the branches they share (``coarsest``)."""
    ends = [_area(tuple(g.by[n].output_shape)) for n in (fork, merge)]
    if None in ends:
        return False
    lowest = min(ends)

    def coarser(n: str) -> bool:
        a = _area(tuple(g.by[n].output_shape))
        return a is not None and a < lowest
    if any(coarser(n) for n in nodes):
        return False
    if (fork, merge) not in coarsest:
        areas = [_area(tuple(g.by[n].output_shape)) for n in g.on_paths(fork, merge)]
        coarsest[(fork, merge)] = min((a for a in areas if a is not None), default=None)
    least = coarsest[(fork, merge)]
    return least is not None and least < lowest


class _Jumps:
    """Whether an edge fork → first into ``merge`` reaches past layers, grown from the fork, that were written
    outside the merge's group (its own, or the group it stands in when it has none: Inception-ResNet's
    unlabelled concat of labelled branches). Each fork's stretch is walked once for all its branches."""

    def __init__(self, g: _Graph, merge: str, edges: list[tuple[str, str]]):
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
            self.outside[fork] = min((g.order[x] for x in grown if not x.startswith(self.scope)),
                                     default=len(g.order))
        return self.outside[fork] < self.g.order[first]


def _prefix(name: str, depth: int | None) -> str:
    return report.prefix(name, depth)


def _outputs(obj: Any, a: Analysis) -> dict[str, str]:
    """Output name → the layer that gives it: from the Net's graph, or guessed for a bare Analysis (the
    layers nothing consumes, matched to the outputs in order by shape)."""
    graph = getattr(obj, "graph", None)
    if graph is not None and "outputs" in graph.graph:
        return dict(graph.graph["outputs"])
    used = {i for x in a.layers for i in x.inputs}
    sinks = [x for x in a.layers if x.name not in used]
    out: dict[str, str] = {}
    for key, shape in a.outputs.items():
        match = next((x for x in sinks if x.name == key), None) or \
            next((x for x in sinks if tuple(x.output_shape) == tuple(shape) and x.name not in out.values()), None)
        if match is not None:
            out[key] = match.name
    return out


def _analysis(obj: Any) -> Analysis:
    if isinstance(obj, Analysis):
        return obj
    if hasattr(obj, "analyze"):
        return obj.analyze()
    raise TypeError(f"expected an archdsl Net or Analysis, got {type(obj).__name__}")


def diagram(obj: Any, depth: int | str | None = "auto", fold: bool | None = None, hwc: bool = False,
            layout: str = "auto") -> Diagram:
    """The diagram of a Net (or an Analysis) at ``depth``: ``"auto"`` (the deepest naming level that keeps
    about MAX_BOXES boxes), ``None``/``"all"`` (every layer), or a naming level (1 = top-level blocks).

    ``fold`` draws bn, activations and dropout inside the box of the layer before them; by default it is on
    for the automatic depth and off otherwise (so ``depth="all"`` gives one box per layer). ``layout`` is
    ``"auto"`` (a U for encoder-decoders with skips across), ``"u"`` or ``"chain"``."""
    a = _analysis(obj)
    outputs = _outputs(obj, a)
    g = _Graph(a)
    kinds = _edge_kinds(g)
    if depth == "auto":
        depth = auto_depth(a, fold=True if fold is None else fold, _g=g, _outputs=outputs)
        fold = True if fold is None else fold
    elif depth == "all":
        depth = None
    elif depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be 'auto', 'all', None or a number >= 1, not {depth!r}")
    if depth is not None and depth >= max(len(x.name.split(".")) for x in a.layers):
        depth = None  # as deep as the names go: every layer
    d = _build(g, kinds, outputs, depth, bool(fold), hwc)
    if layout not in ("auto", "u", "chain"):
        raise ValueError(f"layout must be 'auto', 'u' or 'chain', not {layout!r}")
    if layout != "chain":
        _u_layout(d, g, force=layout == "u")
    return d


def auto_depth(a: Analysis, fold: bool = True, max_boxes: int = MAX_BOXES, _g: _Graph | None = None,
               _outputs: dict[str, str] | None = None) -> int | None:
    """The deepest naming level whose diagram has at most ``max_boxes`` boxes (at least level 1); None
    (every layer) when the whole network fits."""
    g = _g or _Graph(a)
    outputs = _outputs if _outputs is not None else _outputs_guess(a)
    deepest = max(len(x.name.split(".")) for x in a.layers)
    if _count(g, outputs, None, fold) <= max_boxes:
        return None
    best = 1
    for depth in range(1, deepest + 1):
        if _count(g, outputs, depth, fold) <= max_boxes:
            best = depth
    return best


def _outputs_guess(a: Analysis) -> dict[str, str]:
    return _outputs(None, a)


def _count(g: _Graph, outputs: dict[str, str], depth: int | None, fold: bool) -> int:
    groups = _groups(g, depth)
    if not fold:
        return len(groups)
    return len(set(_fold_map(g, groups, outputs).values()))


def _groups(g: _Graph, depth: int | None) -> dict[str, list[Layer]]:
    """Box id → its layers: every layer on its own above ``depth``, a block's layers together below."""
    by_key: dict[str, list[Layer]] = {}
    for x in g.layers():
        by_key.setdefault(_prefix(x.name, depth), []).append(x)
    return {(v[0].name if len(v) == 1 else k): v for k, v in by_key.items()}


def _parents(ids) -> set[str]:
    """Every proper prefix of the names: the blocks that hold something."""
    out = set()
    for name in ids:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


def _cluster_path(box: str, parents: set[str]) -> tuple[str, ...]:
    """The blocks a box sits in, outermost first: the prefixes of its name, and the box's own name when it is
    a merge whose block holds other boxes (a residual's ``+`` named ``layer1.0`` sits in block layer1.0)."""
    parts = box.split(".")
    path = [".".join(parts[:i]) for i in range(1, len(parts))]
    if box in parents:
        path.append(box)
    return tuple(path)


def _fold_map(g: _Graph, groups: dict[str, list[Layer]], outputs: dict[str, str]) -> dict[str, str]:
    """Box id → the box it is drawn in: a foldable layer joins the box of the layer before it when that
    layer feeds nothing else, is not an output, and sits in the same block."""
    parents = _parents(groups)
    singles = {k for k, v in groups.items() if len(v) == 1}
    out_nodes = set(outputs.values())
    referenced = {r for refs in g.refs.values() for r in refs}  # crop(@x): x's own box keeps x's shape
    target: dict[str, str] = {}
    for k, layers in groups.items():
        target[k] = k
        if k not in singles:
            continue
        x = layers[0]
        if not x.kind.pointwise or len(g.data[x.name]) != 1 or g.refs[x.name]:
            continue
        u = g.data[x.name][0]
        if u not in singles or g.by[u].kind.is_input or g.consumers[u] != 1 or u in out_nodes:
            continue
        if _cluster_path(u, parents) != _cluster_path(k, parents) or u in referenced:
            continue
        target[k] = target[u]
    return target


def _build(g: _Graph, kinds: dict[tuple[str, str], str], outputs: dict[str, str], depth: int | None, fold: bool,
           hwc: bool) -> Diagram:
    a = g.a
    groups = _groups(g, depth)
    target = _fold_map(g, groups, outputs) if fold else {k: k for k in groups}
    box_of_layer = {x.name: target[k] for k, v in groups.items() for x in v}
    rows = {r[0]: r for r in report.rows(a, depth)} if depth is not None else {}
    boxes: dict[str, Box] = {}
    for k, layers in groups.items():
        t = target[k]
        if t != k:  # folded into an earlier box
            box = boxes[t]
            box.layers += layers
            box.params += sum(x.params for x in layers)
            box.notes.append(layers[0].kind.note(layers[0].args))
            box.shape = tuple(layers[-1].output_shape)
            continue
        boxes[k] = _box(g, k, layers, rows)
    parents = _parents(boxes)
    for box in boxes.values():
        box.clusters = _cluster_path(box.id, parents)
        act = box.layers[0].args.get("act", "none") if box.kind == "merge" else "none"
        if act != "none" and act not in box.notes:  # a merge's own activation (add(act=relu)) is a note
            box.notes.insert(0, act)

    edges: dict[tuple[str, str], Edge] = {}
    for x in g.layers():
        v = box_of_layer[x.name]
        for u in g.data[x.name]:
            bu = box_of_layer[u]
            if bu == v:
                continue
            kind = kinds.get((u, x.name), "data")
            e = edges.get((bu, v))
            if e is None:
                edges[(bu, v)] = Edge(bu, v, kind, tuple(g.by[u].output_shape))
            elif e.kind != "data" and kind == "data":
                e.kind = "data"  # a block entered both by its chain and by its shortcut: a plain edge
    for x in g.layers():
        v = box_of_layer[x.name]
        for u in g.refs[x.name]:
            bu = box_of_layer[u]
            if bu != v and (bu, v) not in edges:
                edges[(bu, v)] = Edge(bu, v, "ref", tuple(g.by[u].output_shape))
    for e in edges.values():
        dst = boxes[e.dst]
        e.label = e.kind in ("skip", "shortcut") or (dst.kind == "merge" and dst.layers[0].kind.shows_inputs)
    out_edges = []
    for name, node in outputs.items():
        node = g.resolve(node)
        box = Box(id=f"output:{name}", kind="output", layers=[], title=name, shape=tuple(g.by[node].output_shape),
                  op="output")
        boxes[box.id] = box
        out_edges.append(Edge(box_of_layer[node], box.id, "output", box.shape))

    clusters: dict[str, list[str]] = {}
    for box in boxes.values():
        for c in box.clusters:
            clusters.setdefault(c, []).append(box.id)
    clusters = {c: v for c, v in clusters.items() if len(v) >= 2}
    # a block holding exactly what one block inside it holds adds nothing: keep the inner one
    redundant = set()
    for inner, held in clusters.items():
        outer = _enclosing(inner, clusters)  # boxes in an inner block are in each block around it too
        while outer is not None and len(clusters[outer]) == len(held):
            redundant.add(outer)
            outer = _enclosing(outer, clusters)
    for c in redundant:
        del clusters[c]
    for box in boxes.values():
        box.clusters = tuple(c for c in box.clusters if c in clusters)
        if box.kind == "block" and box.clusters:  # inside its frame, a block is named by its own part
            own = box.id[len(box.clusters[-1]) + 1:]
            if not own.rpartition(".")[2].isdigit():
                if box.op == "block":
                    box.title = own
                else:
                    box.name = own
    return Diagram(a.name, depth, boxes, list(edges.values()) + out_edges, clusters, a.totals.params, a.totals.macs,
                   hwc)


def _enclosing(name: str, blocks) -> str | None:
    """The innermost of ``blocks`` that holds block ``name`` (a proper prefix of its name), or None."""
    parts = name.split(".")
    return next((p for p in (".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)) if p in blocks), None)


def _box(g: _Graph, k: str, layers: list[Layer], rows: dict[str, tuple[str, ...]]) -> Box:
    if len(layers) == 1:
        x = layers[0]
        ins = [tuple(g.by[i].output_shape) for i in g.data[x.name]]
        kind = "input" if x.kind.is_input else "merge" if x.kind.merge else "layer"
        last = x.name.rsplit(".", 1)[-1]
        # a layer's own label is worth showing (conv1, downsample), a position (features.3) is not
        name = "" if last.isdigit() or kind in ("merge", "input") else last
        return Box(id=x.name, kind=kind, layers=[x], title=op_title(x, ins), name=name,
                   shape=tuple(x.output_shape), params=x.params, op=x.op)
    # a rolled-up block: its output is its own node's (a residual's sum, a concat) or else its last layer's
    last = next((x for x in layers if x.name == k), layers[-1])
    major = [x for x in layers if not x.kind.pointwise]
    params = sum(x.params for x in layers)
    if len(major) == 1 and major[0] is layers[0]:
        # conv + bn + relu as a block (Inception v3's BasicConv2d): draw it as the conv it is
        x = major[0]
        ins = [tuple(g.by[i].output_shape) for i in g.data[x.name]]
        return Box(id=k, kind="block", layers=list(layers), title=op_title(x, ins),
                   notes=[y.kind.note(y.args) for y in layers[1:]], name=k, shape=tuple(last.output_shape),
                   params=params, op=x.op)
    row = rows.get(k)
    summary = row[report.COLUMNS.index("op")] if row else f"[{len(layers)} layers]"
    return Box(id=k, kind="block", layers=list(layers), title=k, notes=[summary], name="",
               shape=tuple(last.output_shape), params=params, op="block")


# ---------------------------------------------------------------------------------------------------------
# the U of encoder-decoders


def _area(shape: tuple[int, ...]) -> int | None:
    return shape[1] * shape[2] if len(shape) == 3 else None


def _u_layout(d: Diagram, g: _Graph, force: bool = False) -> None:
    """Mark the way back up of an encoder-decoder: every box downstream of the first upsampling box, when
    skip connections cross from the way down into it. Those boxes are then ranked upwards."""
    order = list(d.boxes)
    ups = [b for b in order if d.boxes[b].kind != "output" and _upsamples(d.boxes[b], g)]
    if not ups:
        return
    succ: dict[str, list[str]] = {}
    for e in d.edges:
        if e.kind != "output":
            succ.setdefault(e.src, []).append(e.dst)
    up: set[str] = set()
    stack = [ups[0]]
    while stack:
        b = stack.pop()
        if b in up:
            continue
        up.add(b)
        stack.extend(succ.get(b, []))
    crossing = [e for e in d.edges if e.kind == "skip" and e.src not in up and e.dst in up]
    if not crossing and not force:
        return
    d.u_shape = True
    d.up = up


def _upsamples(box: Box, g: _Graph) -> bool:
    for x in box.layers:
        if x.kind.upsampling:
            ins = g.data[x.name]
            a_in, a_out = _area(tuple(g.by[ins[0]].output_shape)) if ins else None, _area(tuple(x.output_shape))
            if a_in and a_out and a_out > a_in:
                return True
    return False


# ---------------------------------------------------------------------------------------------------------
# DOT


def printable(text: Any) -> str:
    """The text with each control character (a newline, an escape, DEL, C1) as '?': a name from a spec or a
    file name cannot end a comment, break a label or reach the terminal."""
    return _CONTROL.sub("?", str(text))


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    """Printable text of at most ``limit`` characters, ending in '…' when cut."""
    text = printable(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def notes_text(notes: list[str]) -> str:
    """The layers folded into a box, in one line: ``bn · relu``; a run of one counted (``relu ×6000``)."""
    runs: list[list[Any]] = []
    for note in notes:
        if runs and runs[-1][0] == note:
            runs[-1][1] += 1
        else:
            runs.append([note, 1])
    return clip(" · ".join(note if n == 1 else f"{note} ×{n}" for note, n in runs))


def _esc(text: str) -> str:
    return html.escape(clip(text), quote=True)


def _q(text: str) -> str:
    text = printable(text)
    if len(text) > MAX_ID:  # cut, with a digest of the whole so that two long names stay two ids
        text = text[:MAX_ID - 9] + "~" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(box: Box, hwc: bool) -> str:
    """An HTML-like label: the op in bold, folded layers small, the name grey, the output shape."""
    parts = [f"<b>{_esc(box.title)}</b>"]
    if box.notes:
        parts.append(f'<font point-size="8">{_esc(notes_text(box.notes))}</font>')
    if box.kind == "block" and box.name:
        parts.append(f'<font point-size="8" color="#555555">{_esc(box.name)}</font>')
    elif box.name:
        parts.append(f'<font point-size="8" color="#555555"><i>{_esc(box.name)}</i></font>')
    if box.kind == "block":
        parts.append(f'<font point-size="8">{box.params:,} params</font>')
    if box.shape:
        parts.append(f'<font point-size="9">{_esc(shape_text(box.shape, hwc))}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _attrs(**kw: Any) -> str:
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, str) and v.startswith("<") and v.endswith(">"):
            out.append(f"{k}={v}")
        else:
            out.append(f"{k}={_q(v)}")
    return "[" + " ".join(out) + "]"


def _node_line(box: Box, hwc: bool) -> str:
    cls = {"layer": f"layer {box.op}", "merge": f"layer merge {box.op}", "input": "layer input", "output": "output",
           "block": "block" if box.op == "block" else f"block {box.op}"}[box.kind]
    attrs: dict[str, Any] = dict(id=f"node:{box.id}", **{"class": cls}, label=_label(box, hwc),
                                 fillcolor=color(box.op))
    if box.kind == "merge":
        attrs.update(shape="ellipse", fillcolor="#FFFFFF", margin="0.02,0.02")
    elif box.kind == "block":  # box3d: several layers in one box (coloured as its op when it is one op + bn/relu)
        attrs.update(shape="box3d", style="filled", fillcolor=color(box.op, PALETTE["block"]))
    elif box.kind == "output":
        attrs.update(style="rounded,filled,bold", label=f"<<b>{_esc(box.title)}</b><br/>"
                     f'<font point-size="9">{_esc(shape_text(box.shape, hwc))}</font>>')
    layers = ", ".join(x.name for x in box.layers) if box.kind != "output" else f"output {box.title}"
    attrs["tooltip"] = layers if len(layers) < 400 else layers[:400] + " ..."
    return f"{_q(box.id)} {_attrs(**attrs)};"


def to_dot(d: Diagram, rankdir: str = "TB") -> str:
    """The diagram as DOT text: nodes with ids ``node:NAME`` and classes (``layer conv``, ``layer merge
    residual``, ``block``, ``output``), clusters with ids ``cluster:NAME``, edges with ids ``edge:SRC:DST``
    and classes ``data``, ``skip``, ``shortcut``, ``ref``, ``output`` (Graphviz copies ids and classes into
    the SVG)."""
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB or LR, not {rankdir!r}")
    title = f"{d.name}: {d.params:,} params, {d.macs:,} MACs"
    if d.depth is not None:
        title += f" (blocks rolled up at depth {d.depth})"
    graph = _attrs(rankdir=rankdir, label=title, labelloc="t", fontname="Helvetica", fontsize="14", nodesep="0.25",
                   ranksep="0.3", newrank="true", id="graph:" + d.name)
    lines = [f"digraph {_q(d.name)} {{",
             f"  graph {graph};",
             "  node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10 margin=\"0.1,0.04\" "
             "color=\"#555555\" penwidth=0.8];",
             "  edge [fontname=\"Helvetica\" fontsize=8 color=\"#555555\" arrowsize=0.6 penwidth=0.9];"]
    # the boxes, nested in their clusters
    tree: dict[str | None, list[str]] = {}
    for c in d.clusters:
        tree.setdefault(_enclosing(c, d.clusters), []).append(c)
    direct: dict[str | None, list[Box]] = {}
    for box in d.boxes.values():
        direct.setdefault(box.clusters[-1] if box.clusters else None, []).append(box)

    def emit(c: str | None, indent: str, level: int) -> None:
        if c is not None:
            lines.append(f"{indent}subgraph {_q('cluster_' + c)} {{")
            attrs = _attrs(id="cluster:" + c, **{"class": "block"}, label=c, style="rounded,filled",
                           fillcolor=CLUSTER_FILLS[level % 2], color="#8FA3BF", fontname="Helvetica", fontsize="10",
                           labeljust="l", margin="8")
            lines.append(f"{indent}  graph {attrs};")
            indent += "  "
        for box in direct.get(c, []):
            lines.append(f"{indent}{_node_line(box, d.hwc)}")
        for child in tree.get(c, []):
            emit(child, indent, level + 1)
        if c is not None:
            lines.append(indent[:-2] + "}")

    emit(None, "  ", -1)
    for e in d.edges:
        lines.append("  " + _edge_line(d, e))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge_line(d: Diagram, e: Edge) -> str:
    attrs: dict[str, Any] = {"id": f"edge:{e.src}:{e.dst}", "class": e.kind}
    if e.label:
        attrs["label"] = " " + shape_text(e.shape, d.hwc)
    if e.kind == "skip":
        attrs.update(style="dashed", color=SKIP_COLOR, fontcolor=SKIP_COLOR, penwidth="1.3")
    elif e.kind == "shortcut":
        attrs.update(style="dashed", color=SHORTCUT_COLOR, fontcolor=SHORTCUT_COLOR, penwidth="1.3")
    elif e.kind == "ref":
        attrs.update(style="dotted", color=REF_COLOR, arrowhead="empty", constraint="false", label=" size")
    src, dst = e.src, e.dst
    if d.u_shape:
        up_src, up_dst = src in d.up, dst in d.up
        if up_src and up_dst or (up_dst and not up_src and e.kind == "data"):
            # the way back up: ranked upwards (the edge is laid out reversed and drawn pointing back)
            src, dst = dst, src
            attrs["dir"] = "back"
        elif up_dst and not up_src and e.kind in ("skip", "ref"):
            # across the U: the same rank on both sides
            attrs.update(constraint="false" if e.kind == "ref" else "true", minlen="0", weight="4")
        elif e.kind == "output" and up_src:
            src, dst = dst, src
            attrs["dir"] = "back"
    return f"{_q(src)} -> {_q(dst)} {_attrs(**attrs)};"


# ---------------------------------------------------------------------------------------------------------
# running dot


def dot_program() -> str | None:
    return shutil.which("dot")


def run_dot(dot_text: str, fmt: str, timeout: float | None = None) -> bytes:
    """``dot -T<fmt>`` on the text; GraphvizMissing when dot is not installed, GraphvizFailed when it fails or
    runs past ``timeout`` seconds (DOT_TIMEOUT by default)."""
    exe = dot_program()
    if exe is None:
        raise GraphvizMissing("Graphviz's `dot` program is not installed (SVG, PNG and PDF need it)", None,
                              INSTALL_HINT)
    limit = DOT_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"Graphviz's dot did not finish within {limit:g} s", None, TOO_BIG_HINT) from None
    if proc.returncode != 0:
        said = clip(" ".join(proc.stderr.decode(errors="replace").split()), 300)
        raise GraphvizFailed(f"dot -T{fmt} failed: {said}", None, TOO_BIG_HINT)
    return proc.stdout


def svg(obj: Any, depth: int | str | None = "auto", rankdir: str = "TB", hwc: bool = False,
        fold: bool | None = None, layout: str = "auto") -> str:
    """The diagram as SVG text (for notebooks: ``Net._repr_svg_``). Raises GraphvizMissing without dot."""
    d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
    return run_dot(to_dot(d, rankdir), "svg").decode()


def repr_svg(obj: Any) -> str | None:
    """``_repr_svg_``: the SVG, or None (the notebook then shows the next representation) without dot."""
    if dot_program() is None:
        return None
    return svg(obj)


def html_table(a: Any, depth: int | str | None = "auto") -> str:
    """``_repr_html_``: the report's rows (at the report's automatic depth) as a plain HTML table."""
    a = _analysis(a)
    if depth == "auto":
        depth = report.auto_depth(a)
    elif depth == "all":
        depth = None
    numeric = {"params", "MACs", "activations"}
    head = "".join(f"<th style=\"text-align:{'right' if c in numeric else 'left'}\">{_esc(c)}</th>"
                   for c in report.COLUMNS)
    body = []
    for row in report.rows(a, depth):
        cells = "".join(f"<td style=\"text-align:{'right' if c in numeric else 'left'}\">{_esc(v)}</td>"
                        for c, v in zip(report.COLUMNS, row))
        body.append(f"<tr>{cells}</tr>")
    caption = _esc(a.name) + ("" if depth is None else f" (blocks rolled up at depth {depth})")
    foot = "".join(f"<li>{_esc(line)}</li>" for line in report.summary_lines(a))
    return (f'<table class="archdsl-report"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table><ul>{foot}</ul>")


def render(obj: Any, path: str | Path, depth: int | str | None = "auto", rankdir: str = "TB", hwc: bool = False,
           fold: bool | None = None, layout: str = "auto") -> Diagram:
    """Write the diagram of a Net (or Analysis) to ``path`` and return it; the format is the suffix: .svg, .png,
    .pdf (these run Graphviz's dot), .dot or .tex (TikZ). See :func:`diagram` for the other arguments.

    Without Graphviz, an .svg/.png/.pdf request still writes the .dot file beside it and then raises
    GraphvizMissing (its hint says how to install Graphviz)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ArchError(f"cannot render to '{path.suffix or path.name}'", None,
                        "name the output .svg, .png, .pdf, .dot or .tex")
    d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
    from . import output
    if fmt == "tex":
        from .tikz import to_tikz
        output.write_text(path, to_tikz(d))
        return d
    text = to_dot(d, rankdir)
    if fmt == "dot":
        output.write_text(path, text)
        return d
    try:
        output.write_bytes(path, run_dot(text, fmt))
    except GraphvizError as err:
        raise type(err)(f"{err.message}, so {printable(path)} was not written; {_fallback(path, text)}", None,
                        err.hint) from None
    return d


def _fallback(path: Path, text: str) -> str:
    """Write the DOT source beside ``path`` when dot cannot draw it, unless that would replace a file
    archdsl did not write; say which."""
    from . import output
    dot = path.with_suffix(".dot")
    if dot.exists() and not output.ours(dot):
        return f"{printable(dot)} exists and archdsl did not write it, so the .dot source was not written either"
    output.write_text(dot, text)
    return f"wrote {printable(dot)} instead"


# ---------------------------------------------------------------------------------------------------------
# the command


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``archdsl render`` to an argparse subparsers object."""
    r = sub.add_parser("render", help="draw the network: SVG, PNG or PDF (with Graphviz), DOT, or TikZ (.tex)",
                       description="Draw the network as a diagram. The format is the output's suffix: .svg, .png, "
                       ".pdf (these need Graphviz's dot program), .dot (Graphviz source) or .tex (a TikZ "
                       "picture in the PlotNeuralNet style, for pdflatex).")
    from .cli import spec_arguments
    spec_arguments(r)
    r.add_argument("-o", "--output", help="the file to write: .svg, .png, .pdf, .dot or .tex (default: NAME.svg)")
    r.add_argument("--depth", default="auto", help="roll blocks up to this naming level: a number (1 = top-level "
                   "blocks, 2 = layer1.0, ...), 'all' for one box per layer, or 'auto' (default: the deepest level "
                   f"that fits in about {MAX_BOXES} boxes, with bn and activations folded into their layer)")
    r.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (default) or left to right")
    r.add_argument("--hwc", action="store_true", help="write shapes HxWxC (as the papers' figures do), not CxHxW")
    fold = r.add_mutually_exclusive_group()
    fold.add_argument("--fold", dest="fold", action="store_true", default=None,
                      help="draw bn, activations and dropout inside the box of the layer before them "
                      "(the default with --depth auto)")
    fold.add_argument("--no-fold", dest="fold", action="store_false", help="one box per layer, bn and relu too")
    r.add_argument("--layout", choices=("auto", "u", "chain"), default="auto",
                   help="'u' draws an encoder-decoder as a U, the decoder climbing back up beside the encoder "
                   "(auto: when skip connections cross from one to the other); 'chain' never does")
    from .output import force_argument
    force_argument(r)
    r.set_defaults(func=cmd_render)
    return r


def cmd_render(args) -> int:
    """``archdsl render``: 0 written, 1 the spec is wrong (raised as ArchError), 2 a usage error, 3 Graphviz's
    dot is missing, failed or ran out of time for SVG/PNG/PDF (the .dot file is written instead)."""
    import sys

    from .options import UsageError
    try:
        return _render_command(args)
    except UsageError as err:  # also when called without archdsl.cli's main (its handler says the same)
        from .cli import _one_line
        print(f"archdsl render: error: {_one_line(str(err))}", file=sys.stderr)
        return 2


def _render_command(args) -> int:
    import sys

    from . import output
    from .cli import _load
    from .options import UsageError, shown
    from .options import depth as read_depth
    depth = read_depth(args.depth)
    if args.output and Path(args.output).suffix.lower().lstrip(".") not in FORMATS:
        raise UsageError(f"writes .svg, .png, .pdf, .dot or .tex, not {shown(Path(args.output).name)}")
    if args.output:
        output.check(args.output, inputs=[args.spec], force=args.force)
    net = _load(args)
    out = output.check(args.output or f"{net.name}.svg", inputs=[args.spec], force=args.force)
    try:
        d = render(net, out, depth=depth, rankdir=args.rankdir, hwc=args.hwc, fold=args.fold, layout=args.layout)
    except GraphvizError as err:
        from .cli import _error_text
        print(f"error: {_error_text(err)}", file=sys.stderr)
        return 3
    drawn = "every layer" if d.depth is None else f"blocks rolled up at depth {d.depth}"
    boxes = sum(1 for b in d.boxes.values() if b.kind != "output")
    print(f"wrote {printable(out)} ({boxes} boxes for {d.layer_count()} layers, {drawn})")
    return 0
