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

from .graph import Graph

from .analysis import Analysis
from .errors import ArchError
from .ops import REGISTRY

# ops that work the same on a vector and on a map (applied per position / per channel)
_POINTWISE = {"relu", "relu6", "leaky_relu", "tanh", "sigmoid", "dropout", "identity", "softmax", "bn", "drop_path"}


def fully_convolutional(g: Graph, a: Analysis, input_shape: tuple[int, ...] | None = None) -> Graph:
    """A copy of graph ``g`` (analysed as ``a`` at its training input size) with every fc as a conv;
    ``input_shape`` gives the new network another input size."""
    shapes = {layer.name: layer.output_shape for layer in a.layers}
    out = g.copy()
    out.graph = dict(g.graph, name=f"{g.graph['name']}_fully_conv")
    window: dict[str, tuple[int, int]] = {}  # vector node → the kernel an fc reading it becomes
    for name in g:
        data = out.nodes[name]  # g.copy() copied each node's attribute dict
        made = _convert(name, data, [shapes[i] for i in data["inputs"]], shapes[name], window)
        if made is not None:
            data["op"] = made
    if input_shape is not None:
        out.nodes["input"]["op"] = REGISTRY["input"].make({"shape": tuple(input_shape)})
    return out


def _convert(name: str, data: dict, ins: list, shape: tuple, window: dict):
    """The op that replaces this node's (None: keep it). ``window`` records, for each vector that
    becomes a map, the kernel a following fc needs: the flattened map's HxW, or 1x1."""
    op, inputs = data["op"], data["inputs"]
    kind = op.name
    if kind == "fc":
        if len(ins[0]) == 3:  # an fc on a map flattens it itself
            k = ins[0][1:]
        elif inputs[0] in window:
            k = window[inputs[0]]
        else:
            raise _refuse(name, data, "its input is a vector that no convolution made")
        window[name] = (1, 1)
        return REGISTRY["conv"].make({"out": op.p.out, "k": tuple(k), "p": 0, "bias": op.p.bias})
    if kind == "flatten":
        window[name] = tuple(ins[0][1:])
        return REGISTRY["identity"].make({})
    if kind == "adaptive_avgpool":
        if shape != ins[0]:
            raise _refuse(name, data, f"it pools {'x'.join(map(str, ins[0]))} to {'x'.join(map(str, shape))}; "
                          "only an adaptive pool that does nothing at the training size can go")
        return REGISTRY["identity"].make({})
    if kind == "gap":
        return REGISTRY["avgpool"].make({"k": tuple(ins[0][1:]), "s": 1})
    if any(len(s) == 1 for s in ins):
        if kind in _POINTWISE and all(i in window for i in inputs):
            window[name] = window[inputs[0]]
            return None
        raise _refuse(name, data, f"{kind} works on vectors here, and has no convolutional form")
    return None


def _refuse(name: str, data: dict, why: str) -> ArchError:
    return ArchError(f"cannot make '{name}' fully convolutional: {why}", data["span"],
                     "fully_convolutional() turns fc layers (and the flatten / pool before them) into convolutions")


def convert_state_dict(state_dict: dict[str, Any], g: Graph, a: Analysis) -> dict[str, Any]:
    """Reshape the fc weights of a state_dict of the original network (graph ``g``, analysed as
    ``a``) into the conv weights of its fully convolutional form; every other tensor is kept."""
    converted = fully_convolutional(g, a)
    out = dict(state_dict)
    for layer in a.layers:
        if layer.op == "fc":
            conv = converted.nodes[layer.name]["op"]
            key = f"{layer.name}.weight"
            out[key] = state_dict[key].reshape(conv.p.out, -1, *conv.p.k)
    return out
