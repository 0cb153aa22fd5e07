"""The diagram of a network, drawn from the graph's names and the Analysis alone (no torch): boxes
and edges, built by :func:`diagram`.

- a box is one layer, several layers folded into one (``conv 3x3, 64`` with ``bn · relu`` under it), or
  a whole block rolled up at ``depth`` (its name, what it holds, its parameters and output shape);
- blocks above ``depth`` are clusters labelled with the block's name;
- residual shortcuts and skip connections (an input of a merge that bypasses the other branches: an
  identity, a crop, or a reference to a layer far back) are dashed edges with their tensor's shape
  (found by :mod:`archdsl.views.skips`);
- a crop's or resize's reference (``crop(@down1)``) is a dotted edge that lends only its size;
- every output of the network ends in an output box of its own.

:mod:`archdsl.views.layout` draws an encoder-decoder as a U; :mod:`archdsl.views.dot` writes DOT and runs
Graphviz, :mod:`archdsl.views.tikz` writes TikZ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import printable
from ..ir.analysis import Analysis, Layer
from ..limits import MAX_BOXES, MAX_TEXT
from ..ops import REGISTRY
from . import report, skips
from .layout import u_layout
from .skips import LayerGraph, edge_kinds

# fill colours by op family (``Op.family``; PlotNeuralNet's palette, lightened), and for the boxes that are no op
PALETTE = {
    "conv": "#FFE9A8",
    "dwconv": "#FFF2C7",
    "upsampling": "#BFDDF5",
    "pool": "#F6C1BD",
    "classifier": "#DCC8F0",
    "spatial": "#CDEFE6",
    "reshape": "#E8E8E8",
    "io": "#C9E7C9",
    "output": "#C9E7C9",
    "block": "#DDE6F3",
}
DEFAULT_COLOR = "#EEEEEE"
SKIP_COLOR = "#D9480F"
SHORTCUT_COLOR = "#1C6DD0"
REF_COLOR = "#8A8A8A"
DENSE_COLOR = "#2F9E44"
CLUSTER_FILLS = ("#F7F9FC", "#EDF2F9")


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
    rows: int = 1  # of its shape, per image: R for one row per region (after RoI pooling)
    clusters: tuple[str, ...] = ()  # enclosing blocks, outermost first
    count: int = 1  # the blocks it stands for: N for a stack drawn once, ×N


@dataclass
class Edge:
    src: str
    dst: str
    kind: str  # data, skip, shortcut, ref or output
    shape: tuple[int, ...]
    label: bool = False  # show the tensor shape on it
    rows: int = 1  # of its shape, per image: R for one row per region


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
    repeats: dict[str, int] = field(default_factory=dict)  # a frame of numbered blocks → how many: layer3 ×36

    def layer_count(self) -> int:
        return sum(len(b.layers) for b in self.boxes.values())


def shape_text(shape: tuple[int, ...], hwc: bool = False, rows: int = 1) -> str:
    """``(64, 56, 56)`` → ``64x56x56`` (``56x56x64`` with hwc); a vector → its length."""
    if hwc and len(shape) == 3:
        shape = (shape[1], shape[2], shape[0])
    return ("R×" if rows > 1 else "") + "x".join(str(d) for d in shape)


def color(op: str, default: str | None = None) -> str:
    """A box's fill: its op's family colour; ``output`` and ``block`` (boxes that are no op) their own."""
    cls = REGISTRY.get(op)
    key = cls.family if cls is not None else op  # an op without a family takes the default
    return PALETTE.get(key or "", default or DEFAULT_COLOR)


def op_title(layer: Layer, ins: list[tuple[int, ...]] | None = None) -> str:
    """The op in a few characters, as the papers' figures write it (``Op.title``)."""
    return layer.kind.title(layer.args, ins or [], layer.output_shape)


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    """Printable text on one line, of at most ``limit`` characters, ending in '…' when cut."""
    text = printable(text, one_line=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notes_text(notes: list[str]) -> str:
    """The layers folded into a box, in one line: ``bn · relu``; a run of one counted (``relu ×6000``)."""
    runs: list[list[Any]] = []
    for note in notes:
        if runs and runs[-1][0] == note:
            runs[-1][1] += 1
        else:
            runs.append([note, 1])
    return clip(" · ".join(note if n == 1 else f"{note} ×{n}" for note, n in runs))


# ---------------------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------------------
# building a diagram


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
        match = next((x for x in sinks if x.name == key), None) or next(
            (x for x in sinks if tuple(x.output_shape) == tuple(shape) and x.name not in out.values()), None
        )
        if match is not None:
            out[key] = match.name
    return out


def analysis_of(obj: Any) -> Analysis:
    if isinstance(obj, Analysis):
        return obj
    if hasattr(obj, "analyze"):
        return obj.analyze()
    raise TypeError(f"expected an archdsl Net or Analysis, got {type(obj).__name__}")


def diagram(
    obj: Any,
    depth: int | str | None = "auto",
    fold: bool | None = None,
    hwc: bool = False,
    layout: str = "auto",
    reshapes: bool = False,
) -> Diagram:
    """The diagram of a Net (or an Analysis) at ``depth``: ``"auto"`` (the deepest naming level that keeps
    about MAX_BOXES boxes), ``None``/``"all"`` (every layer), or a naming level (1 = top-level blocks).

    ``fold`` draws bn, activations and dropout inside the box of the layer before them; by default it is on
    for the automatic depth and off otherwise (so ``depth="all"`` gives one box per layer). ``layout`` is
    ``"auto"`` (a U for encoder-decoders with skips across), ``"u"`` or ``"chain"``. ``reshapes`` folds flatten,
    permute and reshape too (a slide's diagram: SSD's heads are one box each, ``conv 3x3, 364`` with
    ``permute · reshape``)."""
    a = analysis_of(obj)
    outputs = _outputs(obj, a)
    g = LayerGraph(a)
    kinds = edge_kinds(g)
    if depth == "auto":
        depth = auto_depth(a, fold=True if fold is None else fold, _g=g, _outputs=outputs, _reshapes=reshapes)
        fold = True if fold is None else fold
    elif depth == "all":
        depth = None
    elif depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be 'auto', 'all', None or a number >= 1, not {depth!r}")
    if depth is not None and depth >= max(len(x.name.split(".")) for x in a.layers):
        depth = None  # as deep as the names go: every layer
    d = _build(g, kinds, outputs, depth, bool(fold), hwc, reshapes)
    if layout not in ("auto", "u", "chain"):
        raise ValueError(f"layout must be 'auto', 'u' or 'chain', not {layout!r}")
    if layout != "chain":
        u_layout(d, g, force=layout == "u")
    return d


def auto_depth(
    a: Analysis,
    fold: bool = True,
    max_boxes: int = MAX_BOXES,
    _g: LayerGraph | None = None,
    _outputs: dict[str, str] | None = None,
    _reshapes: bool = False,
) -> int | None:
    """The deepest naming level whose diagram has at most ``max_boxes`` boxes (at least level 1); None
    (every layer) when the whole network fits."""
    g = _g or LayerGraph(a)
    outputs = _outputs if _outputs is not None else _outputs_guess(a)
    deepest = max(len(x.name.split(".")) for x in a.layers)
    if _count(g, outputs, None, fold, _reshapes) <= max_boxes:
        return None
    best = 1
    for depth in range(1, deepest + 1):
        if _count(g, outputs, depth, fold, _reshapes) <= max_boxes:
            best = depth
    return best


def levels(a: Analysis, fold: bool = True, max_boxes: int = MAX_BOXES, reshapes: bool = False) -> list[int | None]:
    """The naming levels whose diagram has at most ``max_boxes`` boxes, deepest first: None (every layer),
    then the deepest level of names above the layers', down to 1."""
    g = LayerGraph(a)
    outputs = _outputs_guess(a)
    deepest = max(len(x.name.split(".")) for x in a.layers)
    out: list[int | None] = []
    for depth in [None, *range(deepest - 1, 0, -1)]:
        if _count(g, outputs, depth, fold, reshapes) <= max_boxes:
            out.append(depth)
    return out


def _outputs_guess(a: Analysis) -> dict[str, str]:
    return _outputs(None, a)


def _count(g: LayerGraph, outputs: dict[str, str], depth: int | None, fold: bool, reshapes: bool = False) -> int:
    groups = _groups(g, depth)
    if not fold:
        return len(groups)
    return len(set(_fold_map(g, groups, outputs, reshapes).values()))


def _groups(g: LayerGraph, depth: int | None) -> dict[str, list[Layer]]:
    """Box id → its layers: every layer on its own above ``depth``, a block's layers together below."""
    by_key: dict[str, list[Layer]] = {}
    for x in g.layers():
        by_key.setdefault(_prefix(x.name, depth), []).append(x)
    return {(v[0].name if len(v) == 1 else k): v for k, v in by_key.items()}


def _cluster_path(box: str, parents: set[str]) -> tuple[str, ...]:
    """The blocks a box sits in, outermost first: the prefixes of its name, and the box's own name when it is
    a merge whose block holds other boxes (a residual's ``+`` named ``layer1.0`` sits in block layer1.0)."""
    parts = box.split(".")
    path = [".".join(parts[:i]) for i in range(1, len(parts))]
    if box in parents:
        path.append(box)
    return tuple(path)


def _fold_map(
    g: LayerGraph, groups: dict[str, list[Layer]], outputs: dict[str, str], reshapes: bool = False
) -> dict[str, str]:
    """Box id → the box it is drawn in: a foldable layer (pointwise; with ``reshapes``, flatten, permute and
    reshape too) joins the box of the layer before it when that layer feeds nothing else, is not an output,
    and sits in the same block (a reshape may leave its block: SSD's permutes follow the head's convs)."""
    parents = skips.parents(groups)
    singles = {k for k, v in groups.items() if len(v) == 1}
    out_nodes = set(outputs.values())
    referenced = {r for refs in g.refs.values() for r in refs}  # crop(@x): x's own box keeps x's shape
    target: dict[str, str] = {}
    for k, layers in groups.items():
        target[k] = k
        if k not in singles:
            continue
        x = layers[0]
        reshape = reshapes and x.kind.minor and x.kind.family == "reshape"
        if not (x.kind.pointwise or reshape) or len(g.data[x.name]) != 1 or g.refs[x.name]:
            continue
        u = g.data[x.name][0]
        if u not in singles or g.by[u].kind.is_input or g.consumers[u] != 1 or u in out_nodes:
            continue
        if (_cluster_path(u, parents) != _cluster_path(k, parents) and not reshape) or u in referenced:
            continue
        target[k] = target[u]
    return target


def _build(
    g: LayerGraph,
    kinds: dict[tuple[str, str], str],
    outputs: dict[str, str],
    depth: int | None,
    fold: bool,
    hwc: bool,
    reshapes: bool = False,
) -> Diagram:
    a = g.a
    groups = _groups(g, depth)
    target = _fold_map(g, groups, outputs, reshapes) if fold else {k: k for k in groups}
    box_of_layer = {x.name: target[k] for k, v in groups.items() for x in v}
    boxes = _boxes(g, groups, target, depth)
    edges = _edges(g, kinds, boxes, box_of_layer)
    _dense(g, boxes, edges, box_of_layer)
    for name, node in outputs.items():
        node = g.resolve(node)
        box = Box(
            id=f"output:{name}",
            kind="output",
            layers=[],
            title=name,
            shape=tuple(g.by[node].output_shape),
            op="output",
            rows=g.by[node].rows,
        )
        boxes[box.id] = box
        edges.append(Edge(box_of_layer[node], box.id, "output", box.shape, rows=box.rows))
    clusters = _clusters(boxes)
    for run in _runs(boxes, edges):
        _stack(run, boxes, edges, clusters)
    d = Diagram(a.name, depth, boxes, edges, clusters, a.totals.params, a.totals.macs, hwc)
    d.repeats = _repeats(boxes, clusters)
    return d


def _repeats(boxes: dict[str, Box], clusters: dict[str, list[str]]) -> dict[str, int]:
    """The frames that hold nothing but rolled-up blocks numbered inside them and of one output shape (ResNet's
    stage layer3 holds layer3.0 to layer3.35) → how many blocks, stacks counted whole: their label says
    ``layer3 ×36``, as the papers' tables write a stage."""
    out = {}
    for c, members in clusters.items():
        inside = [boxes[m] for m in members]
        numbered = all(b.kind == "block" and b.id.startswith(c + ".") and b.id[len(c) + 1 :].isdigit() for b in inside)
        if numbered and len({(b.shape, b.rows) for b in inside}) == 1:
            out[c] = sum(b.count for b in inside)
    return out


DENSE_FULL = 8  # a dense block of at most this many layers is drawn with every edge, as the paper's Figure 1


def _dense(g: LayerGraph, boxes: dict[str, Box], edges: list[Edge], box_of_layer: dict[str, str]) -> None:
    """DenseNet's dense connectivity, which the spec writes as a chain (each layer concatenates its new maps to
    its input). The concat of each layer is titled ``concat of k`` (a rolled-up layer noted ``dense: concat of
    k``), k the tensors it joins: the block's input and the maps of every layer so far. In a block of at most
    DENSE_FULL layers, each layer after the first also gets a ``dense`` edge from the block's input and from
    every earlier layer whose box is not already joined to it, as the paper's Figure 1 draws them; in a longer
    block, the one edge that brings all of them into a rolled-up layer is a ``dense`` edge with their shape."""
    have = {(e.src, e.dst): e for e in edges}
    chains = skips.dense_chains(g)
    longest: dict[str, int] = {}
    for start, new, _ in chains.values():
        longest[start] = max(longest.get(start, 0), len(new))
    held: dict[str, int] = {}  # a rolled-up block → the dense layers it holds
    for m, (start, new, x) in chains.items():
        if longest[start] < 2:  # one concat of an identity and a branch: a skip connection, no dense block
            continue
        target = boxes[box_of_layer[m]]
        joined = f"concat of {len(new) + 1}"
        if target.kind == "merge" and target.layers[0].name == m:
            target.title = joined
        elif target.kind == "block":
            held[target.id] = held.get(target.id, 0) + 1
            target.notes = [n for n in target.notes if not n.startswith("dense: ")]
            n = held[target.id]
            target.notes.append(f"dense: {joined}" if n == 1 else f"dense: {n} layers, each reads all before it")
        if len(new) < 2:
            continue
        if longest[start] > DENSE_FULL:
            e = have.get((box_of_layer[x], target.id))
            if e is not None and e.kind == "data":
                e.kind, e.label = "dense", True
            continue
        for src in [start, *new[:-1]]:
            b = box_of_layer[src]
            if b != target.id and (b, target.id) not in have:
                e = Edge(b, target.id, "dense", tuple(g.by[src].output_shape), rows=g.by[src].rows)
                have[(b, target.id)] = e
                edges.append(e)


STACK = 3  # this many identical blocks in a row or more are drawn as one box, ×N


def _runs(boxes: dict[str, Box], edges: list[Edge]) -> list[list[str]]:
    """Runs of STACK or more rolled-up blocks one after another that are alike (what they hold, their
    parameters, shape and frame) and joined only by the one edge from each to the next: ResNet-152's 35
    bottlenecks after layer3.0."""
    outs: dict[str, list[tuple[str, str]]] = {}
    ins: dict[str, list[tuple[str, str]]] = {}
    for e in edges:
        outs.setdefault(e.src, []).append((e.dst, e.kind))
        ins.setdefault(e.dst, []).append((e.src, e.kind))

    def alike(b: Box) -> tuple:
        return (b.kind, tuple(b.notes), b.shape, b.params, b.op, b.clusters, tuple(x.op for x in b.layers))

    order, runs, i = list(boxes), [], 0
    while i < len(order):
        run = [order[i]]
        while boxes[run[0]].kind == "block" and i + len(run) < len(order):
            prev, nxt = run[-1], order[i + len(run)]
            joined = outs.get(prev) == [(nxt, "data")] and ins.get(nxt) == [(prev, "data")]
            if not joined or alike(boxes[nxt]) != alike(boxes[run[0]]):
                break
            run.append(nxt)
        if len(run) >= STACK:
            runs.append(run)
        i += len(run)
    return runs


def _stack(run: list[str], boxes: dict[str, Box], edges: list[Edge], clusters: dict[str, list[str]]) -> None:
    """The run's blocks as its first box, titled ``layer3.1–35 ×35`` (in place)."""
    first, last = boxes[run[0]], boxes[run[-1]]
    head, _, _ = first.id.rpartition(".")
    tail = last.id[len(head) + 1 :] if head and last.id.startswith(head + ".") else last.id
    first.title = f"{first.title}–{tail} ×{len(run)}" if first.title == first.id else f"{first.title} ×{len(run)}"
    first.layers = [x for b in run for x in boxes[b].layers]
    first.count = sum(boxes[b].count for b in run)
    first.params = sum(boxes[b].params for b in run)
    first.shape, first.rows = last.shape, last.rows
    gone = set(run[1:])
    for e in list(edges):
        if e.src in gone and e.dst not in gone:
            e.src = first.id  # the last block's way out
        elif e.dst in gone or e.src in gone:
            edges.remove(e)
    for b in gone:
        del boxes[b]
    for members in clusters.values():
        members[:] = [m for m in members if m not in gone]


def _boxes(g: LayerGraph, groups: dict[str, list[Layer]], target: dict[str, str], depth: int | None) -> dict[str, Box]:
    """A box per group, with the groups folded into it (``target``) as its notes."""
    rows = {r[0]: r for r in report.rows(g.a, depth)} if depth is not None else {}
    boxes: dict[str, Box] = {}
    for k, layers in groups.items():
        t = target[k]
        if t != k:  # folded into an earlier box
            box = boxes[t]
            box.layers += layers
            box.params += sum(x.params for x in layers)
            box.notes.append(layers[0].kind.note(layers[0].args))
            box.shape, box.rows = tuple(layers[-1].output_shape), layers[-1].rows
            continue
        boxes[k] = _box(g, k, layers, rows)
    parents = skips.parents(boxes)
    for box in boxes.values():
        box.clusters = _cluster_path(box.id, parents)
        act = box.layers[0].args.get("act", "none") if box.kind == "merge" else "none"
        if act != "none" and act not in box.notes:  # a merge's own activation (add(act=relu)) is a note
            box.notes.insert(0, act)
    return boxes


def _edges(
    g: LayerGraph, kinds: dict[tuple[str, str], str], boxes: dict[str, Box], box_of_layer: dict[str, str]
) -> list[Edge]:
    """An edge per pair of boxes a tensor flows between (data, skip, shortcut), then the size references."""
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
                edges[(bu, v)] = Edge(bu, v, kind, tuple(g.by[u].output_shape), rows=g.by[u].rows)
            elif e.kind != "data" and kind == "data":
                e.kind = "data"  # a block entered both by its chain and by its shortcut: a plain edge
    for x in g.layers():
        v = box_of_layer[x.name]
        for u in g.refs[x.name]:
            bu = box_of_layer[u]
            if bu != v and (bu, v) not in edges:
                edges[(bu, v)] = Edge(bu, v, "ref", tuple(g.by[u].output_shape), rows=g.by[u].rows)
    for e in edges.values():
        dst = boxes[e.dst]
        e.label = e.kind in ("skip", "shortcut") or (dst.kind == "merge" and dst.layers[0].kind.shows_inputs)
    return list(edges.values())


def _clusters(boxes: dict[str, Box]) -> dict[str, list[str]]:
    """The blocks drawn as frames: those holding two boxes or more, and not just what one block inside
    holds. Each box keeps the frames it is in; a block box inside its frame is named by its own part."""
    clusters: dict[str, list[str]] = {}
    for box in boxes.values():
        for c in box.clusters:
            clusters.setdefault(c, []).append(box.id)
    clusters = {c: v for c, v in clusters.items() if len(v) >= 2}
    # a block holding exactly what one block inside it holds adds nothing: keep the inner one
    redundant = set()
    for inner, held in clusters.items():
        outer = enclosing(inner, clusters)  # boxes in an inner block are in each block around it too
        while outer is not None and len(clusters[outer]) == len(held):
            redundant.add(outer)
            outer = enclosing(outer, clusters)
    for c in redundant:
        del clusters[c]
    for box in boxes.values():
        box.clusters = tuple(c for c in box.clusters if c in clusters)
        if box.kind == "block" and box.clusters:  # inside its frame, a block is named by its own part
            own = box.id[len(box.clusters[-1]) + 1 :]
            if not own.rpartition(".")[2].isdigit():
                if box.op == "block":
                    box.title = own
                else:
                    box.name = own
    return clusters


def enclosing(name: str, blocks: Iterable[str]) -> str | None:
    """The innermost of ``blocks`` that holds block ``name`` (a proper prefix of its name), or None."""
    parts = name.split(".")
    return next((p for p in (".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)) if p in blocks), None)


def _input_title(a: Analysis, x: Layer) -> str:
    """``input``; where a network has several, each one's name (``image``, ``boxes``): a further input's node
    has its name; the first input is the first layer, and the first of ``Analysis.inputs``."""
    if len(a.inputs) < 2:
        return "input"
    return next(iter(a.inputs)) if x.name == a.layers[0].name else x.name


def _box(g: LayerGraph, k: str, layers: list[Layer], rows: dict[str, tuple[str, ...]]) -> Box:
    if len(layers) == 1:
        x = layers[0]
        ins = [tuple(g.by[i].output_shape) for i in g.data[x.name]]
        kind = "input" if x.kind.is_input else "merge" if x.kind.merge else "layer"
        last = x.name.rsplit(".", 1)[-1]
        # a layer's own label is worth showing (conv1, downsample), a position (features.3) is not
        name = "" if last.isdigit() or kind in ("merge", "input") else last
        return Box(
            id=x.name,
            kind=kind,
            layers=[x],
            title=_input_title(g.a, x) if kind == "input" else op_title(x, ins),
            name=name,
            shape=tuple(x.output_shape),
            params=x.params,
            op=x.op,
            rows=x.rows,
        )
    # a rolled-up block: its output is its own node's (a residual's sum, a concat) or else its last layer's
    last = next((x for x in layers if x.name == k), layers[-1])
    major = [x for x in layers if not x.kind.pointwise]
    params = sum(x.params for x in layers)
    if len(major) == 1 and major[0] is layers[0]:
        # conv + bn + relu as a block (Inception v3's BasicConv2d): draw it as the conv it is
        x = major[0]
        ins = [tuple(g.by[i].output_shape) for i in g.data[x.name]]
        return Box(
            id=k,
            kind="block",
            layers=list(layers),
            title=op_title(x, ins),
            notes=[y.kind.note(y.args) for y in layers[1:]],
            name=k,
            shape=tuple(last.output_shape),
            params=params,
            op=x.op,
            rows=last.rows,
        )
    row = rows.get(k)
    summary = row[report.COLUMNS.index("op")] if row else f"[{len(layers)} layers]"
    return Box(
        id=k,
        kind="block",
        layers=list(layers),
        title=k,
        notes=[summary],
        name="",
        shape=tuple(last.output_shape),
        params=params,
        op="block",
        rows=last.rows,
    )
