"""Compiled models work with the rest of PyTorch: torch.compile, channels_last, bf16 autocast, meta.

Small networks at small inputs, so the file runs in seconds:
  resnet18 at 3x64x64            the torchvision ResNet (residual adds, projection shortcuts)
  squeezenet1_1 at 3x64x64       concat merges (fire modules)
  stochastic depth               specs/classic/resnet_cifar.arch's ``resnet_cifar`` block with
                                 drop_path (DropPath) in every residual branch: the block of
                                 resnet110_stochastic_depth, at n = 3 (20 layers, not 110)
  fractalnet, 3 blocks x 3 cols  specs/classic/fractalnet.arch's mean joins (MeanJoin) with local
                                 drop-path, and dropout; the library network, 3 blocks of width 8

``torch.compile(model, fullgraph=True)`` fails on any graph break. The default tests trace with
``backend="eager"`` (TorchDynamo's capture, no code generation; a full inductor compile takes
minutes on a 2-core CPU); one model goes through AOTAutograd (``backend="aot_eager"``) forward and
backward. ``ARCHDSL_SLOW_TESTS=1`` adds a real inductor compile (needs a C++ compiler on CPU).

Every test takes a ``device``: "cpu", and "cuda" where a GPU is present (skipped otherwise).
"""

from __future__ import annotations

import os

import pytest
import torch
import torch._dynamo
import torch.nn.functional as F

import archdsl

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]
SLOW = pytest.mark.skipif(not os.environ.get("ARCHDSL_SLOW_TESTS"), reason="set ARCHDSL_SLOW_TESTS=1 (minutes)")

STOCHASTIC_DEPTH = """
import resnet_cifar as rc
input 3x32x32
rc.resnet_cifar(3, p_last=0.5)
"""

SPECS = {
    "resnet18": lambda: archdsl.load("resnet18", input="3x64x64"),
    "squeezenet1_1": lambda: archdsl.load("squeezenet1_1", input="3x64x64"),
    "stochastic_depth": lambda: archdsl.load(STOCHASTIC_DEPTH),
    "fractalnet": lambda: archdsl.load("fractalnet", columns=3, widths=(8, 8, 8)),
}


def tol(device: str, cpu: float) -> dict:
    """Comparison tolerances: tight on the CPU; on a GPU, where cuDNN picks other algorithms for
    other memory formats and may use TF32, looser."""
    return {"rtol": cpu, "atol": cpu} if device == "cpu" else {"rtol": 1e-2, "atol": 1e-2}


def model_and_input(name: str, device: str, batch: int = 2, seed: int = 0):
    net = SPECS[name]()
    torch.manual_seed(seed)
    model = net.compile(device=device)
    x = torch.randn(batch, *net.analyze().input_shape, device=device)
    return model, x


def run(model, x, train: bool, seed: int = 1):
    """One forward; in training with a fixed seed, so that random drops repeat."""
    model.train(train)
    torch.manual_seed(seed)
    if train:
        return model(x)
    with torch.no_grad():
        return model(x)


def test_stochastic_depth_spec_uses_droppath():
    """The stochastic-depth case really has DropPath modules, and the fractal one MeanJoins."""
    sd = SPECS["stochastic_depth"]().compile(device="meta")
    assert [type(m).__name__ for n, m in sd.named_modules() if n.endswith("drop_path")] == ["DropPath"] * 9
    fractal = SPECS["fractalnet"]().compile(device="meta")
    assert sum(type(m).__name__ == "MeanJoin" for m in fractal.modules()) == 3 * 2  # fractal3: 2 joins per block


# ------------------------------------------------------------------------ torch.compile
FULLGRAPH_CASES = [
    pytest.param(name, train, id=f"{name}-{'train' if train else 'eval'}") for name in SPECS for train in (False, True)
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, train", FULLGRAPH_CASES)
def test_torch_compile_fullgraph(name, train, device):
    model, x = model_and_input(name, device)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # raises on a graph break
    expected = run(model, x, train)
    got = run(compiled, x, train)
    torch.testing.assert_close(got, expected, **tol(device, 1e-5))


@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_aot_autograd_trains(device):
    """Forward and backward through AOTAutograd (the stage inductor builds on): the same loss and
    gradients as eager, DropPath's random drops included."""
    model, x = model_and_input("stochastic_depth", device)
    target = torch.arange(x.shape[0], device=device)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    grads = []
    for m in (model, compiled):
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(run(m, x, train=True), target)
        loss.backward()
        grads.append((loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}))
    torch.testing.assert_close(grads[1][0], grads[0][0], **tol(device, 1e-5))
    for k in grads[0][1]:
        torch.testing.assert_close(grads[1][1][k], grads[0][1][k], **tol(device, 1e-4))


@SLOW
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_inductor(device):
    model, x = model_and_input("resnet18", device)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(run(compiled, x, False), run(model, x, False), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------- channels_last
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(SPECS))
def test_channels_last(name, device):
    model, x = model_and_input(name, device)
    expected = run(model, x, False)
    model = model.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    torch.testing.assert_close(run(model, x_cl, False), expected, **tol(device, 1e-4))


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_trains(device):
    """Training-mode forward and backward in channels_last: the same gradients."""
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        model, x = model_and_input("resnet18", device)
        model = model.to(memory_format=fmt)
        out = run(model, x.contiguous(memory_format=fmt), True)
        F.cross_entropy(out, torch.tensor([1, 2], device=device)).backward()
        grads.append({k: p.grad for k, p in model.named_parameters()})
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], **tol(device, 1e-3))


# ------------------------------------------------------------------------ bf16 autocast
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(SPECS))
def test_bf16_autocast(name, device):
    model, x = model_and_input(name, device)
    expected = run(model, x, False)
    with torch.autocast(device, dtype=torch.bfloat16):
        got = run(model, x, False)
    assert got.dtype == torch.bfloat16  # the classifier ran in bf16
    assert torch.isfinite(got).all()
    # bf16 keeps 8 bits of mantissa (~0.4% per rounding); through these nets the relative error
    # of the logits is 0.2-0.6%
    err = (got.float() - expected).norm() / expected.norm()
    assert err < 0.02, f"relative error {err:.4f}"


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_autocast_trains(device):
    model, x = model_and_input("resnet18", device)
    with torch.autocast(device, dtype=torch.bfloat16):
        loss = F.cross_entropy(run(model, x, True), torch.tensor([1, 2], device=device))
    loss.backward()
    assert all(
        p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
        for p in model.parameters()
    )


# -------------------------------------------------------------------------------- meta
def test_meta_compile_resnet152_allocates_nothing():
    """Building on the meta device allocates nothing: resnet152's 60M parameters (benchmarks/build.py
    measures how fast)."""
    model = archdsl.load("resnet152").compile(device="meta")
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 60_192_808
