"""MobileNetV3-Large and -Small (specs/modern/mobilenet_v3.arch) against torchvision.

mobilenet_v3_large is checked key for key against torchvision's state_dict
(tests/reference/mobilenet_v3_large.json: keys, shapes and order, parameters, and the MACs of its
convs and linears); mobilenet_v3_small against torchvision's published parameter count and spot
keys. Both, and the variants torchvision builds from the same rows (its _width_mult, _reduced_tail,
_dilated), are also checked against `torchvision_layout` below: the state_dict and MACs worked out
in plain Python from torchvision's construction rules (InvertedResidualConfig, InvertedResidual,
SqueezeExcitation, MobileNetV3), independently of archdsl. Everything runs on the pure-Python
analysis except the meta-device compiles; the forward passes are done by tests/test_specs.py.
"""

from __future__ import annotations

import json
from functools import cache
from math import prod
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"
SPEC = "specs/modern/mobilenet_v3.arch"


@cache
def analysis(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


def out_shape(a, name: str) -> tuple[int, ...]:
    """The output of the module `name`: the last layer at or under it (layers are in graph order)."""
    return [layer for layer in a.layers if layer.name == name or layer.name.startswith(name + ".")][-1].output_shape


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


# ----------------------------------------------------------------------------- torchvision's rules
# torchvision's rows (the paper's Tables 1 and 2): input, kernel, expanded, output, SE, "RE"/"HS", stride;
# the last three rows are the stage that _reduced_tail narrows and _dilated dilates
LARGE = [
    (16, 3, 16, 16, False, "RE", 1),
    (16, 3, 64, 24, False, "RE", 2),
    (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2),
    (80, 3, 200, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 480, 112, True, "HS", 1),
    (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2),
    (160, 5, 960, 160, True, "HS", 1),
    (160, 5, 960, 160, True, "HS", 1),
]
SMALL = [
    (16, 3, 16, 16, True, "RE", 2),
    (16, 3, 72, 24, False, "RE", 2),
    (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1),
    (48, 5, 144, 48, True, "HS", 1),
    (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1),
    (96, 5, 576, 96, True, "HS", 1),
]
ROWS = {"mobilenet_v3_large": (LARGE, 1280), "mobilenet_v3_small": (SMALL, 1024)}


def divisible8(v: float) -> int:
    """torchvision's _make_divisible(v, 8): the nearest multiple of 8 (at least 8), 8 more if that
    loses more than a tenth of v."""
    m = max(8, int(v + 4) // 8 * 8)
    return m + 8 if m < 0.9 * v else m


def torchvision_layout(name: str, width_mult=1.0, reduced_tail=False, dilated=False, size=224, classes=1000):
    """(state_dict key → shape in order, conv + linear MACs, residual block indices) of torchvision's
    MobileNetV3 built with these options, from its rules."""
    rows, last_channel = ROWS[name]
    last_stage = len(rows) - 3  # the rows _reduced_tail and _dilated change
    sd: dict[str, tuple[int, ...]] = {}
    macs = 0

    def conv(key, cin, cout, k, hw, groups=1, bias=False):
        nonlocal macs
        sd[f"{key}.weight"] = (cout, cin // groups, k, k)
        if bias:
            sd[f"{key}.bias"] = (cout,)
        macs += cout * (cin // groups) * k * k * hw * hw

    def conv_bn(key, cin, cout, k, hw, groups=1):
        conv(f"{key}.0", cin, cout, k, hw, groups)
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            sd[f"{key}.1.{leaf}"] = (cout,)
        sd[f"{key}.1.num_batches_tracked"] = ()

    def width(c, halved=False):
        return divisible8((c // 2 if reduced_tail and halved else c) * width_mult)

    hw = (size - 1) // 2 + 1
    conv_bn("features.0", 3, width(rows[0][0]), 3, hw)
    residual = []
    for i, (cin, k, e, cout, se, _act, s) in enumerate(rows):
        # _reduced_tail halves the last stage's widths, except the input and expansion of its first row
        cin, e, cout = width(cin, i > last_stage), width(e, i > last_stage), width(cout, i >= last_stage)
        key, j = f"features.{i + 1}.block", 0
        if e != cin:
            conv_bn(f"{key}.{j}", cin, e, 1, hw)
            j += 1
        stride = 1 if dilated and i >= last_stage else s
        hw = (hw - 1) // stride + 1
        conv_bn(f"{key}.{j}", e, e, k, hw, groups=e)
        j += 1
        if se:
            squeeze = divisible8(e // 4)
            conv(f"{key}.{j}.fc1", e, squeeze, 1, 1, bias=True)
            conv(f"{key}.{j}.fc2", squeeze, e, 1, 1, bias=True)
            j += 1
        conv_bn(f"{key}.{j}", e, cout, 1, hw)
        if s == 1 and cin == cout:
            residual.append(i + 1)
    last = width(rows[-1][3], True)
    conv_bn(f"features.{len(rows) + 1}", last, 6 * last, 1, hw)
    hidden = width(last_channel, True)
    sd["classifier.0.weight"], sd["classifier.0.bias"] = (hidden, 6 * last), (hidden,)
    sd["classifier.3.weight"], sd["classifier.3.bias"] = (classes, hidden), (classes,)
    macs += 6 * last * hidden + hidden * classes
    return sd, macs, residual


def test_the_rules_give_torchvisions_reference():
    """The oracle itself, against torchvision's real state_dict and count."""
    ref = reference("mobilenet_v3_large")
    sd, macs, residual = torchvision_layout("mobilenet_v3_large")
    assert list(sd.items()) == list(ref_state_dict("mobilenet_v3_large").items())
    assert macs == ref["conv_linear_flops"] // 2
    assert residual == [1, 3, 5, 6, 8, 9, 10, 12, 14, 15]
    assert divisible8(18) == 24 and divisible8(30) == 32 and divisible8(4) == 8 and divisible8(36) == 40


# ----------------------------------------------------------------------------- Large
def test_mobilenet_v3_large_is_torchvisions():
    ref = reference("mobilenet_v3_large")
    a = analysis("mobilenet_v3_large")
    assert a.input_shape == (3, 224, 224) == tuple(ref["input"][1:])
    assert a.outputs == {"output": (1000,)} and tuple(ref["output"]) == (1, 1000)
    assert a.totals.params == 5_483_032 == ref["params"] == ref["trainable_params"]  # torchvision's num_params
    # the state_dict: the same keys, in the same order, with the same shapes
    expected = ref_state_dict("mobilenet_v3_large")
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == ref["buffers_state_dict_entries"] == 312
    # buffers: each BN's running mean and variance (2 x 12,200 channels) and its num_batches_tracked (46 BNs)
    running = [k for k in expected if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert a.totals.buffers == sum(prod(expected[k]) for k in running) == 24_446
    assert sum(k.endswith("num_batches_tracked") for k in expected) == 46
    assert sum(expected[k][0] for k in expected if k.endswith("running_mean")) == 12_200
    # MACs of the convs and linears: exactly torchvision's count, the SE's fc1/fc2 (1x1 convs on the
    # pooled 1x1 map, 1,507,200 MACs) included on both sides; nothing differs
    assert a.totals.macs == 216_589_760 == ref["conv_linear_flops"] // 2
    assert ref["conv_linear_flops"] % 2 == 0
    assert sum(layer.macs for layer in a.layers if layer.name.endswith((".fc1", ".fc2"))) == 1_507_200
    assert round(a.totals.macs / 1e9, 3) == 0.217  # torchvision's "_ops" (GFLOPS column)


def test_mobilenet_v3_large_compiled_state_dict():
    gm = archdsl.load("mobilenet_v3_large").compile(device="meta")
    sd = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert list(sd.items()) == list(ref_state_dict("mobilenet_v3_large").items())
    assert sum(p.numel() for p in gm.parameters()) == 5_483_032
    assert sum(b.numel() for b in gm.buffers()) == 24_446


def test_mobilenet_v3_large_paper_figures():
    """Table 3 prints 5.4M parameters and 219M MAdds."""
    a = analysis("mobilenet_v3_large")
    assert a.totals.params // 10**5 == 54  # 5.48M, truncated
    # 219M is 2,410,240 above the conv-and-fc count; neither the SE gates' products nor the
    # residual sums (the elementwise work a count might add) make up the difference
    assert 219_000_000 - a.totals.macs == 2_410_240
    gates = sum(prod(layer.output_shape) for layer in a.layers if layer.op == "mul")
    sums = sum(prod(layer.output_shape) for layer in a.layers if layer.op == "residual")
    assert (gates, sums) == (597_408, 423_360)
    assert a.totals.macs + gates + sums < 219_000_000


def test_mobilenet_v3_large_blocks():
    a = analysis("mobilenet_v3_large")
    shapes = {n: out_shape(a, n) for n in ("features.0", "features.1", "features.3", "features.6")}
    assert shapes == {
        "features.0": (16, 112, 112),
        "features.1": (16, 112, 112),
        "features.3": (24, 56, 56),
        "features.6": (40, 28, 28),
    }
    assert out_shape(a, "features.12") == (112, 14, 14)
    assert out_shape(a, "features.13") == (160, 7, 7)
    assert out_shape(a, "features.15") == (160, 7, 7)
    assert a.layer("features.16.2").output_shape == (960, 7, 7)
    residuals = [int(n.split(".")[1]) for n in (layer.name for layer in a.layers if layer.op == "residual")]
    assert residuals == [1, 3, 5, 6, 8, 9, 10, 12, 14, 15]
    # the shortcut is the identity: no projection parameters anywhere
    assert all(layer.params == 0 for layer in a.layers if layer.op == "projection")
    # activations: ReLU in the first six blocks, hard-swish after; the SE: ReLU, then hard-sigmoid
    assert a.layer("features.0.2").op == "hardswish"
    assert a.layer("features.6.block.1.2").op == "relu"
    assert a.layer("features.7.block.1.2").op == "hardswish"
    se = [layer.op for layer in a.layers if layer.name.startswith("features.4.block.2")]
    assert se == ["identity", "gap", "conv", "relu", "conv", "hardsigmoid", "mul"]
    assert a.layer("features.4.block.1.0").args["k"] == 5


# ----------------------------------------------------------------------------- Small
def test_mobilenet_v3_small_is_torchvisions():
    a = analysis("mobilenet_v3_small")
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == 2_542_856  # torchvision's num_params
    assert a.totals.macs == 56_510_400
    assert round(a.totals.macs / 1e9, 3) == 0.057  # torchvision's "_ops"
    # Table 3 prints 2.5M parameters and 56M MAdds: both truncate the exact figures
    assert a.totals.params // 10**5 == 25 and a.totals.macs // 10**6 == 56
    sd = a.state_dict_shapes()
    assert len(sd) == 244
    assert a.totals.buffers == 12_146
    spots = {
        "features.0.0.weight": (16, 3, 3, 3),
        # the first block has no expansion (16 -> 16), an SE with 8 squeeze channels, and stride 2
        "features.1.block.0.0.weight": (16, 1, 3, 3),
        "features.1.block.1.fc1.weight": (8, 16, 1, 1),
        "features.1.block.1.fc1.bias": (8,),
        "features.1.block.1.fc2.weight": (16, 8, 1, 1),
        "features.1.block.2.0.weight": (16, 16, 1, 1),
        "features.1.block.2.1.num_batches_tracked": (),
        "features.2.block.0.0.weight": (72, 16, 1, 1),
        "features.2.block.2.0.weight": (24, 72, 1, 1),
        "features.3.block.1.0.weight": (88, 1, 3, 3),
        "features.4.block.1.0.weight": (96, 1, 5, 5),
        "features.4.block.2.fc1.weight": (24, 96, 1, 1),
        "features.8.block.2.fc1.weight": (40, 144, 1, 1),  # 144 // 4 = 36 -> 40
        "features.9.block.2.fc1.weight": (72, 288, 1, 1),
        "features.11.block.2.fc1.weight": (144, 576, 1, 1),
        "features.11.block.3.0.weight": (96, 576, 1, 1),
        "features.12.0.weight": (576, 96, 1, 1),
        "features.12.1.running_var": (576,),
        "classifier.0.weight": (1024, 576),
        "classifier.3.weight": (1000, 1024),
        "classifier.3.bias": (1000,),
    }
    assert {k: sd[k] for k in spots} == spots
    assert "features.1.block.3.0.weight" not in sd and "features.2.block.3.0.weight" not in sd
    residuals = [int(n.split(".")[1]) for n in (layer.name for layer in a.layers if layer.op == "residual")]
    assert residuals == [3, 5, 6, 8, 10, 11]
    assert out_shape(a, "features.11") == (96, 7, 7)
    assert a.layer("features.3.block.1.2").op == "relu" and a.layer("features.4.block.1.2").op == "hardswish"


def test_mobilenet_v3_small_compiled_state_dict():
    gm = archdsl.load("mobilenet_v3_small").compile(device="meta")
    sd = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert list(sd.items()) == list(analysis("mobilenet_v3_small").state_dict_shapes().items())
    assert sum(p.numel() for p in gm.parameters()) == 2_542_856


# ----------------------------------------------------------------------------- both, and the variants
@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v3_small"])
def test_every_bn_and_classifier(name):
    a = analysis(name)
    bns = [layer for layer in a.layers if layer.op == "bn"]
    assert bns and all(layer.args["eps"] == 0.001 and layer.args["momentum"] == 0.01 for layer in bns)
    convs = [layer for layer in a.layers if layer.op in ("conv", "dwconv")]
    assert all(layer.args["bias"] == layer.name.endswith((".fc1", ".fc2")) for layer in convs)
    head = [layer.op for layer in a.layers if layer.name.startswith("classifier")]
    assert head == ["fc", "hardswish", "dropout", "fc"]
    assert a.layer("classifier.2").args["p"] == 0.2
    assert a.layer("avgpool").output_shape[1:] == (1, 1)


VARIANTS = [  # name, options, parameters, MACs (all from the spec, each checked against the rules)
    ("mobilenet_v3_large", {}, 5_483_032, 216_589_760),
    ("mobilenet_v3_small", {}, 2_542_856, 56_510_400),
    ("mobilenet_v3_large", {"width_mult": 0.75}, 3_377_576, 140_033_816),
    ("mobilenet_v3_large", {"width_mult": 0.5}, None, None),
    ("mobilenet_v3_small", {"width_mult": 0.75}, None, None),
    ("mobilenet_v3_large", {"reduced_tail": True}, 2_569_352, 182_302_720),
    ("mobilenet_v3_large", {"dilated": True}, 5_483_032, 354_816_800),
    ("mobilenet_v3_small", {"reduced_tail": True, "dilated": True}, None, None),
    ("mobilenet_v3_large", {"width_mult": 1.25, "reduced_tail": True, "dilated": True}, None, None),
]


@pytest.mark.parametrize(("name", "options", "params", "macs"), VARIANTS, ids=[f"{v[0]}-{v[1]}" for v in VARIANTS])
def test_torchvision_rules(name, options, params, macs):
    """Every width, key, shape and MAC as torchvision builds the network with these options."""
    variables = {k: (int(v) if isinstance(v, bool) else v) for k, v in options.items()}
    a = archdsl.load(SPEC, network=name, **variables).analyze()
    sd, expected_macs, residual = torchvision_layout(name, **options)
    assert list(a.state_dict_shapes().items()) == list(sd.items())
    assert a.totals.params == sum(
        prod(s) for k, s in sd.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert a.totals.macs == expected_macs
    assert [int(layer.name.split(".")[1]) for layer in a.layers if layer.op == "residual"] == residual
    if params is not None:
        assert (a.totals.params, a.totals.macs) == (params, macs)
