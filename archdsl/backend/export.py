"""``archdsl export``: a compiled network as an ONNX file or a TorchScript archive.

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

import contextlib
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ir.shapes import parse_shape
from ..limits import MAX_MEMORY, MAX_PARAMS
from ..output import replacing

OPSET = 18  # the opset onnxscript's torch library is written in: no version conversion after export
TOLERANCE = 1e-4  # what --check accepts: max abs diff between the file and the torch module
TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".jit", ".torchscript")
FORMATS = {".onnx": "onnx", **{s: "torchscript" for s in TORCHSCRIPT_SUFFIXES}}
ONNX_PACKAGES = ("onnx", "onnxscript")
ONNX_PROTO_LIMIT = 2**31 - 2**26  # bytes of weights beyond which torch saves them beside the file (protobuf: 2 GB)


class MissingPackage(ImportError):
    """A package that the export (or its check) needs is not installed."""


def _need(*packages: str, purpose: str) -> None:
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
        x = _example(self.module, shape, batch, seed)
        if self.format == "onnx":
            return check_onnx(self.path, self.module, x)
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


def _resolve(
    net_or_module,
    input,
    weights,
    seed: int,
    max_params: int | None = MAX_PARAMS,
    batch: int = 2,
    max_memory: int | None = MAX_MEMORY,
):
    """A loaded network (an :class:`archdsl.Net`) or a torch module → (module, input shape CxHxW, the Net
    or None). Networks are compiled under a fixed seed: the same network gives the same weights, so the
    same file."""
    import torch
    from torch import nn

    net = None
    if isinstance(net_or_module, nn.Module):
        if input is None:
            raise TypeError("exporting a torch module needs input= (its input shape CxHxW, e.g. '3x224x224')")
        module, shape = net_or_module, parse_shape(input)
    elif hasattr(net_or_module, "compile") and hasattr(net_or_module, "graph"):
        net = net_or_module
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
    return module, tuple(shape), net


def _example(module, shape: tuple[int, ...], batch: int, seed: int):
    import torch

    param = next(iter(module.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = param.device if param is not None else "cpu"
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *shape), generator=gen).to(device=device, dtype=dtype)


def _flat(out) -> tuple[list[str], list]:
    """A module's result → (output names, tensors): one tensor is ``output``, a dict keeps its keys."""
    import torch

    if isinstance(out, torch.Tensor):
        return ["output"], [out]
    if isinstance(out, dict):
        return [str(k) for k in out], list(out.values())
    from torch.utils import _pytree

    leaves = _pytree.tree_leaves(out)
    return [f"output{i}" for i in range(len(leaves))], leaves


def _output_names(module, x) -> list[str]:
    """The names :func:`_flat` gives the module's result: read off a compiled module's fx graph
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
        return _flat(module(x))[0]


@contextlib.contextmanager
def _eval(module):
    """The module in eval mode for the block, then back in the mode it was in."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


@contextlib.contextmanager
def _quiet():
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


# --- ONNX ------------------------------------------------------------------------------------------


def to_onnx(
    net_or_module,
    path,
    input=None,
    opset: int | None = None,
    dynamic_batch: bool = True,
    *,
    dynamic_size: bool = True,
    weights=None,
    batch: int = 2,
    seed: int = 0,
    max_params: int | None = MAX_PARAMS,
    max_memory: int | None = MAX_MEMORY,
) -> Exported:
    """Write ``net_or_module`` as an ONNX file at ``path``.

    ``net_or_module``: a loaded :class:`archdsl.Net` (``archdsl.to_onnx`` also takes a spec), or a torch
    module (a compiled one, or one built from ``archdsl compile``'s source; ``input`` is then required).
    ``weights``: a state_dict or the path of one, loaded before export (else a compiled network
    keeps its initialisation under ``seed``). The graph is traced on a random batch of ``batch``;
    with ``dynamic_batch`` the file's batch axis is symbolic (``batch``), else fixed at ``batch``;
    with ``dynamic_size`` (a spec or a Net) the height and width are symbolic too, over the sizes of
    :func:`size_ranges` (``Exported.sizes``; none for a network that takes one size only). The file
    does not check its input: the model's contract check is left out of the export.
    ``opset`` defaults to :data:`OPSET`. The input is named ``input``; the outputs ``output``, or
    after the network's named outputs. Weights are stored in the file itself up to ONNX's 2 GB
    limit, in ``path.data`` beyond it. ``max_params`` as in ``Net.compile``, ``max_memory`` (bytes, for a forward
    pass on ``batch``) as in ``Net.check_memory``."""
    _need(*ONNX_PACKAGES, purpose="ONNX export")
    import torch

    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    module, shape, net = _resolve(net_or_module, input, weights, seed, max_params, batch, max_memory)
    opset = OPSET if opset is None else int(opset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sizes = size_ranges(net) if dynamic_size and net is not None else {}
    with _eval(module):
        x = _example(module, shape, batch, seed)
        names = _output_names(module, x)
        with _quiet():
            for attempt in _size_attempts(net, sizes):  # the contract's range, its exact sizes, fixed sizes
                sizes = attempt
                try:
                    program = _onnx_program(module, x, names, opset, dynamic_batch, sizes)
                    break
                except torch._dynamo.exc.UserError:  # torch.export could not keep these sizes dynamic
                    if not sizes:
                        raise
            _save_onnx(program, module, path)
    return Exported(
        path,
        "onnx",
        "torch.onnx.export(dynamo=True)",
        shape,
        names,
        dynamic_batch,
        opset,
        time.perf_counter() - start,
        module=module,
        batch=batch,
        sizes=sizes,
    )


def _save_onnx(program, module, path: Path) -> None:
    """The ONNX file, through a temporary file renamed into place (archdsl.output); a model past ONNX's
    2 GB protobuf limit is saved by torch with its weights in ``path.data``, in place."""
    size = sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))
    if size >= ONNX_PROTO_LIMIT:
        program.save(path)
        return
    with replacing(path) as f:
        f.write(program.model_proto.SerializeToString())


def _size_attempts(net, sizes: dict):
    yield sizes
    if sizes:
        exact = size_ranges(net, exact=True)
        if exact and exact != sizes:
            yield exact
        yield {}


def _onnx_program(module, x, names, opset: int, dynamic_batch: bool, sizes: dict):
    import torch

    dims = {0: torch.export.Dim("batch")} if dynamic_batch else {}
    dims |= {axis: size_dim(name, *sizes[name]) for axis, name in ((2, "height"), (3, "width")) if name in sizes}
    return torch.onnx.export(
        module,
        (x,),
        None,
        dynamo=True,
        input_names=["input"],
        output_names=names,
        opset_version=opset,
        dynamic_shapes=(dims,) if dims else None,
        verbose=False,
    )


def size_ranges(net, exact: bool = False) -> dict[str, tuple[int, int]]:
    """The input sizes an export can keep dynamic: per axis ("height", "width"), (least, step) for the
    sizes least + step*k, k >= 0, that the network's input contract admits and torch.export can trace
    (every feature map that follows the input at least 2 wide: torch specialises a size that may be 1).
    Empty for a network that takes one size only. With ``exact``, only the sizes where every strided
    window tiles its input and every centre crop is symmetric (the symbolic report's exact sizes): there
    torch.export can prove what the crops and pools need, where the whole range gives it guards it cannot
    (UNet: H = 188 + 16k instead of H >= 188)."""
    from dataclasses import replace

    from ..ir.contract import traceable_from

    contract = net.input_contract()
    if contract.fixed:
        return {}
    if exact:
        contract = replace(contract, **_exact_sets(net, contract))
    out = {}
    for axis, name, s in ((1, "height", contract.height), (2, "width", contract.width)):
        least = traceable_from(net.graph, contract, axis)
        if least is not None:
            out[name] = (least, s.period)
    return out


def _exact_sets(net, contract) -> dict:
    """The contract's height and width sets narrowed to the exact sizes (one regime of shapes), else as they are."""
    from ..ir.symbolic.walk import symbolic_shapes

    result = symbolic_shapes(net.graph, f"{contract.shape[0]}xHxW")
    if len(result.regimes) != 1:
        return {}
    region = result.regimes[0].exact_region()
    h, w = result.symbols
    return {"height": contract.height & region.get(h), "width": contract.width & region.get(w)}


def size_dim(name: str, least: int, step: int):
    """A torch.export dimension for the sizes least + step*k (k >= 0)."""
    import torch

    if step == 1:
        return torch.export.Dim(name, min=least)
    k = torch.export.Dim(f"{name}_steps", min=0)
    return step * k + least


def check_onnx(path, module, x) -> Diffs:
    """Run the ONNX file at ``path`` with onnxruntime (CPU) on ``x`` and return, per output, the
    largest absolute difference from ``module(x)`` (``module`` in eval mode)."""
    _need("onnxruntime", purpose="checking an ONNX file")
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.detach().cpu().numpy()})
    with torch.no_grad(), _eval(module):
        names, want = _flat(module(x))
    file_names = [o.name for o in session.get_outputs()]
    if file_names != names:
        raise AssertionError(f"the file's outputs are {file_names}, the module's {names}")
    return _diffs(names, [torch.from_numpy(g) for g in got], want)


def _diffs(names, got, want) -> Diffs:
    diffs, scale = {}, {}
    for n, g, w in zip(names, got, want):
        if tuple(g.shape) != tuple(w.shape):
            raise AssertionError(f"{n}: shape {tuple(g.shape)} where the module gives {tuple(w.shape)}")
        w = w.detach().cpu()
        diffs[n] = float((g.to(w.dtype).cpu() - w).abs().max()) if w.numel() else 0.0
        scale[n] = float(w.abs().max()) if w.numel() else 0.0
    return Diffs(diffs, scale)


# --- TorchScript -----------------------------------------------------------------------------------


def to_torchscript(
    net_or_module,
    path,
    input=None,
    *,
    method: str = "auto",
    weights=None,
    batch: int = 2,
    seed: int = 0,
    max_params: int | None = MAX_PARAMS,
    max_memory: int | None = MAX_MEMORY,
) -> Exported:
    """Write ``net_or_module`` (as for :func:`to_onnx`) as a TorchScript archive (``torch.jit.save``).

    ``method``: ``"script"`` (``torch.jit.script``: the archive keeps train/eval behaviour),
    ``"trace"`` (``torch.jit.trace`` of the eval-mode module on a random batch: records the eval
    path only), or ``"auto"`` (default): script, and trace where scripting fails (the reason is
    in ``Exported.note`` and a warning). FractalNet's ``MeanJoin`` (``mean`` joins) takes its
    inputs as ``*xs``, which TorchScript cannot compile, so such networks are traced."""
    import torch

    if method not in ("auto", "script", "trace"):
        raise ValueError(f"method is 'auto', 'script' or 'trace', not {method!r}")
    module, shape, _ = _resolve(net_or_module, input, weights, seed, max_params, batch, max_memory)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start, note, used = time.perf_counter(), "", method
    with _eval(module):
        x = _example(module, shape, batch, seed)
        names = _output_names(module, x)
        archive = None
        if method in ("auto", "script"):
            try:
                with _quiet():
                    archive = torch.jit.script(module)
                used = "script"
            except Exception as err:  # torch.jit's frontend raises several kinds
                if method == "script":
                    raise
                note = "torch.jit.script failed: " + _script_error(err)
                warnings.warn(f"{note}; traced instead (the archive runs the eval-mode graph only)", stacklevel=2)
        if archive is None:
            used = "trace"
            with _quiet(), torch.no_grad():
                archive = torch.jit.trace(module, (x,), strict=False, check_trace=False)
        with _quiet(), replacing(path) as f:  # to a file object: on a full disk torch.jit.save(path) aborts
            torch.jit.save(archive, f)
    return Exported(
        path,
        "torchscript",
        f"torch.jit.{used}",
        shape,
        names,
        True,
        None,
        time.perf_counter() - start,
        note,
        module=module,
        batch=batch,
    )


def first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _script_error(err: BaseException) -> str:
    """TorchScript's complaint and the line it points at: "Compiled functions can't take variable
    number of arguments ... (archdsl/backend/layers.py, line 33: def forward(self, *xs):)"."""
    lines = [ln for ln in str(err).splitlines() if ln.strip()]
    head = first_line(err).rstrip(":")
    for i, ln in enumerate(lines):
        if ln.strip().startswith('File "') and i + 1 < len(lines):
            where = ln.strip()[len('File "') :].replace('", line', ", line")
            return f"{head} ({where}: {lines[i + 1].strip()})"
    return head


def check_torchscript(path, module, x) -> Diffs:
    """Load the TorchScript archive at ``path``, run it in eval mode on ``x`` and return, per
    output, the largest absolute difference from ``module(x)``."""
    import torch

    with _quiet():
        loaded = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.no_grad(), _eval(module):
        _, got = _flat(loaded(x))
        names, want = _flat(module(x))
    if len(got) != len(want):
        raise AssertionError(f"the archive gives {len(got)} outputs, the module {len(want)}")
    return _diffs(names, got, want)
