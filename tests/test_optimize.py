"""``net.compile(optimize="inference")``: BatchNorm folded into the layer before it, channels-last weights, an
eager or TorchScript back end; the outputs equal the eval-mode model's (archdsl/backend/optimize.py)."""

from __future__ import annotations

import pytest
import torch

import archdsl
from archdsl.backend.optimize import fold_batchnorm, fold_frozen_batchnorm, optimize

# one network per family, at a small size its contract admits
CASES = {
    "resnet18": "3x64x64",
    "mobilenet_v2": "3x64x64",
    "mobilenet_v3_small": "3x64x64",
    "efficientnet_b0": "3x64x64",
    "shufflenet_v2_x0_5": "3x64x64",
    "regnet_y_400mf": "3x64x64",
    "convnext_tiny": "3x64x64",
    "densenet121": "3x64x64",
    "inception_v3": "3x75x75",
}


def eval_model(net: archdsl.Net) -> torch.nn.Module:
    """The compiled model in eval mode, its BatchNorms given statistics and affine values far from 0 and 1
    (a fold that dropped one would show)."""
    model = net.compile(seed=0).eval()
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            for t, lo, hi in ((m.running_mean, -0.5, 0.5), (m.running_var, 0.5, 1.5), (m.weight, 0.5, 1.5)):
                t.data.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
    return model


SCRIPTED = ("resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5", "convnext_tiny")  # TorchScript is slow to build


@pytest.mark.parametrize(
    "name,backend", [(n, "eager") for n in CASES] + [(n, "script") for n in SCRIPTED], ids=lambda v: str(v)
)
def test_the_optimised_model_computes_what_the_eval_model_does(name, backend):
    net = archdsl.load(name, input=CASES[name])
    model = eval_model(net)
    x = torch.randn(2, *net.analyze().input_shape, generator=torch.Generator().manual_seed(2))
    fast = optimize(model, backend=backend)
    with torch.no_grad():
        want, got = model(x), fast(x)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    assert fast.optimize_seconds >= 0


def test_folding_leaves_no_batchnorm_after_a_conv_and_leaves_the_model_as_it_was():
    net = archdsl.load("resnet18", input="3x32x32")
    model = eval_model(net)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_frozen_batchnorm_folds_into_its_conv():
    net = archdsl.load("conv3-8(bias=false) - frozen_bn - relu - conv3-8 - frozen_bn", input="3x8x8")
    model = net.compile(seed=0).eval()
    with torch.no_grad():
        for name in ("1", "4"):
            fbn = model.get_submodule(name)
            fbn.weight.uniform_(0.5, 1.5)
            fbn.bias.uniform_(-0.5, 0.5)
            fbn.running_mean.uniform_(-0.5, 0.5)
            fbn.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = model(x)
        folded = fold_frozen_batchnorm(fold_batchnorm(model))
        got = folded(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert [n for n, _ in folded.named_children()] == ["input_contract", "0", "2", "3"]


def test_net_compile_optimize_and_its_refusals():
    net = archdsl.load("conv3-8 - bn - relu - gap - fc-4 - bn", input="3x8x8")
    fast = net.compile(seed=0, optimize="inference")
    assert not fast.training and fast(torch.randn(1, 3, 8, 8)).shape == (1, 4)
    with pytest.raises(ValueError, match="optimize takes 'inference'"):
        net.compile(optimize="training")
    with pytest.raises(ValueError, match="backend takes 'eager', 'script'"):
        net.compile(optimize="inference", backend="inductor")


@pytest.mark.parametrize("backend", ["eager", "script"])
def test_the_optimised_model_keeps_the_input_contract(backend):
    """Compiled at 3x64x64, it runs at another size its contract admits and refuses one it does not."""
    net = archdsl.load("resnet18", input="3x64x64")
    fast = net.compile(seed=0, optimize="inference", backend=backend)
    assert tuple(fast(torch.randn(1, 3, 40, 72)).shape) == (1, 1000)
    with pytest.raises(Exception, match=r"resnet18 takes N x 3xHxW with H >= 17, W >= 17; got an input of 1x3x8x8"):
        fast(torch.randn(1, 3, 8, 8))
