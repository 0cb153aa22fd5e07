"""Inference-only optimisation of a compiled network (``net.compile(optimize="inference")``): passes over its
fx graph, each a small function, then a back end.

- :func:`fold_batchnorm`: every BatchNorm whose only input is a conv or an fc, folded into that layer's
  weights and bias (``torch.fx.experimental.optimization.fuse``), also inside a module that is a conv and
  its BatchNorm (a residual's projection shortcut, ``nn.Sequential(conv, bn)``);
- :func:`fold_frozen_batchnorm`: the same for ``frozen_bn`` (archdsl's FrozenBatchNorm2d, whose statistics
  and affine parameters are buffers);
- :func:`channels_last`: weights in the channels-last memory format, which the CPU's convolutions prefer;
- the back end: ``"eager"`` (the fx module as it is) or ``"script"`` (``torch.jit.script``, frozen, then
  ``torch.jit.optimize_for_inference``).

The result computes what the eval-mode model computes (to float rounding: folding reorders the arithmetic)
and is for inference only: it is put in eval mode, BatchNorm's statistics are gone from it, and it does not
train. ``model.optimize_seconds`` says how long the optimisation took.
"""

from __future__ import annotations

import time

import torch
from torch import fx, nn
from torch.fx.experimental import optimization
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

from .layers import FrozenBatchNorm2d

LEVELS = ("inference",)
BACKENDS = ("eager", "script")


def optimize(model: fx.GraphModule, level: str = "inference", backend: str = "eager") -> nn.Module:
    """``model`` (a compiled network) optimised for inference at ``level`` with ``backend``."""
    if level not in LEVELS:
        raise ValueError(f"optimize takes {', '.join(map(repr, LEVELS))}, not {level!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend takes {', '.join(map(repr, BACKENDS))}, not {backend!r}")
    start = time.perf_counter()
    out: nn.Module = channels_last(fold_frozen_batchnorm(fold_batchnorm(model.eval())))
    if backend == "script":
        out = script(out)
    out.optimize_seconds = time.perf_counter() - start
    return out


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
