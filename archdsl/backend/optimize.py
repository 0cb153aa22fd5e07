"""Inference-only optimisation of a compiled network (``net.compile(optimize="inference")``): passes over its
fx graph, each a small function, then a back end.

- :func:`fold_batchnorm`: every BatchNorm whose only input is a conv or an fc, folded into that layer's
  weights and bias (``torch.fx.experimental.optimization.fuse``), also inside a module that is a conv and
  its BatchNorm (a residual's projection shortcut, ``nn.Sequential(conv, bn)``);
- :func:`fold_frozen_batchnorm`: the same for ``frozen_bn`` (archdsl's FrozenBatchNorm2d, whose statistics
  and affine parameters are buffers);
- :func:`channels_last`: weights in the channels-last memory format, which the CPU's convolutions prefer;
- the back end, by name: ``"eager"`` (the fx module as it is), ``"script"`` (``torch.jit.script``, frozen,
  then ``torch.jit.optimize_for_inference``) or ``"inductor"`` (``torch.compile`` with inductor, the weights
  frozen into the generated code; compiled on an example input here, under ``torch.inference_mode()``, so
  that the compile time is known and the first call is not slow: a call under another grad mode, or at a new
  size, compiles once more).

The result computes what the eval-mode model computes (to float rounding: folding reorders the arithmetic)
and is for inference only: it is put in eval mode, BatchNorm's statistics are gone from it, and it does not
train. ``model.optimize_seconds`` says how long the optimisation took, ``model.compile_seconds`` how much of
it the back end took (scripting and freezing; inductor's compilation).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import fx, nn
from torch.fx.experimental import optimization
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

from ..ops import ModuleSpec
from .layers import FrozenBatchNorm2d

LEVELS = ("inference",)
BACKENDS = ("eager", "script", "inductor")


def optimize(
    model: fx.GraphModule, level: str = "inference", backend: str = "eager", example: dict[str, Any] | None = None
) -> nn.Module:
    """``model`` (a compiled network) optimised for inference at ``level`` with ``backend``. ``example``: the
    forward's inputs by name (``net.example_inputs()``), which ``"inductor"`` compiles on (without it, on the
    first call)."""
    check(level, backend)
    start = time.perf_counter()
    out: nn.Module = channels_last(fold(model))
    folded = time.perf_counter()
    if backend == "script":
        out = script(out)
    elif backend == "inductor":
        out = inductor(out, example)
    out.compile_seconds = time.perf_counter() - folded
    out.optimize_seconds = time.perf_counter() - start
    return out


def check(level: str, backend: str = "eager") -> None:
    """Refuse (ValueError) a level or a back end that :func:`optimize` does not know, before anything is built."""
    if level not in LEVELS:
        raise ValueError(f"optimize takes {', '.join(map(repr, LEVELS))}, not {level!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend takes {', '.join(map(repr, BACKENDS))}, not {backend!r}")


def fold(model: fx.GraphModule) -> fx.GraphModule:
    """Every BatchNorm and ``frozen_bn`` that can be, folded into the layer before it (a copy, in eval mode)."""
    return fold_frozen_batchnorm(fold_batchnorm(model.eval()))


def folded_spec(spec: ModuleSpec, module: nn.Module) -> ModuleSpec:
    """The description of a module after folding, from the one it was compiled from (``spec``): a conv or fc
    that took in a BatchNorm has a bias, and a projection ``Sequential(conv, bn)`` is its conv alone."""
    if spec.cls == "Sequential" and not isinstance(module, nn.Sequential):
        spec = spec.args[0]
    if getattr(module, "bias", None) is not None and spec.kwargs.get("bias") is False:
        return ModuleSpec(spec.cls, spec.args, {**spec.kwargs, "bias": True})
    return spec


def fold_batchnorm(model: fx.GraphModule) -> fx.GraphModule:
    """Each BatchNorm whose input is a conv or an fc that nothing else reads, folded into that layer (eval
    mode: the running statistics). A copy; the model itself is left as it is."""
    fused = optimization.fuse(model.eval(), inplace=False, no_trace=True)
    for name, module in list(fused.named_modules()):
        if isinstance(module, nn.Sequential) and len(module) == 2:
            conv, bn = module
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                parent, _, leaf = name.rpartition(".")
                setattr(fused.get_submodule(parent), leaf, fuse_conv_bn_eval(conv, bn))
    return fused


def fold_frozen_batchnorm(model: fx.GraphModule) -> fx.GraphModule:
    """Each ``frozen_bn`` right after a conv that nothing else reads, folded into the conv (in place)."""
    modules = dict(model.named_modules())
    for node in list(model.graph.nodes):
        conv = node.args[0] if node.op == "call_module" and node.args else None
        if not (isinstance(modules.get(node.target), FrozenBatchNorm2d) and isinstance(conv, fx.Node)):
            continue
        if conv.op != "call_module" or not isinstance(modules.get(conv.target), nn.Conv2d) or len(conv.users) > 1:
            continue
        frozen, layer = modules[node.target], modules[conv.target]
        weight, bias = fuse_conv_bn_weights(
            layer.weight,
            layer.bias,
            frozen.running_mean,
            frozen.running_var,
            frozen.eps,
            frozen.weight,
            frozen.bias,
        )
        layer.weight, layer.bias = weight, bias
        node.replace_all_uses_with(conv)
        model.graph.erase_node(node)
    model.graph.lint()
    model.delete_all_unused_submodules()
    model.recompile()
    return model


def channels_last(model: nn.Module) -> nn.Module:
    """The model's 4-d weights in the channels-last memory format (in place)."""
    return model.to(memory_format=torch.channels_last)


def script(model: nn.Module) -> torch.jit.ScriptModule:
    """TorchScript, frozen (parameters as constants) and optimised for inference by torch.jit."""
    return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model.eval())))


def inductor(model: nn.Module, example: dict[str, Any] | None = None) -> nn.Module:
    """``torch.compile`` with inductor, the weights frozen into the compiled code (inductor's ``freezing``:
    constants it can fold, as TorchScript's freeze does), compiled on ``example`` under
    ``torch.inference_mode()`` when given (else on the first call)."""
    compiled = torch.compile(model.eval(), backend="inductor", options={"freezing": True})
    if example is not None:
        with torch.inference_mode():
            compiled(**example)
    return compiled
