"""EfficientNet-B0 and B1 of the library (specs/modern/efficientnet.arch) against torchvision and the paper.

M. Tan, Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019,
in torchvision's layout (models.efficientnet_b0 / _b1). efficientnet_b0 is checked key for key against
torchvision's state_dict (tests/reference/efficientnet_b0.json) and its conv + linear FLOPs; efficientnet_b1
against torchvision's published parameter count, and key for key against B0's reference extended by
torchvision's rules (ceil(layers x 1.1) blocks per stage). Every figure is exact.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"
SPEC = Path(__file__).resolve().parent.parent / "specs" / "modern" / "efficientnet.arch"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


def analyze(name: str):
    return archdsl.load(name).analyze()


def buffer_values(state_dict: dict[str, tuple[int, ...]]) -> int:
    """Elements of the BN running statistics and counters (a counter's shape is (), one value)."""
    return sum(math.prod(shape) for k, shape in state_dict.items() if ".running_" in k or "num_batches" in k)


def blocks(state_dict: dict[str, tuple[int, ...]], stage: int) -> list[int]:
    """The MBConv block indices of features.<stage> that hold state."""
    prefix = f"features.{stage}."
    return sorted({int(k[len(prefix) :].split(".")[0]) for k in state_dict if k.startswith(prefix)})


# ----------------------------------------------------------------------------- B0: torchvision's state_dict
def test_efficientnet_b0_is_torchvisions():
    ref = reference("efficientnet_b0")
    a = analyze("efficientnet_b0")
    assert a.input_shape == (3, 224, 224) == tuple(ref["input"][1:])
    assert a.outputs == {"output": (1000,)}
    assert (1000,) == tuple(ref["output"][1:])
    assert a.totals.params == 5_288_548 == ref["params"]  # torchvision's num_params; Table 2's "5.3M"
    expected = ref_state_dict("efficientnet_b0")
    assert a.totals.buffers == 42_065 == buffer_values(expected)  # 49 BN layers: 2 x 21,008 statistics + 49 counters
    # MACs: convs (the squeeze-and-excitation's fc1/fc2 are 1x1 convs on a 1x1 map, in both counts) and the fc.
    # torchvision's conv_linear_flops is 2 x the same multiply-adds: no difference.
    assert a.totals.macs == 385_814_752 == ref["conv_linear_flops"] // 2
    assert ref["conv_linear_flops"] % 2 == 0
    assert round(a.totals.macs / 1e9, 2) == 0.39  # Table 2's "0.39B"
    assert round(a.totals.macs / 1e9, 1) == 0.4  # torchvision's GFLOPS (_ops)
    # the state_dict: the same keys, in the same order, with the same shapes
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == ref["buffers_state_dict_entries"] == 360


def test_efficientnet_b0_compiled_state_dict():
    gm = archdsl.load("efficientnet_b0").compile(device="meta")
    compiled = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert list(compiled.items()) == list(ref_state_dict("efficientnet_b0").items())
    assert sum(p.numel() for p in gm.parameters()) == 5_288_548


def test_efficientnet_b0_follows_table1():
    """Table 1: seven MBConv stages of 1, 2, 2, 3, 3, 4, 1 layers between the stem and the 1280-channel head."""
    a = analyze("efficientnet_b0")
    sd = a.state_dict_shapes()
    assert [len(blocks(sd, stage)) for stage in range(1, 8)] == [1, 2, 2, 3, 3, 4, 1]
    stages = [f"features.{i}" for i in range(8)]
    assert {n: output_shape(a, n) for n in stages} == {
        "features.0": (32, 112, 112),
        "features.1": (16, 112, 112),
        "features.2": (24, 56, 56),
        "features.3": (40, 28, 28),
        "features.4": (80, 14, 14),
        "features.5": (112, 14, 14),
        "features.6": (192, 7, 7),
        "features.7": (320, 7, 7),
    }
    assert output_shape(a, "features.8") == (1280, 7, 7)
    # 5x5 depthwise kernels in stages 3, 5 and 6 (Table 1's MBConv6, k5x5), 3x3 elsewhere
    kernels = {n.split(".")[1]: a.layer(n).args["k"] for n in (f"features.{i}.0.block.1.0" for i in range(2, 8))}
    assert kernels == {"2": 3, "3": 5, "4": 3, "5": 5, "6": 5, "7": 3}
    # the squeeze-and-excitation squeezes to a quarter of the block's input channels, not its expanded width
    assert sd["features.2.0.block.2.fc1.weight"] == (4, 96, 1, 1)  # input 16, expanded 96
    assert sd["features.6.1.block.2.fc1.weight"] == (48, 1152, 1, 1)  # input 192, expanded 1152
    # the residual (with stochastic depth) where the stride is 1 and the channels stay: every block but a stage's first
    residuals = [layer.name for layer in a.layers if layer.op == "residual"]
    assert residuals == [
        "features.2.1",
        "features.3.1",
        "features.4.1",
        "features.4.2",
        "features.5.1",
        "features.5.2",
        "features.6.1",
        "features.6.2",
        "features.6.3",
    ]
    assert all(layer.params == 0 for layer in a.layers if layer.op == "projection")  # identity shortcuts


def output_shape(a, group: str) -> tuple[int, ...]:
    """The output shape of a group (a stage, a block, a Conv2dNormActivation): that of its last layer."""
    return [layer for layer in a.layers if layer.name == group or layer.name.startswith(group + ".")][-1].output_shape


def drop_probabilities(a) -> dict[str, float]:
    return {
        layer.name.removesuffix(".stochastic_depth"): layer.args["p"] for layer in a.layers if layer.op == "drop_path"
    }


@pytest.mark.parametrize(
    ("name", "depths"), [("efficientnet_b0", (1, 2, 2, 3, 3, 4, 1)), ("efficientnet_b1", (2, 3, 3, 4, 4, 5, 2))]
)
def test_stochastic_depth_grows_with_the_block_index(name, depths):
    """torchvision: block b of all N (from 0) drops with 0.2 * b / N, the same float; only residual blocks use it."""
    a = analyze(name)
    total = sum(depths)
    expected = {}
    b = 0
    for stage, n in enumerate(depths, start=1):
        for j in range(n):
            if j > 0:  # a stage's first block changes the shape and has no residual
                expected[f"features.{stage}.{j}"] = 0.2 * float(b) / total
            b += 1
    assert drop_probabilities(a) == expected
    assert [layer.name for layer in a.layers if layer.op == "residual"] == list(expected)


# ----------------------------------------------------------------------------- B1: depth x 1.1, 240x240
def expected_b1_state_dict() -> dict[str, tuple[int, ...]]:
    """B1's state_dict from B0's reference and torchvision's rules: ceil(layers x 1.1) blocks per stage (2, 3, 3,
    4, 4, 5, 2), the same widths. A stage's extra blocks repeat its second block; stages 1 and 7, one block in
    B0, get a second one (input = output channels, stride 1), written out here."""
    b0 = ref_state_dict("efficientnet_b0")

    def stage_keys(stage: int, block: int) -> list[tuple[str, tuple[int, ...]]]:
        prefix = f"features.{stage}.{block}."
        return [(k[len(prefix) :], v) for k, v in b0.items() if k.startswith(prefix)]

    def bn(name: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
        return [(f"{name}.weight", (c,)), (f"{name}.bias", (c,)), (f"{name}.running_mean", (c,))] + [
            (f"{name}.running_var", (c,)),
            (f"{name}.num_batches_tracked", ()),
        ]

    # features.1.1: 16 -> 16, t = 1 (no expansion): depthwise 3x3, SE to max(1, 16 // 4) = 4, projection
    stage1_extra = [("block.0.0.weight", (16, 1, 3, 3)), *bn("block.0.1", 16)]
    stage1_extra += [("block.1.fc1.weight", (4, 16, 1, 1)), ("block.1.fc1.bias", (4,))]
    stage1_extra += [("block.1.fc2.weight", (16, 4, 1, 1)), ("block.1.fc2.bias", (16,))]
    stage1_extra += [("block.2.0.weight", (16, 16, 1, 1)), *bn("block.2.1", 16)]
    # features.7.1: 320 -> 320, t = 6: expansion to 1920, depthwise 3x3, SE to 80, projection
    stage7_extra = [("block.0.0.weight", (1920, 320, 1, 1)), *bn("block.0.1", 1920)]
    stage7_extra += [("block.1.0.weight", (1920, 1, 3, 3)), *bn("block.1.1", 1920)]
    stage7_extra += [("block.2.fc1.weight", (80, 1920, 1, 1)), ("block.2.fc1.bias", (80,))]
    stage7_extra += [("block.2.fc2.weight", (1920, 80, 1, 1)), ("block.2.fc2.bias", (1920,))]
    stage7_extra += [("block.3.0.weight", (320, 1920, 1, 1)), *bn("block.3.1", 320)]

    out: list[tuple[str, tuple[int, ...]]] = [(k, v) for k, v in b0.items() if k.startswith("features.0.")]
    for stage, n in enumerate((2, 3, 3, 4, 4, 5, 2), start=1):
        for block in range(n):
            if block == 0:
                items = stage_keys(stage, 0)
            elif stage == 1:
                items = stage1_extra
            elif stage == 7:
                items = stage7_extra
            else:
                items = stage_keys(stage, 1)
            out += [(f"features.{stage}.{block}.{k}", v) for k, v in items]
    out += [(k, v) for k, v in b0.items() if k.startswith(("features.8.", "classifier."))]
    return dict(out)


def test_efficientnet_b1():
    a = analyze("efficientnet_b1")
    assert a.input_shape == (3, 240, 240)
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == 7_794_184  # torchvision's num_params; Table 2's "7.8M"
    assert a.totals.buffers == 62_117  # 69 BN layers: 2 x 31,024 statistics + 69 counters
    # convs (SE's 1x1 ones included) and the fc: 0.687 G, torchvision's 0.7 GFLOPS (_ops). Table 2 prints
    # 0.70B, TensorFlow's count, whose rules the paper does not give
    assert a.totals.macs == 686_802_832
    assert round(a.totals.macs / 1e9, 1) == 0.7
    expected = expected_b1_state_dict()
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == 508
    assert buffer_values(expected) == a.totals.buffers
    assert sum(math.prod(v) for k, v in expected.items() if ".running_" not in k and "num_batches" not in k) == (
        a.totals.params
    )
    assert [len(blocks(expected, stage)) for stage in range(1, 8)] == [2, 3, 3, 4, 4, 5, 2]
    # the same widths as B0 (width multiplier 1.0): the stem, the head and the classifier are B0's
    b0 = ref_state_dict("efficientnet_b0")
    for key in ("features.0.0.weight", "features.8.0.weight", "classifier.1.weight", "classifier.1.bias"):
        assert expected[key] == b0[key]
    # the map sizes at 240x240: 120, 60, 30, 15, 8 (the stride-2 layers pad 1 or 2 on 15x15)
    shapes = [output_shape(a, f"features.{i}") for i in range(9)]
    assert shapes == [
        (32, 120, 120),
        (16, 120, 120),
        (24, 60, 60),
        (40, 30, 30),
        (80, 15, 15),
        (112, 15, 15),
        (192, 8, 8),
        (320, 8, 8),
        (1280, 8, 8),
    ]


def test_efficientnet_b1_compiled_state_dict():
    gm = archdsl.load("efficientnet_b1").compile(device="meta")
    compiled = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert list(compiled.items()) == list(expected_b1_state_dict().items())


def test_dropout_and_head():
    for name in ("efficientnet_b0", "efficientnet_b1"):
        a = analyze(name)
        assert a.layer("classifier.0").op == "dropout"
        assert a.layer("classifier.0").args["p"] == 0.2
        assert a.layer("classifier.1").op == "fc"
        assert a.layer("avgpool").output_shape == (1280, 1, 1)


# ----------------------------------------------------------------------------- B2-B7 with the same block
FAMILY = [  # (width_mult, depth_mult, dropout, resolution): torchvision's; its num_params
    ("b2", 1.1, 1.2, 0.3, 288, 9_109_994),
    ("b3", 1.2, 1.4, 0.3, 300, 12_233_232),
    ("b4", 1.4, 1.8, 0.4, 380, 19_341_616),
    ("b5", 1.6, 2.2, 0.4, 456, 30_389_784),
    ("b6", 1.8, 2.6, 0.5, 528, 43_040_704),
    ("b7", 2.0, 3.1, 0.5, 600, 66_347_960),
]


@pytest.mark.parametrize(("b", "width", "depth", "dropout", "size", "params"), FAMILY)
def test_the_block_scales_to_b2_b7(b, width, depth, dropout, size, params):
    """The spec's width (_make_divisible) and depth (ceil) rules give torchvision's larger EfficientNets too
    (B5-B7 also set BN eps 1e-3, momentum 0.01, which changes no count)."""
    text = SPEC.read_text(encoding="utf-8")
    text += f"\nnetwork tmp_{b} {{\n    input 3x{size}x{size}\n    efficientnet({width}, {depth}, {dropout})\n}}\n"
    a = archdsl.load(text, network=f"tmp_{b}").analyze()
    assert a.totals.params == params
    assert a.outputs == {"output": (1000,)}


# ----------------------------------------------------------------------------- the same function as torchvision
@pytest.mark.parametrize(("name", "size"), [("efficientnet_b0", 224), ("efficientnet_b1", 240)])
def test_same_outputs_as_torchvision(name, size):
    """Where torchvision is installed: its weights load key for key and the outputs agree."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    theirs = getattr(models, name)().eval()
    with torch.no_grad():  # random BN statistics, so that BN is not the identity
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    ours = archdsl.load(name).compile(device="cpu").eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_any_input_size_like_torchvision():
    """torchvision's EfficientNets take any size (min_size 1x1): the squeeze-and-excitation gate (a Cx1x1 map)
    broadcasts over whatever size the map has."""
    net = archdsl.load("efficientnet_b0")
    assert net.input_contract().describe() == "3xHxW with every H, every W"
    torch = pytest.importorskip("torch")
    model = net.compile(device="cpu").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 97, 131)).shape == (1, 1000)
