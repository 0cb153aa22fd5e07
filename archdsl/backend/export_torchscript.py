"""TorchScript export: ``torch.jit.script``, or ``torch.jit.trace`` of the eval-mode module where scripting
fails; the archive checked with ``torch.jit.load``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    import torch
    from torch import nn


import time
import warnings
from pathlib import Path
from typing import Any

from ..limits import MAX_MEMORY, MAX_PARAMS
from ..output import replacing
from .export import Diffs, Exported, differences, eval_mode, example, first_line, flat, output_names, quiet, resolve


def to_torchscript(
    net_or_module: Any,
    path: str | Path,
    input: str | tuple[int, ...] | None = None,
    *,
    method: str = "auto",
    weights: str | Path | dict | None = None,
    batch: int = 2,
    seed: int = 0,
    max_params: int | None = MAX_PARAMS,
    max_memory: int | None = MAX_MEMORY,
    optimize: str | None = None,
) -> Exported:
    """Write ``net_or_module`` (as for :func:`to_onnx`) as a TorchScript archive (``torch.jit.save``).

    ``method``: ``"script"`` (``torch.jit.script``: the archive keeps train/eval behaviour),
    ``"trace"`` (``torch.jit.trace`` of the eval-mode module on a random batch: records the eval
    path only), or ``"auto"`` (default): script, and trace where scripting fails (the reason is
    in ``Exported.note`` and a warning). FractalNet's ``MeanJoin`` (``mean`` joins) takes its
    inputs as ``*xs``, which TorchScript cannot compile, so such networks are traced.
    ``optimize="inference"``: the network optimised for inference first (BatchNorm folded into the layer
    before it), and the archive frozen (``torch.jit.freeze``: its weights constants, eval mode only)."""
    import torch

    if method not in ("auto", "script", "trace"):
        raise ValueError(f"method is 'auto', 'script' or 'trace', not {method!r}")
    module, shape, _ = resolve(net_or_module, input, weights, seed, max_params, batch, max_memory, optimize)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start, note, used = time.perf_counter(), "", method
    with eval_mode(module):
        x = example(module, shape, batch, seed)
        names = output_names(module, x)
        archive = None
        if method in ("auto", "script"):
            try:
                with quiet():
                    archive = torch.jit.script(module)
                used = "script"
            except Exception as err:  # torch.jit's frontend raises several kinds
                if method == "script":
                    raise
                note = "torch.jit.script failed: " + _script_error(err)
                warnings.warn(f"{note}; traced instead (the archive runs the eval-mode graph only)", stacklevel=2)
        if archive is None:
            used = "trace"
            with quiet(), torch.no_grad():
                archive = torch.jit.trace(module, (x,), strict=False, check_trace=False)
        if optimize is not None:
            archive = torch.jit.freeze(archive.eval())
            used += " + torch.jit.freeze"
        with quiet(), replacing(path) as f:  # to a file object: on a full disk torch.jit.save(path) aborts
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


def check_torchscript(path: str | Path, module: nn.Module, x: torch.Tensor) -> Diffs:
    """Load the TorchScript archive at ``path``, run it in eval mode on ``x`` and return, per
    output, the largest absolute difference from ``module(x)``."""
    import torch

    with quiet():
        loaded = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.no_grad(), eval_mode(module):
        _, got = flat(loaded(x))
        names, want = flat(module(x))
    if len(got) != len(want):
        raise AssertionError(f"the archive gives {len(got)} outputs, the module {len(want)}")
    return differences(names, got, want)
