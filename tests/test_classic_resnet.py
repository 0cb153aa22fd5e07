"""The ResNet family of the library against torchvision and the papers.

specs/classic/resnet.arch (ImageNet ResNets, ResNeXt-50 32x4d, Wide ResNet-50-2),
specs/classic/resnet_cifar.arch (He et al. 2016 Sec. 4.2 and Table 6; stochastic depth) and
specs/classic/wrn.arch (WRN-28-10). Every figure is exact; where a paper rounds, the test
states the exact count and checks that it rounds to the published one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


def analyze(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


def meta_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    gm = archdsl.load(name).compile(device="meta")
    return {k: tuple(v.shape) for k, v in gm.state_dict().items()}


# ----------------------------------------------------------------------------- ImageNet ResNets
IMAGENET = [  # name, params, MACs at 224x224, torchvision's GFLOPS (its MACs, rounded to 0.01 G)
    ("resnet18", 11_689_512, 1_814_073_344, 1.81),
    ("resnet34", 21_797_672, 3_663_761_408, 3.66),
    ("resnet50", 25_557_032, 4_089_184_256, 4.09),
    ("resnet101", 44_549_160, 7_801_405_440, 7.80),
    ("resnet152", 60_192_808, 11_513_626_624, 11.51),
]


@pytest.mark.parametrize(("name", "params", "macs", "gflops"), IMAGENET)
def test_imagenet_resnet_is_torchvisions(name, params, macs, gflops):
    ref = reference(name)
    a = analyze(name)
    assert a.input_shape == (3, 224, 224) == tuple(ref["input"][1:])
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == params == ref["params"]
    assert a.totals.macs == macs == ref["conv_linear_flops"] // 2
    assert round(a.totals.macs / 1e9, 2) == gflops
    # the state_dict: the same keys, in the same order, with the same shapes
    expected = ref_state_dict(name)
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == ref["buffers_state_dict_entries"]


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152"])
def test_imagenet_resnet_compiled_state_dict(name):
    assert list(meta_state_dict(name).items()) == list(ref_state_dict(name).items())


def test_stage_shapes_follow_table1():
    a = analyze("resnet50")
    shapes = {
        n: a.layer(n).output_shape
        for n in ("conv1", "maxpool", "layer1.2", "layer2.3", "layer3.5", "layer4.2", "avgpool")
    }  # each stage's last block
    assert shapes == {
        "conv1": (64, 112, 112),
        "maxpool": (64, 56, 56),
        "layer1.2": (256, 56, 56),
        "layer2.3": (512, 28, 28),
        "layer3.5": (1024, 14, 14),
        "layer4.2": (2048, 7, 7),
        "avgpool": (2048, 1, 1),
    }
    blocks = {
        stage: sum(1 for layer in a.layers if layer.op == "residual" and layer.name.startswith(stage + "."))
        for stage in ("layer1", "layer2", "layer3", "layer4")
    }
    assert blocks == {"layer1": 3, "layer2": 4, "layer3": 6, "layer4": 3}
    # option B only where the shape changes: one projection per stage, the rest identities
    projections = [layer.name for layer in a.layers if layer.op == "projection" and layer.params]
    assert projections == ["layer1.0.downsample", "layer2.0.downsample", "layer3.0.downsample", "layer4.0.downsample"]


PAPER_BOTTLENECK = """
block bottleneck(planes, stride=1) {
    residual(act=relu) {
        conv1: conv(planes, k=1, s=stride, bias=false) - bn1: bn - relu
        conv2: conv(planes, k=3, bias=false) - bn2: bn - relu
        conv3: conv(4 * planes, k=1, bias=false) - bn3: bn
    }
}
block stage(planes, blocks, stride) {
    for j in range(blocks) { bottleneck(planes, max(stride - j * stride, 1)) }
}
input 3x224x224
conv1: conv(64, k=7, s=2, p=3, bias=false) - bn1: bn - relu
maxpool: maxpool(3, s=2, p=1)
for i in range(4) { "layer{i + 1}": stage((64, 128, 256, 512)[i], depths[i], min(i, 1) + 1) }
avgpool: gap
fc: fc-{classes}
"""


@pytest.mark.parametrize(
    ("name", "depths", "macs", "table1"),
    [
        ("resnet50", (3, 4, 6, 3), 3_857_973_248, 3.8),
        ("resnet101", (3, 4, 23, 3), 7_570_194_432, 7.6),
        ("resnet152", (3, 8, 36, 3), 11_282_415_616, 11.3),
    ],
)
def test_table1_flops_count_the_papers_stride_placement(name, depths, macs, table1):
    """The paper strides the first 1x1 of a bottleneck, torchvision the 3x3: same weights, fewer MACs."""
    paper = archdsl.load(f"depths = {depths}\n" + PAPER_BOTTLENECK).analyze()
    assert paper.totals.params == analyze(name).totals.params
    assert paper.state_dict_shapes() == analyze(name).state_dict_shapes()
    assert paper.totals.macs == macs
    assert abs(macs / 1e9 - table1) < 0.07  # Table 1 truncates 3.86 to 3.8, rounds 7.57 and 11.28
    assert analyze("resnet34").totals.macs // 10**8 == 36  # and ResNet-34's 3.66 to 3.6


# ----------------------------------------------------------------------------- ResNeXt, Wide ResNet
def test_resnext50_32x4d():
    a = analyze("resnext50_32x4d")
    assert a.totals.params == 25_028_904  # torchvision's num_params
    assert round(a.totals.macs / 1e9, 2) == 4.23  # torchvision's GFLOPS
    assert a.outputs == {"output": (1000,)}
    sd = a.state_dict_shapes()
    assert list(sd) == list(ref_state_dict("resnet50"))  # torchvision's names: ResNet-50's keys, in order
    # conv2 is a 3x3 conv in 32 groups of width planes * 4/64 * 32: 128, 256, 512, 1024 channels
    assert sd["layer1.0.conv1.weight"] == (128, 64, 1, 1)
    assert sd["layer1.0.conv2.weight"] == (128, 4, 3, 3)
    assert sd["layer1.0.conv3.weight"] == (256, 128, 1, 1)
    assert sd["layer4.2.conv2.weight"] == (1024, 32, 3, 3)
    assert a.layer("layer3.5.conv2").args["groups"] == 32
    gm = archdsl.load("resnext50_32x4d").compile(device="meta")
    assert gm.get_submodule("layer2.0.conv2").groups == 32
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == sd


def test_wide_resnet50_2():
    a = analyze("wide_resnet50_2")
    assert a.totals.params == 68_883_240  # torchvision's num_params
    assert round(a.totals.macs / 1e9, 2) == 11.40  # torchvision's GFLOPS (11.398)
    sd = a.state_dict_shapes()
    assert list(sd) == list(ref_state_dict("resnet50"))
    # "the last block in ResNet-50 has 2048-512-2048 channels, and in Wide ResNet-50-2 has 2048-1024-2048"
    assert ref_state_dict("resnet50")["layer4.2.conv2.weight"] == (512, 512, 3, 3)
    assert sd["layer4.2.conv1.weight"] == (1024, 2048, 1, 1)
    assert sd["layer4.2.conv2.weight"] == (1024, 1024, 3, 3)
    assert sd["layer4.2.conv3.weight"] == (2048, 1024, 1, 1)
    changed = {k for k, shape in sd.items() if shape != ref_state_dict("resnet50")[k]}
    assert changed and all(
        ".conv1." in k or ".conv2." in k or ".bn1." in k or ".bn2." in k or ".conv3." in k for k in changed
    )


# ----------------------------------------------------------------------------- CIFAR-10, He et al. Sec. 4.2
CIFAR = [  # n, exact parameters with option A, Table 6's figure (in millions)
    (3, 269_722, 0.27),
    (5, 464_154, 0.46),
    (7, 658_586, 0.66),
    (9, 853_018, 0.85),
    (18, 1_727_962, 1.7),
]


@pytest.mark.parametrize(("n", "params", "table6"), CIFAR)
def test_cifar_resnet_table6(n, params, table6):
    depth = 6 * n + 2
    a = analyze(f"resnet{depth}_cifar")
    assert a.input_shape == (3, 32, 32)
    assert a.outputs == {"output": (10,)}
    assert a.totals.params == params
    digits = 2 if params < 10**6 else 1
    assert round(params / 1e6, digits) == table6
    # 6n+2 weighted layers: the first conv, 6n 3x3 convs, the fc
    weighted = [layer for layer in a.layers if layer.op in ("conv", "fc")]
    assert len(weighted) == depth
    assert all(layer.args["k"] in (3, (3, 3)) for layer in weighted if layer.op == "conv")
    # three stages of 2n layers on 32x32, 16x16, 8x8 maps with 16, 32, 64 filters
    assert [a.layer(f"layer{s}.{n - 1}").output_shape for s in (1, 2, 3)] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert sum(1 for layer in a.layers if layer.op == "residual") == 3 * n
    # option A: the shortcuts hold no parameter; two of them subsample and zero-pad
    shortcuts = [layer for layer in a.layers if ".downsample" in layer.name]
    assert sum(layer.params for layer in shortcuts) == 0
    assert [(layer.name, layer.op, layer.output_shape) for layer in shortcuts if layer.op != "projection"] == [
        ("layer2.0.downsample.0", "decimate", (16, 16, 16)),
        ("layer2.0.downsample.1", "pad_channels", (32, 16, 16)),
        ("layer3.0.downsample.0", "decimate", (32, 8, 8)),
        ("layer3.0.downsample.1", "pad_channels", (64, 8, 8)),
    ]


@pytest.mark.parametrize(("n", "params", "table6"), CIFAR)
def test_cifar_plain_nets_have_the_resnets_parameters(n, params, table6):
    depth = 6 * n + 2
    plain = analyze(f"plain{depth}_cifar")
    resnet = analyze(f"resnet{depth}_cifar")
    assert plain.totals.params == resnet.totals.params == params  # option A adds no parameter
    assert plain.totals.macs == resnet.totals.macs
    assert plain.state_dict_shapes() == resnet.state_dict_shapes()  # the same layers, the same names
    assert not any(layer.op in ("residual", "add", "decimate", "pad_channels") for layer in plain.layers)
    assert plain.outputs == {"output": (10,)}


def test_option_b_resnet20_is_the_often_quoted_272474():
    """272,474 is ResNet-20 with option B (1x1 conv + BN projections where the shape changes), not option A."""
    b = archdsl.load("""
import residual as res
input 3x32x32
conv1: conv(16, k=3, bias=false) - bn1: bn - relu
layer1: [res.basic(16)]x3
layer2 { res.basic(32, stride=2) - [res.basic(32)]x2 }
layer3 { res.basic(64, stride=2) - [res.basic(64)]x2 }
avgpool: gap
fc: fc-10
""").analyze()
    a = analyze("resnet20_cifar")
    assert b.totals.params == 272_474
    assert b.totals.params - a.totals.params == 2_752 == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert set(a.state_dict_shapes()) < set(b.state_dict_shapes())


# ----------------------------------------------------------------------------- stochastic depth
def test_stochastic_depth_schedule():
    a = analyze("resnet110_stochastic_depth")
    drops = [layer for layer in a.layers if layer.op == "drop_path"]
    L = 54
    assert len(drops) == L
    assert [layer.name for layer in drops] == [f"layer{s}.{j}.drop_path" for s in (1, 2, 3) for j in range(18)]
    p = [layer.args["p"] for layer in drops]
    # drop probability of block l = (1 - p_L) * l / L with survival p_L = 0.5: 1/108, 2/108, ..., 0.5
    assert p == [0.5 * i / L for i in range(1, L + 1)]
    assert p[0] == pytest.approx(1 / 108) and p[-1] == 0.5
    assert all(b - a_ == pytest.approx(1 / 108) for a_, b in zip(p, p[1:]))
    assert drops[0].describe == f"drop_path(p={1 / 108})"
    # each drop_path ends its residual body, right before the sum
    for layer in drops:
        block = layer.name.rpartition(".")[0]
        assert a.layer(block).op == "residual" and layer.name in a.layer(block).inputs
    # it adds no parameter and changes no name: ResNet-110's state_dict
    ref = analyze("resnet110_cifar")
    assert a.totals.params == ref.totals.params == 1_727_962
    assert a.state_dict_shapes() == ref.state_dict_shapes()
    assert a.outputs == {"output": (10,)}


def test_stochastic_depth_survival_is_a_variable():
    p = [
        layer.args["p"]
        for layer in analyze("resnet110_stochastic_depth", survival=0.8).layers
        if layer.op == "drop_path"
    ]
    assert p[-1] == pytest.approx(0.2) and p[0] == pytest.approx(0.2 / 54)
    gm = archdsl.load("resnet110_stochastic_depth").compile(device="meta")
    assert gm.get_submodule("layer1.0.drop_path").p == pytest.approx(1 / 108)
    assert gm.get_submodule("layer3.17.drop_path").p == 0.5


# ----------------------------------------------------------------------------- WRN-28-10
def test_wrn28_10():
    a = analyze("wrn28_10")
    assert a.input_shape == (3, 32, 32) and a.outputs == {"output": (10,)}
    assert a.totals.params == 36_479_194
    assert round(a.totals.params / 1e6, 1) == 36.5  # the paper's 36.5M
    assert [a.layer(f"group{g}.block3").output_shape for g in range(3)] == [(160, 32, 32), (320, 16, 16), (640, 8, 8)]
    sd = a.state_dict_shapes()
    # a 1x1 projection (convdim) only in the first block of each group, none elsewhere
    assert [k for k in sd if "convdim" in k] == [
        "group0.block0.convdim.weight",
        "group1.block0.convdim.weight",
        "group2.block0.convdim.weight",
    ]
    assert sd["group1.block0.convdim.weight"] == (320, 160, 1, 1)
    assert a.layer("group1.block0.convdim").args["s"] in (2, (2, 2))
    # the projection reads the pre-activated input relu(bn0(x)), as in the reference code
    assert a.layer("group1.block0.convdim").inputs == ["group1.block0.relu0"]
    assert a.layer("group1.block0.conv0").inputs == ["group1.block0.relu0"]
    # the other blocks: pre-activation residuals with the identity shortcut, no ReLU after the sum
    assert a.layer("group1.block1").op == "residual" and a.layer("group1.block1").args["act"] == "none"
    assert a.layer("group1.block1.downsample").params == 0
    # biasless convs: conv weights + BN affine + the fc's weight and bias
    assert not any(k.endswith(".bias") and "bn" not in k and not k.startswith("fc") for k in sd)
    assert [k for k in sd if k.startswith("fc")] == ["fc.weight", "fc.bias"]
    assert list(meta_state_dict("wrn28_10").items()) == list(sd.items())


def test_wrn28_10_dropout_variable():
    assert not any(layer.op == "dropout" for layer in analyze("wrn28_10").layers)
    a = analyze("wrn28_10", dropout=0.3)
    drops = [layer for layer in a.layers if layer.op == "dropout"]
    assert len(drops) == 12 and all(layer.args["p"] == 0.3 for layer in drops)
    assert all(a.layer(layer.name.rpartition(".")[0] + ".conv1").inputs == [layer.name] for layer in drops)
    assert a.totals.params == 36_479_194
