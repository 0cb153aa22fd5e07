"""SE-ResNet-50 (specs/modern/seresnet.arch) against timm's seresnet50 and torchvision's ResNet-50.

timm's ResNet names its modules as torchvision's does (conv1, bn1, layer1.0.conv1, ...,
layer1.0.downsample.0/1, fc), and its Bottleneck with attn_layer='se' adds `se` (SEModule:
fc1, fc2, 1x1 convs with bias) between bn3 and downsample. So the expected state_dict is
torchvision's resnet50 (tests/reference/resnet50.json, dumped from torchvision) with an SE
module's four entries inserted after every block's bn3; parameters equal timm's 28,088,024, and
the MACs are ResNet-50's reference count plus one multiply-add per SE weight (the SE's convs
act on the 1x1 squeezed map).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"
PARAMS = 28_088_024  # timm's seresnet50
BUFFERS = 53_173
MACS = 4_091_699_200


def resnet50_reference() -> dict:
    return json.loads((REFERENCE / "resnet50.json").read_text())


def se_channels(c: int) -> int:
    """timm's make_divisible(c / 16, 8) with round_limit 0: nearest multiple of 8, at least 8."""
    return max(8, int(c / 16 + 4) // 8 * 8)


def expected_state_dict() -> dict[str, tuple[int, ...]]:
    """torchvision's resnet50 state_dict with timm's se.fc1/se.fc2 after each block's bn3."""
    out: dict[str, tuple[int, ...]] = {}
    for key, shape in resnet50_reference()["state_dict"].items():
        out[key] = tuple(shape)
        if key.endswith(".bn3.num_batches_tracked"):
            block = key.removesuffix(".bn3.num_batches_tracked")
            c = out[f"{block}.bn3.weight"][0]
            r = se_channels(c)
            out[f"{block}.se.fc1.weight"] = (r, c, 1, 1)
            out[f"{block}.se.fc1.bias"] = (r,)
            out[f"{block}.se.fc2.weight"] = (c, r, 1, 1)
            out[f"{block}.se.fc2.bias"] = (c,)
    return out


def test_seresnet50_is_timms():
    a = archdsl.load("seresnet50").analyze()
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == PARAMS
    assert a.totals.buffers == BUFFERS
    expected = expected_state_dict()
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    ref = resnet50_reference()
    se = {k: s for k, s in expected.items() if ".se." in k}
    assert len(se) == 4 * 16
    # ResNet-50's parameters plus the SE modules' (weights and biases)
    assert PARAMS == ref["params"] + sum(math.prod(s) for s in se.values())
    assert PARAMS - ref["params"] == 2_530_992
    # buffers: the same batch norms as ResNet-50 (the SE has none)
    bn_buffers = sum(math.prod(s) for k, s in expected.items() if "running" in k or "num_batches" in k)
    assert BUFFERS == bn_buffers
    # MACs: ResNet-50's convs and fc (torchvision's conv_linear_flops / 2) plus one multiply-add
    # per SE conv weight: fc1 and fc2 are 1x1 convs on a 1x1 map; the squeeze (a mean), the
    # sigmoid and the channel-wise product are not convs and are not counted
    se_weights = sum(math.prod(s) for k, s in se.items() if k.endswith(".weight"))
    assert se_weights == 2_514_944
    assert a.totals.macs == MACS == ref["conv_linear_flops"] // 2 + se_weights
    assert round(a.totals.macs / 1e9, 2) == 4.09


def test_compiled_state_dict():
    gm = archdsl.load("seresnet50").compile(device="meta")
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == list(expected_state_dict().items())


def test_block_layout():
    a = archdsl.load("seresnet50").analyze()
    names = [(x.name, x.op) for x in a.layers if x.name.startswith("layer2.0")]
    assert names == [
        ("layer2.0.conv1", "conv"),
        ("layer2.0.bn1", "bn"),
        ("layer2.0.act1", "relu"),
        ("layer2.0.conv2", "conv"),
        ("layer2.0.bn2", "bn"),
        ("layer2.0.act2", "relu"),
        ("layer2.0.conv3", "conv"),
        ("layer2.0.bn3", "bn"),
        ("layer2.0.se.branch1", "identity"),
        ("layer2.0.se.pool", "gap"),
        ("layer2.0.se.fc1", "conv"),
        ("layer2.0.se.act", "relu"),
        ("layer2.0.se.fc2", "conv"),
        ("layer2.0.se.gate", "sigmoid"),
        ("layer2.0.se", "mul"),
        ("layer2.0.downsample", "projection"),
        ("layer2.0", "residual"),
    ]
    # the stride is in the 3x3 conv (ResNet v1.5, as timm); the gate scales the 512x28x28 map
    assert a.layer("layer2.0.conv1").output_shape == (128, 56, 56)
    assert a.layer("layer2.0.conv2").output_shape == (128, 28, 28)
    assert a.layer("layer2.0.se.fc1").output_shape == (32, 1, 1)
    assert a.layer("layer2.0.se.gate").output_shape == (512, 1, 1)
    assert a.layer("layer2.0.se").output_shape == (512, 28, 28)
    shapes = {n: a.layer(n).output_shape for n in ("maxpool", "layer1.2", "layer2.3", "layer3.5", "layer4.2")}
    assert shapes == {
        "maxpool": (64, 56, 56),
        "layer1.2": (256, 56, 56),
        "layer2.3": (512, 28, 28),
        "layer3.5": (1024, 14, 14),
        "layer4.2": (2048, 7, 7),
    }
    squeeze = {x.name.split(".")[0]: x.output_shape[0] for x in a.layers if x.name.endswith(".se.fc1")}
    assert squeeze == {"layer1": 16, "layer2": 32, "layer3": 64, "layer4": 128}  # C / 16
    assert [se_channels(c) for c in (256, 512, 1024, 2048)] == [16, 32, 64, 128]
