"""Activation memory from tensor lifetimes, computed from the analysis alone (no torch).

A layer whose output may overwrite its input (an in-place activation, dropout, identity:
``Layer.elementwise``) makes no tensor of its own: it aliases its input's. Sizes are in
values per sample; the report multiplies by the batch and the bytes of the dtype.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the limits below are read by the command line before any spec is loaded
    from .analysis import Layer

# what a build or a run may reach before it is refused, from the analysis, before allocating anything


def available_memory() -> int | None:
    """The bytes this machine can still give (Linux's MemAvailable), or None where it cannot tell."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _storage(layers: list[Layer]) -> dict[str, str]:
    """Each layer → the layer whose tensor holds its output (itself, or what it overwrote)."""
    owner: dict[str, str] = {}
    for layer in layers:
        owner[layer.name] = owner[layer.inputs[0]] if layer.elementwise and layer.inputs else layer.name
    return owner


def peak_inference(layers: list[Layer], outputs: list[str]) -> int:
    """The most values alive at once when the layers run in order (their topological order): a tensor
    is allocated when its layer runs and freed after its last reader, unless it is an output."""
    owner = _storage(layers)
    size = {layer.name: layer.activations for layer in layers}
    last: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for source in layer.inputs:
            last[owner[source]] = i
        last.setdefault(owner[layer.name], i)
    keep = {owner[o] for o in outputs}
    frees: dict[int, list[str]] = {}  # step → the tensors whose last reader it is
    for tensor, step in last.items():
        if tensor not in keep:
            frees.setdefault(step, []).append(tensor)
    live = peak = 0  # a running sum: one pass, whatever the number of tensors alive at once
    for i, layer in enumerate(layers):
        if owner[layer.name] == layer.name:
            live += size[layer.name]
        peak = max(peak, live)
        live -= sum(size[t] for t in frees.get(i, ()))
    return peak


def saved_for_backward(layers: list[Layer]) -> int:
    """The values the forward pass keeps for the backward pass: the inputs of layers whose gradient
    needs them (conv, fc, bn, max-pool, ...) and the outputs of those that need their own
    (ReLU, tanh, sigmoid, softmax, dropout's mask), each tensor counted once."""
    owner = _storage(layers)
    size = {layer.name: layer.activations for layer in layers}
    saved: set[str] = set()
    for layer in layers:
        if layer.saves == "input":
            saved.update(owner[i] for i in layer.inputs)
        elif layer.saves == "output":
            saved.add(owner[layer.name])
    return sum(size[t] for t in saved)
