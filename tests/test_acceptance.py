"""The library against published figures: the lecture slides, the papers and torchvision.

Every number here is exact. Where a slide rounds or errs, the test states the exact
figure and a comment says how it relates to the slide's.
"""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


def hwc(shape: tuple[int, ...]) -> str:
    """The slides write maps as HxWxC (``55x55x96``) and vectors as their length."""
    return "x".join(map(str, (*shape[1:], shape[0]))) if len(shape) == 3 else str(shape[0])


def weights_without_bias(layer) -> int:
    return prod(layer.param_shapes["weight"])


# ----------------------------------------------------------------------------- LeNet-5
def test_lenet5_fig2_and_parameters():
    a = archdsl.load("lenet5").analyze()
    assert a.input_shape == (1, 32, 32)
    shapes = {n: a.layer(n).output_shape for n in ("c1", "s2", "c3", "s4", "c5", "f6", "out")}
    assert shapes == {
        "c1": (6, 28, 28),
        "s2": (6, 14, 14),
        "c3": (16, 10, 10),
        "s4": (16, 5, 5),
        "c5": (120, 1, 1),
        "f6": (84,),
        "out": (10,),
    }
    # C1, C5 and F6 match the paper's 156, 48,120 and 10,164; C3 is fully connected (the
    # paper's sparse table gives 1,516) and the output is a plain fc layer, not RBF units.
    params = {n: a.layer(n).params for n in ("c1", "c3", "c5", "f6", "out")}
    assert params == {"c1": 156, "c3": 2_416, "c5": 48_120, "f6": 10_164, "out": 850}
    assert a.totals.params == 61_706
    assert a.outputs == {"output": (10,)}


# ----------------------------------------------------------------------------- AlexNet
ALEXNET_SLIDE_TABLE = [  # CS231n lecture 9, "AlexNet" full (simplified) architecture
    ("input", "227x227x3"),
    ("conv1", "55x55x96"),
    ("pool1", "27x27x96"),
    ("norm1", "27x27x96"),
    ("conv2", "27x27x256"),
    ("pool2", "13x13x256"),
    ("norm2", "13x13x256"),
    ("conv3", "13x13x384"),
    ("conv4", "13x13x384"),
    ("conv5", "13x13x256"),
    ("pool3", "6x6x256"),
    ("fc6", "4096"),
    ("fc7", "4096"),
    ("fc8", "1000"),
]


@pytest.mark.parametrize("groups", [1, 2])
def test_alexnet_slide_table(groups: int):
    a = archdsl.load("alexnet_paper", groups=groups).analyze()
    assert [(name, hwc(a.layer(name).output_shape)) for name, _ in ALEXNET_SLIDE_TABLE] == ALEXNET_SLIDE_TABLE
    # "CONV1: 96 11x11 filters": 11*11*3*96 = 34,848 weights, 34,944 with biases
    assert weights_without_bias(a.layer("conv1")) == 34_848
    assert a.layer("conv1").params == 34_944
    assert a.outputs == {"output": (1000,)}


def test_alexnet_parameters_one_and_two_gpus():
    one = archdsl.load("alexnet_paper", groups=1).analyze()
    two = archdsl.load("alexnet_paper").analyze()  # groups = 2 is the spec's default, as in the paper
    assert one.totals.params == 62_378_344
    assert two.totals.params == 60_965_224
    per_layer = {
        n: (one.layer(n).params, two.layer(n).params)
        for n in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
    }
    assert per_layer == {
        "conv1": (34_944, 34_944),
        "conv2": (614_656, 307_456),  # 5x5x96 vs 5x5x48 inputs per filter
        "conv3": (885_120, 885_120),  # conv3 sees both GPUs' maps in the paper
        "conv4": (1_327_488, 663_936),
        "conv5": (884_992, 442_624),
        "fc6": (37_752_832, 37_752_832),
        "fc7": (16_781_312, 16_781_312),
        "fc8": (4_097_000, 4_097_000),
    }
    assert one.totals.params - two.totals.params == 1_413_120
    gm = archdsl.load("alexnet_paper").compile(device="meta")
    assert gm.conv2.groups == 2 and gm.conv3.groups == 1


# ----------------------------------------------------------------------------- VGG-16
VGG16_WEIGHTS = [  # CS231n's VGG16 memory/params slide: weights per layer, without biases
    1_728,
    36_864,  # 3*3*3*64, 3*3*64*64
    73_728,
    147_456,
    294_912,
    589_824,
    589_824,
    1_179_648,
    2_359_296,
    2_359_296,
    2_359_296,
    2_359_296,
    2_359_296,
    102_760_448,
    16_777_216,
    4_096_000,  # 7*7*512*4096, 4096*4096, 4096*1000
]
VGG16_MAPS = [  # the same slide's activations per image: input, 13 conv, 5 pool, 3 fc
    150_528,  # 224x224x3
    3_211_264,
    3_211_264,
    802_816,  # 224x224x64 (x2), pool → 112x112x64
    1_605_632,
    1_605_632,
    401_408,  # 112x112x128 (x2), pool → 56x56x128
    802_816,
    802_816,
    802_816,
    200_704,  # 56x56x256 (x3), pool → 28x28x256
    401_408,
    401_408,
    401_408,
    100_352,  # 28x28x512 (x3), pool → 14x14x512
    100_352,
    100_352,
    100_352,
    25_088,  # 14x14x512 (x3), pool → 7x7x512
    4_096,
    4_096,
    1_000,
]


@pytest.fixture(scope="module")
def vgg16():
    return archdsl.load("vgg16").analyze()


def test_vgg16_weights_per_layer(vgg16):
    learnable = [layer for layer in vgg16.layers if layer.params]
    assert [layer.name for layer in learnable] == [
        "features.0",
        "features.2",
        "features.5",
        "features.7",
        "features.10",
        "features.12",
        "features.14",
        "features.17",
        "features.19",
        "features.21",
        "features.24",
        "features.26",
        "features.28",
        "classifier.0",
        "classifier.3",
        "classifier.6",
    ]
    assert [weights_without_bias(layer) for layer in learnable] == VGG16_WEIGHTS
    assert sum(VGG16_WEIGHTS) == 138_344_128  # + 13,416 biases
    assert vgg16.totals.params == 138_357_544 == reference("vgg16")["params"]


def test_vgg16_activations(vgg16):
    maps = [layer for layer in vgg16.layers if not layer.elementwise]
    assert [layer.activations for layer in maps if layer.name != "avgpool"] == VGG16_MAPS
    for name in ("features.0", "features.1", "features.2", "features.3"):  # each 224x224x64 map
        assert vgg16.layer(name).activations == 3_211_264
    # The slide sums these maps to "24M" (x4 bytes ~ 96MB / image, forward only). The exact
    # sum of its own table is 15,237,608 (~15.2M, ~61MB in float32): the "24M" overstates it.
    assert sum(VGG16_MAPS) == 15_237_608
    # archdsl's total counts the same maps plus torchvision's 7x7x512 `avgpool` output
    # (25,088); in-place ReLU and dropout outputs are not counted.
    assert vgg16.layer("avgpool").activations == 25_088
    assert vgg16.totals.activations == 15_262_696 == sum(VGG16_MAPS) + 25_088


def test_vgg16_macs_match_torchvision(vgg16):
    ref = reference("vgg16")
    assert vgg16.totals.macs == 15_470_264_320 == ref["conv_linear_flops"] // 2
    assert vgg16.totals.flops == ref["conv_linear_flops"]


def test_vgg16_state_dict_is_torchvisions(vgg16):
    ref = ref_state_dict("vgg16")
    assert vgg16.state_dict_shapes() == ref
    assert list(vgg16.state_dict_shapes()) == list(ref)
    assert len(ref) == reference("vgg16")["buffers_state_dict_entries"] == 32
    gm = archdsl.load("vgg16").compile(device="meta")
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == ref
    assert vgg16.outputs == {"output": (1000,)} and vgg16.input_shape == (3, 224, 224)


# ----------------------------------------------------------------------------- Inception
def _inception(network: str):
    return archdsl.load("inception", network=network).analyze()


def test_inception_naive_slide_example():
    a = _inception("naive_example")
    assert a.input_shape == (256, 28, 28)
    assert a.outputs == {"output": (672, 28, 28)}  # 128 + 192 + 96 + 256
    convs = [layer.macs for layer in a.layers if layer.op == "conv"]
    assert convs == [25_690_112, 346_816_512, 481_689_600]  # 1x1 128, 3x3 192, 5x5 96 on 256 channels
    assert a.totals.macs == 854_196_224  # slide: "854M ops"


def test_inception_bottleneck_slide_example():
    a = _inception("bottleneck_example")
    assert a.outputs == {"output": (480, 28, 28)}  # 128 + 192 + 96 + 64
    macs = {layer.name: layer.macs for layer in a.layers if layer.op == "conv"}
    assert macs == {
        "module.branch1.0": 25_690_112,  # 1x1 conv, 128
        "module.branch2.0": 12_845_056,  # 1x1 conv, 64 (3x3 reduce)
        "module.branch2.2": 86_704_128,  # 3x3 conv, 192 on 64 channels
        "module.branch3.0": 12_845_056,  # 1x1 conv, 64 (5x5 reduce)
        "module.branch3.2": 120_422_400,  # 5x5 conv, 96 on 64 channels
        "module.branch4.1": 12_845_056,  # 1x1 conv, 64 (pool proj)
    }
    assert a.totals.macs == 271_351_808
    # The slide says "358M ops", but its own six terms add up to 271M: 358M is this total
    # with the 3x3 term (86,704,128) counted twice.
    assert a.totals.macs + macs["module.branch2.2"] == 358_055_936


def test_inception_block_is_reusable():
    net = archdsl.load("import inception\ninput 192x28x28\ninception3a: inception.inception(64, 96, 128, 16, 32, 32)")
    a = net.analyze()
    assert a.outputs == {"output": (256, 28, 28)}  # GoogLeNet Table 1, inception (3a): 28x28x256
    assert a.totals.macs == 128_049_152  # Table 1: "128M" ops
    # weights of the six convs 163,328 (+ 368 biases); Table 1 prints 159K for this row
    assert sum(weights_without_bias(layer) for layer in a.layers if layer.op == "conv") == 163_328
    assert a.totals.params == 163_696
    assert "inception3a.branch4.1.weight" in a.state_dict_shapes()


# ----------------------------------------------------------------------------- the slides' patterns
@pytest.mark.parametrize(
    "pattern",
    [
        "[CONV-POOL]x2-FC",
        "INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC",
    ],
)
def test_slide_patterns_compile_and_run(pattern: str):
    import torch

    net = archdsl.load(pattern, input="3x32x32", classes=10)
    a = net.analyze()
    assert a.outputs == {"output": (10,)}
    gm = net.compile()
    with torch.no_grad():
        y = gm(torch.randn(2, 3, 32, 32))
    assert tuple(y.shape) == (2, 10)
    assert sum(p.numel() for p in gm.parameters()) == a.totals.params


def test_slide_pattern_defaults():
    """The documented defaults: CONV = conv3-{filters} (32), POOL = 2x2/2, FC = fc-{hidden} (128),
    and the last bare FC gets {classes} outputs."""
    a = archdsl.load("[CONV-POOL]x2-FC", input="3x32x32", classes=10).analyze()
    assert a.totals.params == 30_634  # 896 + 9,248 + 20,490 (32*8*8 → 10)
    b = archdsl.load(
        "INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC", input="3x32x32", classes=10
    ).analyze()
    assert b.totals.params == 130_602
    assert [layer.output_shape for layer in b.layers if layer.op == "fc"] == [(128,), (128,), (10,)]


# ----------------------------------------------------------------------------- ResNets from the blocks
RESNET18 = """
import residual as res
input 3x224x224
conv1: conv(64, k=7, s=2, p=3, bias=false) - bn1: bn - relu
maxpool: maxpool(3, s=2, p=1)
layer1: [res.basic(64)]x2
layer2 {
    res.basic(128, stride=2)
    res.basic(128)
}
layer3 {
    res.basic(256, stride=2)
    res.basic(256)
}
layer4 {
    res.basic(512, stride=2)
    res.basic(512)
}
avgpool: gap
fc: fc-{classes}
"""

RESNET50 = """
import residual as res
input 3x224x224
conv1: conv(64, k=7, s=2, p=3, bias=false) - bn1: bn - relu
maxpool: maxpool(3, s=2, p=1)
layer1: [res.bottleneck(64)]x3
layer2 {
    res.bottleneck(128, stride=2)
    [res.bottleneck(128)]x3
}
layer3 {
    res.bottleneck(256, stride=2)
    [res.bottleneck(256)]x5
}
layer4 {
    res.bottleneck(512, stride=2)
    [res.bottleneck(512)]x2
}
avgpool: gap
fc: fc-{classes}
"""


@pytest.mark.parametrize(
    ("name", "text", "params", "macs"),
    [
        ("resnet18", RESNET18, 11_689_512, 1_814_073_344),
        ("resnet50", RESNET50, 25_557_032, 4_089_184_256),
    ],
)
def test_resnet_from_residual_blocks_is_torchvisions(name, text, params, macs):
    ref = reference(name)
    net = archdsl.load(text)
    a = net.analyze()
    assert a.totals.params == params == ref["params"]
    assert a.totals.macs == macs == ref["conv_linear_flops"] // 2
    assert a.outputs == {"output": (1000,)}
    assert a.state_dict_shapes() == ref_state_dict(name)
    assert list(a.state_dict_shapes()) == list(ref_state_dict(name))
    gm = net.compile(device="meta")
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == ref_state_dict(name)
    assert len(a.state_dict_shapes()) == ref["buffers_state_dict_entries"]  # the reference's state_dict entry count
