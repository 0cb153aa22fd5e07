"""The compile stage runs activations and residual sums in place where that is safe
(archdsl/backend/compile.py make_inplace), as torchvision's hand-written models do: ``ReLU(inplace=True)``,
``out += identity``. Safe means the overwritten tensor is fresh, read by nothing else, not needed by
its producer's backward, and neither the caller's input nor one of the outputs.

Each network here is compiled twice with the same seed, once with the pass turned off, and the two
must agree exactly: outputs in eval mode, and every gradient after a training-mode forward and
backward (autograd itself refuses a backward through a tensor an in-place op overwrote too early).
"""

from __future__ import annotations

import operator

import pytest
import torch
from torch import nn

import archdsl
import archdsl.backend.compile

# one network per kind of tensor an activation or sum may overwrite: conv+bn (resnet18), cat (densenet,
# squeezenet), scaled residual sums with a fused ReLU (inception_resnet_v2's add(act=relu) and mul), ReLU6
# (mobilenet_v2), LeakyReLU (yolov1_tiny), max-pool indices (DeconvNet's unpool), mean joins (fractalnet), skips (unet)
CASES = {
    "resnet18": {"input": "3x64x64"},
    "densenet121": {"input": "3x64x64"},
    "squeezenet1_1": {"input": "3x64x64"},
    "inception_resnet_v2": {"input": "3x75x75"},
    "mobilenet_v2": {"input": "3x32x32"},
    "yolov1_tiny": {"input": "3x64x64"},
    "p: maxpool(indices=true) - conv3-8 - bn - relu - unpool(@p) - relu - conv3-8": {"input": "8x16x16"},
    "fractalnet": {"input": "3x32x32"},
    "unet_padded": {"input": "1x32x32"},
    "resnet20_cifar": {},
}


def compile_pair(name: str, monkeypatch, **kwargs):
    net = archdsl.load(name, **kwargs)
    fast = net.compile(seed=0)
    with monkeypatch.context() as m:
        m.setattr(archdsl.backend.compile, "make_inplace", lambda em: None)
        plain = net.compile(seed=0)
    return net, fast, plain


def flat(out):
    return list(out.values()) if isinstance(out, dict) else [out]


@pytest.mark.parametrize("name", list(CASES))
def test_in_place_changes_nothing_but_memory(name, monkeypatch):
    net, fast, plain = compile_pair(name, monkeypatch, **CASES[name])
    x = torch.randn(2, *net.analyze().input_shape, generator=torch.Generator().manual_seed(1))
    kept = x.clone()
    fast.eval(), plain.eval()
    with torch.no_grad():
        for a, b in zip(flat(fast(x)), flat(plain(x))):
            assert torch.equal(a, b)
    assert torch.equal(x, kept)  # the caller's tensor is never overwritten
    fast.train(), plain.train()
    for model in (fast, plain):
        torch.manual_seed(2)  # dropout and drop-path draw alike
        sum(o.float().square().mean() for o in flat(model(x))).backward()
    assert torch.equal(x, kept)
    for (key, p), q in zip(fast.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=0, atol=0), key


def inplace_nodes(model) -> list[str]:
    found = []
    for node in model.graph.nodes:
        if node.op == "call_function" and node.target in (torch.relu_, operator.iadd):
            found.append(f"{node.target.__name__}({node.args[0].name})")
        elif node.op == "call_module" and getattr(model.get_submodule(node.target), "inplace", False):
            found.append(f"{node.target}({node.args[0].name})")
    return found


def test_resnet_blocks_run_in_place_like_torchvision():
    model = archdsl.load("resnet18").compile(device="meta")
    found = inplace_nodes(model)
    # every ReLU and every residual sum: 1 stem ReLU, and per block a ReLU after bn1, the sum, the ReLU after it
    assert len(found) == 1 + 8 * 3
    assert "relu(bn1)" in found and "iadd(layer1_0_bn2)" in found and "relu_(add)" in found
    src = archdsl.load("resnet18").source()
    assert src.count("nn.ReLU(inplace=True)") == 9 and src.count(" += ") == 8


@pytest.mark.parametrize(
    "text, expected",
    [
        ("relu", []),  # the input is the caller's tensor
        ("conv3-4 - relu", ["1(_0)"]),
        ("a: conv3-4 - b: relu\noutput a, b", []),  # the conv's output is also an output
        ("conv3-4 - sigmoid - relu", []),  # sigmoid's backward reads its own output
        ("conv3-4 - dropout - relu", []),  # not a tensor the pass knows to be fresh
        ("conv3-4 - leaky(0.1)", ["1(_0)"]),
        ("conv3-4 - leaky(-0.1)", []),  # torch's in-place LeakyReLU cannot run backward with a negative slope
        ("conv3-4 - flatten - relu", []),  # flatten gives a view of the conv's output
        ("residual { conv3-4 - bn } - relu", ["iadd(_0_1)", "1(add)"]),
        ("conv3-4 - add {\n  relu\n  conv3-4\n}", []),  # the first conv feeds both branches; a ReLU's output is saved
        ("conv3-4 - add(act=relu) {\n  conv3-4 - bn\n  conv3-4\n}", ["iadd(_1_branch1_1)", "relu_(add)"]),
    ],
)
def test_only_safe_tensors_are_overwritten(text, expected):
    model = archdsl.load(text, input="4x8x8").compile(seed=0)
    assert inplace_nodes(model) == expected
    x = torch.randn(2, 4, 8, 8, requires_grad=True)  # autograd refuses an in-place op on it
    kept = x.detach().clone()
    sum(o.sum() for o in flat(model(x))).backward()
    assert torch.equal(x, kept)


def test_the_generated_source_runs_in_place_and_matches(tmp_path):
    net = archdsl.load("resnet20_cifar")
    src = net.source()
    assert "nn.ReLU(inplace=True)" in src and " += " in src and "torch.relu_(" in src
    namespace: dict = {}
    exec(compile(src, "resnet20_cifar.py", "exec"), namespace)
    model = namespace["build"]()
    compiled = net.compile(seed=0)
    model.load_state_dict(compiled.state_dict())
    x = torch.randn(2, 3, 32, 32)
    model.eval(), compiled.eval()
    with torch.no_grad():
        assert torch.equal(model(x), compiled(x))
    assert isinstance(model, nn.Module)
