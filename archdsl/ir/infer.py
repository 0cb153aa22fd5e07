"""Stage 3 — infer: Graph → Analysis. Pure Python; never imports torch.

Walks the graph in its (topological) insertion order and asks each node's op
for its output shape, parameter and buffer shapes, MACs and receptive field.
"""

from __future__ import annotations

from ..errors import ArchError, ShapeError
from ..ops import RF, OpProblem
from ..ops.base import numel
from ..ops.merge import BranchMismatch
from .analysis import Analysis, Layer, ReceptiveField, count, total
from .graph import Graph


def infer(g: Graph) -> Analysis:
    shapes: dict[str, tuple[int, ...]] = {}
    rows: dict[str, int] = {}  # rows per image: 1, or R for a per-region tensor (after RoI pooling)
    fields: dict[str, RF] = {}
    layers = []
    for name in g:
        data = g.nodes[name]
        op, inputs, span = data.op, data.inputs, data.span
        ins = [shapes[i] for i in inputs]
        _arity(op, name, inputs, span)
        try:
            out = op.infer(ins)
            r = op.rows([rows[i] for i in inputs], ins)
            weights, buffers = op.weights(ins, out), op.buffers(ins, out)
            macs = r * op.macs(ins, out)  # per image: a per-region layer runs once for each of its R rows
            extra = r * op.extra_macs(ins, out)
            rf = op.receptive_field([fields[i] for i in inputs], ins, out)
        except BranchMismatch as err:
            a, b = (_producer(g, inputs[i]) for i in (err.first, err.second))
            raise ShapeError(
                f"{op.name} at {name or 'the network'}: {err.message} "
                f"({err.names[0]} comes from {a}, {err.names[1]} from {b})",
                span,
                err.hint,
            ) from None
        except OpProblem as err:
            hint = err.hint
            if err.small:  # say what input size would work
                hint = _input_hint(g, err.hint) or hint
            raise ShapeError(f"{op.name} at {name}: {err.message}", span, hint) from None
        shapes[name], fields[name], rows[name] = out, rf, r
        layers.append(
            Layer.model_construct(
                name=name,
                op=op.name,
                describe=op.describe_in(ins, out),
                args=op.args_dict(),
                inputs=list(inputs),
                output_shape=out,
                params=count(weights),
                buffers=count(buffers),
                param_shapes=weights,
                buffer_shapes=buffers,
                macs=macs,
                macs_all=macs + extra,
                activations=r * numel(out),
                rows=r,
                elementwise=op.in_place(ins, out),
                saves=op.saves,
                receptive_field=ReceptiveField.model_construct(size=rf.size, stride=tuple(float(j) for j in rf.jump)),
                source=str(span),
            )
        )
    outputs = {k: shapes[v] for k, v in g.graph["outputs"].items()}
    return Analysis.model_construct(
        name=g.graph["name"],
        input_shape=shapes["input"],
        inputs={arg: shapes[node] for node, arg in g.graph.get("input_names", {"input": "x"}).items()},
        outputs=outputs,
        output_rows={k: rows[v] for k, v in g.graph["outputs"].items()},
        totals=total(layers, list(g.graph["outputs"].values())),
        layers=layers,
    )


def _producer(g: Graph, node: str) -> str:
    """``inception3a.branch2.1 (conv, line 7)``: a node named with the op and line that made it."""
    data = g.nodes[node]
    return f"{node} ({data.op.name}, line {data.span.line})"


def _arity(op, name, inputs, span):
    if len(inputs) < op.min_inputs or (op.max_inputs is not None and len(inputs) > op.max_inputs):
        raise ArchError(f"{op.name} at {name} got {len(inputs)} inputs", span)


def _input_hint(g: Graph, hint: str | None) -> str | None:
    """``the network needs an input of at least 64x64 (it is given 32x32)``, when some larger input
    makes every map large enough (found by bisection over the shape rules alone), else None."""
    shape = g.nodes["input"].op.p.shape
    if len(shape) != 3 or not all(isinstance(n, int) for n in shape):
        return None
    c, h, w = shape
    limit = 1 << 16

    def fits(hh: int, ww: int) -> str:  # "ok", "small" (a map too small somewhere) or "other"
        shapes: dict[str, tuple] = {}
        for name in g:
            data = g.nodes[name]
            try:
                shapes[name] = (c, hh, ww) if name == "input" else data.op.infer([shapes[i] for i in data.inputs])
            except OpProblem as err:
                return "small" if err.small else "other"
            except Exception:  # noqa: BLE001 - any other trouble: no advice
                return "other"
        return "ok"

    def least(lo: int, hi: int, probe) -> int | None:
        """The least n in (lo, hi] with probe(n) != "small", assuming monotony; None if hi is small too."""
        if probe(hi) == "small":
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if probe(mid) == "small" else (lo, mid)
        return hi

    top = max(h, w, 1)
    while top < limit and fits(max(h, top), max(w, top)) == "small":
        top *= 2
    side = least(0, top, lambda n: fits(max(h, n), max(w, n)))
    if side is None:
        return None
    hh = max(h, least(0, max(h, side), lambda n: fits(n, max(w, side))) or max(h, side))
    ww = max(w, least(0, max(w, side), lambda n: fits(hh, n)) or max(w, side))  # an axis that fits keeps its size
    if (hh, ww) == (h, w) or fits(hh, ww) != "ok":
        return None
    rest = (hint or "").replace("use a larger input, ", "").replace("use a larger input or ", "")
    return f"the network needs an input of at least {hh}x{ww} (it is given {h}x{w})" + (f"; or {rest}" if rest else "")
