"""ConvNeXt-T (specs/modern/convnext.arch) against torchvision and the paper.

Every figure is exact: the state_dict key for key, the parameters and the MACs against
torchvision's (tests/reference/convnext_tiny.json), the MACs against a closed form, the
stochastic-depth schedule against torchvision's, and the compiled module against a functional
restatement of torchvision's forward (LayerNorm2d, CNBlock with layer scale, down-sampling, head).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"
DIMS = (96, 192, 384, 768)
DEPTHS = (3, 3, 9, 3)


@cache
def analysis(name: str = "convnext_tiny", **variables):
    return archdsl.load(name, **variables).analyze()


def reference() -> dict:
    return json.loads((REFERENCE / "convnext_tiny.json").read_text())


def closed_form_macs(size: int = 224, classes: int = 1000) -> int:
    """Conv by conv and linear by linear: the 4x4/4 stem, per block a 7x7 depthwise conv and two
    linear layers dim <-> 4 dim at every position, the 2x2/2 down-sampling convs, the classifier."""
    s = size // 4
    macs = s * s * 16 * 3 * DIMS[0]
    for i, (d, n) in enumerate(zip(DIMS, DEPTHS, strict=True)):
        if i:
            s //= 2
            macs += s * s * 4 * DIMS[i - 1] * d
        macs += n * s * s * (49 * d + 2 * 4 * d * d)
    return macs + DIMS[-1] * classes


def test_convnext_tiny_is_torchvisions():
    ref = reference()
    a = analysis()
    assert a.input_shape == (3, 224, 224) == tuple(ref["input"][1:])
    assert a.outputs == {"output": (1000,)} and tuple(ref["output"][1:]) == (1000,)
    assert a.totals.params == ref["params"] == ref["trainable_params"] == 28_589_128  # torchvision's num_params
    assert a.totals.buffers == 0  # LayerNorm keeps no running statistics
    # torchvision's FLOPs are 2 x the MACs of its convs and linear layers: the same count exactly
    assert a.totals.macs == ref["conv_linear_flops"] // 2 == closed_form_macs() == 4_455_531_264
    assert round(a.totals.macs / 1e9, 3) == 4.456  # torchvision's "_ops"
    assert a.totals.params // 10**6 == 28 and round(a.totals.macs / 1e9, 1) == 4.5  # the paper: 28M (truncated), 4.5G
    # the state_dict: the same keys, in the same order (layer_scale before the block's), the same shapes
    expected = {k: tuple(v) for k, v in ref["state_dict"].items()}
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == ref["buffers_state_dict_entries"] == 182


def test_compiled_state_dict_is_torchvisions():
    gm = archdsl.load("convnext_tiny").compile(device="meta")
    expected = [(k, tuple(v)) for k, v in reference()["state_dict"].items()]
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == expected
    assert gm.get_submodule("features.1.0.block.2").eps == 1e-6  # nn.LayerNorm over channels-last
    for name in ("features.0.1", "features.2.0", "features.6.0", "classifier.0"):  # LayerNorm2d
        assert gm.get_submodule(name).eps == 1e-6


def test_stages_and_blocks():
    a = analysis()
    shapes = {
        n: a.layer(n).output_shape for n in ("features.0.1", "features.2.1", "features.4.1", "features.6.1", "avgpool")
    }
    assert shapes == {
        "features.0.1": (96, 56, 56),
        "features.2.1": (192, 28, 28),
        "features.4.1": (384, 14, 14),
        "features.6.1": (768, 7, 7),
        "avgpool": (768, 1, 1),
    }
    blocks = [layer.name for layer in a.layers if layer.op == "residual"]
    assert blocks == [f"features.{2 * i + 1}.{j}" for i, n in enumerate(DEPTHS) for j in range(n)]
    # the block's inner layers, torchvision's CNBlock.block: channels-last between the permutes
    inner = [
        (layer.name.rsplit(".", 1)[1], layer.op, layer.output_shape)
        for layer in a.layers
        if layer.name.startswith("features.5.4.block.")
    ]
    assert inner == [
        ("0", "dwconv", (384, 14, 14)),
        ("1", "permute", (14, 14, 384)),
        ("2", "layernorm", (14, 14, 384)),
        ("3", "fc", (14, 14, 1536)),
        ("4", "gelu", (14, 14, 1536)),
        ("5", "fc", (14, 14, 384)),
        ("6", "permute", (384, 14, 14)),
    ]
    assert a.layer("features.5.4.block.0").args["k"] == 7
    assert a.layer("features.5.4.layer_scale").args["init"] == 1e-6
    # the residual's shortcut is the identity everywhere: no projection has parameters
    assert not [layer.name for layer in a.layers if layer.op == "projection" and layer.params]


def test_stochastic_depth_schedule_is_torchvisions():
    """torchvision: sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0), as floats."""
    a = analysis()
    probs = [layer.args["p"] for layer in a.layers if layer.op == "drop_path"]
    assert probs == [0.1 * k / (18 - 1.0) for k in range(18)]  # the same float operations, bit for bit
    assert probs[0] == 0.0 and probs[-1] == 0.1
    gm = archdsl.load("convnext_tiny").compile(device="meta")
    assert gm.get_submodule("features.5.4.stochastic_depth").p == probs[10]
    assert [layer.args["p"] for layer in analysis(stochastic_depth_prob=0.4).layers if layer.op == "drop_path"][
        -1
    ] == 0.4


# ----------------------------------------------------------------------------- the compiled forward
def torchvision_forward(sd, x):
    """torchvision's ConvNeXt.forward (eval mode: stochastic depth is the identity), written with
    torch.nn.functional on a state_dict."""
    import torch.nn.functional as F

    def ln2d(y, p):  # LayerNorm2d: LayerNorm over the channels of an NCHW map
        y = y.permute(0, 2, 3, 1)
        return F.layer_norm(y, y.shape[-1:], sd[p + ".weight"], sd[p + ".bias"], 1e-6).permute(0, 3, 1, 2)

    x = ln2d(F.conv2d(x, sd["features.0.0.weight"], sd["features.0.0.bias"], stride=4), "features.0.1")
    for i, n in enumerate(DEPTHS):
        if i:
            p = f"features.{2 * i}"
            x = F.conv2d(ln2d(x, p + ".0"), sd[p + ".1.weight"], sd[p + ".1.bias"], stride=2)
        for j in range(n):
            p = f"features.{2 * i + 1}.{j}"
            y = F.conv2d(x, sd[p + ".block.0.weight"], sd[p + ".block.0.bias"], padding=3, groups=x.shape[1])
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(y, y.shape[-1:], sd[p + ".block.2.weight"], sd[p + ".block.2.bias"], 1e-6)
            y = F.linear(
                F.gelu(F.linear(y, sd[p + ".block.3.weight"], sd[p + ".block.3.bias"])),
                sd[p + ".block.5.weight"],
                sd[p + ".block.5.bias"],
            )
            x = x + sd[p + ".layer_scale"] * y.permute(0, 3, 1, 2)
    x = ln2d(F.adaptive_avg_pool2d(x, 1), "classifier.0").flatten(1)
    return F.linear(x, sd["classifier.2.weight"], sd["classifier.2.bias"])


def test_compiled_module_computes_torchvisions_function():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    gm = archdsl.load("convnext_tiny", input="3x64x64").compile().double().eval()
    # random weights, and layer scales near 1 rather than 1e-6, so that every block shows
    state = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.2 for k, v in gm.state_dict().items()}
    gm.load_state_dict(state)
    x = torch.randn(2, 3, 64, 64, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), torchvision_forward(state, x), rtol=1e-9, atol=1e-9)
        # the layer scale starts at 1e-6, as torchvision initialises it
        fresh = archdsl.load("convnext_tiny", input="3x64x64").compile()
        assert torch.equal(fresh.get_submodule("features.3.1").layer_scale, torch.full((192, 1, 1), 1e-6))
