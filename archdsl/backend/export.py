"""Exporting a compiled network (``archdsl export``): what the ONNX and TorchScript exporters share (the
module to export, its example input, eval mode, quiet loggers, the :class:`Exported` record and its check).
The exporters are :mod:`archdsl.backend.export_onnx` and :mod:`archdsl.backend.export_torchscript`.

ONNX goes through ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` then the onnxscript
translator; needs the packages ``onnx`` and ``onnxscript``), at opset :data:`OPSET`, with the input
named ``input``, a dynamic batch axis, and the outputs named ``output`` (one tensor) or after the
network's output names (several outputs: the compiled module returns a dict). TorchScript is
``torch.jit.script``, or ``torch.jit.trace`` of the eval-mode module where scripting fails.
Either way the module is exported in eval mode (dropout and drop-path off, BN on its running
statistics). ``Exported.check()`` runs the written file (onnxruntime, or ``torch.jit.load``) and
returns the largest absolute difference from the torch module per output. See docs/export.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    import torch
    from torch import nn


import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ArchError
from ..ir.shapes import parse_shape
from ..limits import MAX_MEMORY, MAX_PARAMS

TOLERANCE = 1e-4  # what --check accepts: max abs diff between the file and the torch module
TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".jit", ".torchscript")
FORMATS = {".onnx": "onnx", **{s: "torchscript" for s in TORCHSCRIPT_SUFFIXES}}


class MissingPackage(ImportError):
    """A package that the export (or its check) needs is not installed."""


def need(*packages: str, purpose: str) -> None:
    import importlib.util

    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise MissingPackage(
            f"{purpose} needs the package{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            f"pip install {' '.join(missing)}"
        )


class Diffs(dict):
    """Output name → the largest absolute difference between the file's result and torch's;
    ``scale`` holds each output's largest absolute value in torch. Deep networks at their default
    initialisation (a ResNet-110 without zero-initialised last BNs) reach outputs of 1e8 and more,
    where float32 alone differs by hundreds: :meth:`ok` compares relative to the scale above 1."""

    def __init__(self, diffs: dict[str, float], scale: dict[str, float]):
        super().__init__(diffs)
        self.scale = scale

    def ok(self, tolerance: float = TOLERANCE) -> bool:
        return all(d <= tolerance * max(1.0, self.scale[k]) for k, d in self.items())


@dataclass
class Exported:
    """What :func:`to_onnx` / :func:`to_torchscript` wrote."""

    path: Path
    format: str  # "onnx" or "torchscript"
    method: str  # "torch.onnx.export(dynamo=True)", "torch.jit.script" or "torch.jit.trace"
    input_shape: tuple[int, ...]  # CxHxW; the batch axis comes first
    outputs: list[str]
    dynamic_batch: bool
    opset: int | None = None
    seconds: float = 0.0
    note: str = ""  # why torch.jit.trace was used instead of torch.jit.script
    module: Any = field(default=None, repr=False)  # the torch module that was exported (in eval mode)
    batch: int = 1  # the example batch it was exported with
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # dynamic "height"/"width": (least, step)

    def check(self, batch: int | None = None, seed: int = 1, size: tuple[int, int] | None = None) -> Diffs:
        """Run the written file on a random batch (default: 1, or the export's batch if that is
        static) and return the largest absolute difference from the torch module, per output.
        ``size`` (height, width): another input size, for a file with dynamic sizes."""
        if batch is None:
            batch = 1 if self.dynamic_batch else self.batch
        shape = self.input_shape if size is None else (self.input_shape[0], *size)
        x = example(self.module, shape, batch, seed)
        if self.format == "onnx":
            from .export_onnx import check_onnx

            return check_onnx(self.path, self.module, x)
        from .export_torchscript import check_torchscript

        return check_torchscript(self.path, self.module, x)

    def other_size(self) -> tuple[int, int] | None:
        """A size of the dynamic axes other than the traced one: the least of each (one step up where
        that is the traced size), or None when the sizes are fixed."""
        if not self.sizes:
            return None
        size = []
        for axis, n in zip(("height", "width"), self.input_shape[1:]):
            least, step = self.sizes.get(axis, (n, 0))
            size.append(least if least != n else least + step)
        return tuple(size)

    def describe(self) -> str:
        batch = "N" if self.dynamic_batch else str(self.batch)
        dims = [batch, *map(str, self.input_shape)]
        ranges = []
        for i, axis in ((2, "height"), (3, "width")):
            if axis in self.sizes:
                least, step = self.sizes[axis]
                dims[i] = axis[0].upper()
                ranges.append(f"{dims[i]} >= {least}" if step == 1 else f"{dims[i]} = {least} + {step}k")
        shape = "x".join(dims) + (f" ({', '.join(ranges)})" if ranges else "")
        kind = f"ONNX opset {self.opset}" if self.format == "onnx" else "TorchScript"
        return (
            f"{self.path}: {kind} via {self.method}, input 'input' {shape}, "
            f"output{'s' if len(self.outputs) > 1 else ''} {', '.join(repr(o) for o in self.outputs)}"
        )


# --- the module to export -------------------------------------------------------------------------


def resolve(
    net_or_module: Any,
    input: str | tuple[int, ...] | None,
    weights: str | Path | dict | None,
    seed: int,
    max_params: int | None = MAX_PARAMS,
    batch: int = 2,
    max_memory: int | None = MAX_MEMORY,
    optimize: str | None = None,
) -> tuple[nn.Module, tuple[int, ...], Any]:
    """A loaded network (an :class:`archdsl.Net`) or a torch module → (module, input shape CxHxW, the Net
    or None). Networks are compiled under a fixed seed: the same network gives the same weights, so the
    same file. ``optimize="inference"``: the module (its weights loaded) then optimised for inference with
    the eager back end (archdsl/backend/optimize.py: BatchNorm folded into the layer before it)."""
    import torch
    from torch import nn

    net = None
    if isinstance(net_or_module, nn.Module):
        if input is None:
            raise TypeError("exporting a torch module needs input= (its input shape CxHxW, e.g. '3x224x224')")
        module, shape = net_or_module, parse_shape(input)
    elif hasattr(net_or_module, "compile") and hasattr(net_or_module, "graph"):
        net = net_or_module
        _one_input_per_image_outputs(net.analyze())
        shape = parse_shape(input) if input is not None else net.analyze().input_shape
        net.check_memory(batch, max_memory=max_memory)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = net.compile(max_params=max_params)
    else:
        raise TypeError(
            f"expected an archdsl Net or a torch module, got {type(net_or_module).__name__} "
            "(a spec: archdsl.to_onnx(spec, ...), or archdsl.load(spec) first)"
        )
    if weights is not None:
        state = weights if isinstance(weights, dict) else torch.load(weights, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    if optimize is not None:
        from .optimize import optimize as optimized

        module = optimized(module, optimize)
    return module, tuple(shape), net


def example(module: nn.Module, shape: tuple[int, ...], batch: int, seed: int) -> torch.Tensor:
    import torch

    param = next(iter(module.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = param.device if param is not None else "cpu"
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *shape), generator=gen).to(device=device, dtype=dtype)


def flat(out: Any) -> tuple[list[str], list]:
    """A module's result → (output names, tensors): one tensor is ``output``, a dict keeps its keys."""
    import torch

    if isinstance(out, torch.Tensor):
        return ["output"], [out]
    if isinstance(out, dict):
        return [str(k) for k in out], list(out.values())
    from torch.utils import _pytree

    leaves = _pytree.tree_leaves(out)
    return [f"output{i}" for i in range(len(leaves))], leaves


def output_names(module: nn.Module, x: torch.Tensor) -> list[str]:
    """The names :func:`flat` gives the module's result: read off a compiled module's fx graph
    (no forward pass), else from a forward on ``x``."""
    import torch
    from torch import fx

    if isinstance(module, fx.GraphModule):
        (node,) = [n for n in module.graph.nodes if n.op == "output"]
        result = node.args[0]
        if isinstance(result, fx.Node):
            return ["output"]
        if isinstance(result, dict) and all(isinstance(v, fx.Node) for v in result.values()):
            return [str(k) for k in result]
    with torch.no_grad():
        return flat(module(x))[0]


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """The module in eval mode for the block, then back in the mode it was in."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch.onnx's notes (torchvision's ops are not registered), onnx_ir's (an empty attribute
    list defaults to INTS) and torch.jit's deprecation notice go nowhere."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.onnx",
            "torch.onnx._internal.exporter._registration",
            "torch.export",
            "torch._dynamo",
            "torch.fx.experimental",
            "onnxscript",
            "onnx_ir",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def differences(names: list[str], got: list, want: list) -> Diffs:
    """Per output, the largest absolute difference between the file's results and the module's."""
    diffs, scale = {}, {}
    for n, g, w in zip(names, got, want):
        if tuple(g.shape) != tuple(w.shape):
            raise AssertionError(f"{n}: shape {tuple(g.shape)} where the module gives {tuple(w.shape)}")
        w = w.detach().cpu()
        diffs[n] = float((g.to(w.dtype).cpu() - w).abs().max()) if w.numel() else 0.0
        scale[n] = float(w.abs().max()) if w.numel() else 0.0
    return Diffs(diffs, scale)


def first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _one_input_per_image_outputs(a: Any) -> None:
    """Refuse a network the exporters cannot trace: several inputs, or per-region layers (proposals' NMS and
    the RoI ops are data-dependent loops and gathers)."""
    what = a.beyond_one_image()
    if what is not None:
        raise ArchError(
            f"export writes networks of one input and per-image outputs; {a.name} {what}",
            None,
            "use the compiled module in Python (archdsl.load(spec).compile()), or its source: archdsl compile -o",
        )
