"""Stage 3 — infer: Graph → Analysis. Pure Python; never imports torch.

Walks the graph in its (topological) insertion order and asks each node's op
for its output shape, parameter and buffer shapes, MACs and receptive field.
"""
from __future__ import annotations

from .graph import Graph

from .analysis import Analysis, Layer, ReceptiveField, count, total
from .errors import ArchError, ShapeError
from .ops import RF, OpProblem
from .ops.base import numel
from .ops.merge import BranchMismatch


def infer(g: Graph) -> Analysis:
    shapes: dict[str, tuple[int, ...]] = {}
    fields: dict[str, RF] = {}
    layers = []
    for name in g:
        data = g.nodes[name]
        op, inputs, span = data["op"], data["inputs"], data["span"]
        ins = [shapes[i] for i in inputs]
        _arity(op, name, inputs, span)
        try:
            out = op.infer(ins)
            weights, buffers = op.weights(ins, out), op.buffers(ins, out)
            macs = op.macs(ins, out)
            extra = op.extra_macs(ins, out)
            rf = op.receptive_field([fields[i] for i in inputs], ins, out)
        except BranchMismatch as err:
            a, b = (_producer(g, inputs[i]) for i in (err.first, err.second))
            raise ShapeError(f"{op.name} at {name or 'the network'}: {err.message} "
                             f"(branch {err.first + 1} comes from {a}, branch {err.second + 1} from {b})",
                             span, err.hint) from None
        except OpProblem as err:
            raise ShapeError(f"{op.name} at {name}: {err.message}", span, err.hint) from None
        shapes[name], fields[name] = out, rf
        data["shape"] = out
        layers.append(Layer(
            name=name, op=op.name, describe=op.describe_in(ins, out), args=op.args_dict(), inputs=list(inputs),
            output_shape=out, params=count(weights), buffers=count(buffers), param_shapes=weights,
            buffer_shapes=buffers, macs=macs, macs_all=macs + extra, activations=numel(out),
            elementwise=op.in_place(ins, out), saves=op.saves,
            receptive_field=ReceptiveField(size=rf.size, stride=tuple(float(j) for j in rf.jump)),
            source=str(span)))
    outputs = {k: shapes[v] for k, v in g.graph["outputs"].items()}
    return Analysis(name=g.graph["name"], input_shape=shapes["input"], outputs=outputs,
                    totals=total(layers, list(g.graph["outputs"].values())), layers=layers)


def _producer(g: Graph, node: str) -> str:
    """``inception3a.branch2.1 (conv, line 7)``: a node named with the op and line that made it."""
    data = g.nodes[node]
    return f"{node} ({data['op'].name}, line {data['span'].line})"


def _arity(op, name, inputs, span):
    if len(inputs) < op.min_inputs or (op.max_inputs is not None and len(inputs) > op.max_inputs):
        raise ArchError(f"{op.name} at {name} got {len(inputs)} inputs", span)
