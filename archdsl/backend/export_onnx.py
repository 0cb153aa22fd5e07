"""ONNX export: ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` then the onnxscript translator;
needs the packages ``onnx`` and ``onnxscript``) at opset :data:`OPSET`, the batch axis and, over the sizes
the input contract admits, height and width dynamic; the file checked with onnxruntime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only
    import torch
    from torch import nn


import time
from pathlib import Path

from ..limits import MAX_MEMORY, MAX_PARAMS
from ..output import replacing
from .export import Diffs, Exported, differences, eval_mode, example, flat, need, output_names, quiet, resolve

OPSET = 18  # the opset onnxscript's torch library is written in: no version conversion after export
ONNX_PACKAGES = ("onnx", "onnxscript")
ONNX_PROTO_LIMIT = 2**31 - 2**26  # bytes of weights beyond which torch saves them beside the file (protobuf: 2 GB)


def to_onnx(
    net_or_module: Any,
    path: str | Path,
    input: str | tuple[int, ...] | None = None,
    opset: int | None = None,
    dynamic_batch: bool = True,
    *,
    dynamic_size: bool = True,
    weights: str | Path | dict | None = None,
    batch: int = 2,
    seed: int = 0,
    max_params: int | None = MAX_PARAMS,
    max_memory: int | None = MAX_MEMORY,
    optimize: str | None = None,
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
    pass on ``batch``) as in ``Net.check_memory``. ``optimize="inference"``: the network optimised for inference
    first (BatchNorm folded into the layer before it: archdsl/backend/optimize.py)."""
    need(*ONNX_PACKAGES, purpose="ONNX export")
    import torch

    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    module, shape, net = resolve(net_or_module, input, weights, seed, max_params, batch, max_memory, optimize)
    opset = OPSET if opset is None else int(opset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sizes = size_ranges(net) if dynamic_size and net is not None else {}
    with eval_mode(module):
        x = example(module, shape, batch, seed)
        names = output_names(module, x)
        with quiet():
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


def size_ranges(net: Any, exact: bool = False) -> dict[str, tuple[int, int]]:
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


def size_dim(name: str, least: int, step: int) -> Any:
    """A torch.export dimension for the sizes least + step*k (k >= 0)."""
    import torch

    if step == 1:
        return torch.export.Dim(name, min=least)
    k = torch.export.Dim(f"{name}_steps", min=0)
    return step * k + least


def check_onnx(path: str | Path, module: nn.Module, x: torch.Tensor) -> Diffs:
    """Run the ONNX file at ``path`` with onnxruntime (CPU) on ``x`` and return, per output, the
    largest absolute difference from ``module(x)`` (``module`` in eval mode)."""
    need("onnxruntime", purpose="checking an ONNX file")
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.detach().cpu().numpy()})
    with torch.no_grad(), eval_mode(module):
        names, want = flat(module(x))
    file_names = [o.name for o in session.get_outputs()]
    if file_names != names:
        raise AssertionError(f"the file's outputs are {file_names}, the module's {names}")
    return differences(names, [torch.from_numpy(g) for g in got], want)
