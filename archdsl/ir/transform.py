"""Graph transforms. ``fully_convolutional``: OverFeat's sliding window as a network.

Every fully connected layer becomes the convolution it already is: the first one, which
saw a CxHxW map, a conv with an HxW kernel; the ones after it, 1x1 convs. Flattening
disappears, an adaptive pool that did nothing at the training size disappears, a global
average pool becomes an average pool over the training size's window (stride 1). The
layers keep their names, so a state_dict converts by reshaping the fc weights
(:func:`convert_state_dict`). At the training size the outputs are the original's (as
``classes x 1 x 1``); on a larger input the network returns a ``classes x h x w`` map of
scores, one per window position, at the size the analysis predicts.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArchError
from ..ops import Op, OpProblem
from .analysis import Analysis
from .graph import Graph, Node


def fully_convolutional(g: Graph, a: Analysis, input_shape: tuple[int, ...] | None = None) -> Graph:
    """A copy of graph ``g`` (analysed as ``a`` at its training input size) with every fc as a conv;
    ``input_shape`` gives the new network another input size."""
    shapes = {layer.name: layer.output_shape for layer in a.layers}
    out = g.copy()
    out.graph = dict(g.graph, name=f"{g.graph['name']}_fully_conv")
    window: dict[str, tuple[int, int]] = {}  # vector node → the kernel an fc reading it becomes
    for name in g:
        data = out.nodes[name]  # g.copy() copied each node
        made = _convert(name, data, [shapes[i] for i in data.inputs], shapes[name], window)
        if made is not None:
            data.op = made
    if input_shape is not None:
        out.nodes["input"].op = type(g.nodes["input"].op).make({"shape": tuple(input_shape)})
    return out


def _convert(name: str, data: Node, ins: list, shape: tuple, window: dict) -> Op | None:
    """The op that replaces this node's (None: keep it), as the op itself says (``Op.convolutional``).
    ``window`` records, for each vector that becomes a map, the kernel a following fc needs: the flattened
    map's HxW, or 1x1."""
    inputs = data.inputs
    kernel = window[inputs[0]] if inputs and all(i in window for i in inputs) else None
    try:
        made, k = data.op.convolutional(ins, shape, kernel)
    except OpProblem as problem:
        raise _refuse(name, data, problem.message) from None
    if k is not None:
        window[name] = k
    return made


def _refuse(name: str, data: Node, why: str) -> ArchError:
    return ArchError(
        f"cannot make '{name}' fully convolutional: {why}",
        data.span,
        "fully_convolutional() turns fc layers (and the flatten / pool before them) into convolutions",
    )


def convert_state_dict(state_dict: dict[str, Any], g: Graph, a: Analysis) -> dict[str, Any]:
    """Reshape the fc weights of a state_dict of the original network (graph ``g``, analysed as
    ``a``) into the conv weights of its fully convolutional form; every other tensor is kept."""
    converted = fully_convolutional(g, a)
    out = dict(state_dict)
    for layer in a.layers:
        old, new = g.nodes[layer.name].op, converted.nodes[layer.name].op
        if new is old:
            continue
        keys = {n: f"{layer.name}.{n}" for n in layer.param_shapes if f"{layer.name}.{n}" in state_dict}
        made = old.convolutional_state({n: state_dict[k] for n, k in keys.items()}, new)
        out.update({keys[n]: t for n, t in made.items()})
    return out
