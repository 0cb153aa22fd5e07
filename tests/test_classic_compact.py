"""DenseNet, SqueezeNet, MobileNet v1/v2 and FractalNet against their papers and torchvision.

Every number is exact. Where a paper or torchvision rounds (or misprints), the test states
the exact figure and checks how the published one relates to it. Everything runs on the
pure-Python analysis (no torch) except one meta-device compile; the forward passes are
done once per network by tests/test_specs.py.
"""

from __future__ import annotations

from functools import cache
from math import prod

import pytest

import archdsl


@cache
def analysis(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


def out_shape(a, name: str) -> tuple[int, ...]:
    """The output of the module `name`: the last layer at or under it (layers are in graph order)."""
    return [layer for layer in a.layers if layer.name == name or layer.name.startswith(name + ".")][-1].output_shape


def weights(layer) -> int:
    return prod(layer.param_shapes["weight"])


# ----------------------------------------------------------------------------- DenseNet
DENSENETS = [  # name, growth, blocks, init, params, MACs, torchvision "_ops" (GMACs), state_dict entries
    ("densenet121", 32, (6, 12, 24, 16), 64, 7_978_856, 2_834_161_664, 2.834, 727),
    ("densenet161", 48, (6, 12, 36, 24), 96, 28_681_000, 7_727_907_072, 7.728, 967),
    ("densenet169", 32, (6, 12, 32, 32), 64, 14_149_480, 3_359_843_328, 3.36, 1015),
    ("densenet201", 32, (6, 12, 48, 32), 64, 20_013_928, 4_291_365_888, 4.291, 1207),
]


@pytest.mark.parametrize(
    ("name", "growth", "blocks", "init", "params", "macs", "gmacs", "entries"), DENSENETS, ids=[d[0] for d in DENSENETS]
)
def test_densenet_torchvision_figures(name, growth, blocks, init, params, macs, gmacs, entries):
    a = analysis(name)
    assert a.input_shape == (3, 224, 224) and a.outputs == {"output": (1000,)}
    assert a.totals.params == params  # torchvision's num_params
    assert a.totals.macs == macs
    assert round(macs / 1e9, 3) == gmacs  # torchvision's "_ops" (its "GFLOPS" are multiply-adds)
    # state_dict entries: a bn has 5 (weight, bias, running_mean, running_var, num_batches_tracked),
    # a conv 1: 12 per dense layer, 6 per transition, 13 for conv0, norm0, norm5 and the classifier
    assert entries == 12 * sum(blocks) + 6 * (len(blocks) - 1) + 13
    sd = a.state_dict_shapes()
    assert len(sd) == entries
    # Table 1: each block adds n * growth maps, each transition halves them
    c = init
    for b, n in enumerate(blocks, start=1):
        assert sd[f"features.denseblock{b}.denselayer{n}.norm1.weight"] == (c + (n - 1) * growth,)
        assert sd[f"features.denseblock{b}.denselayer{n}.conv1.weight"] == (4 * growth, c + (n - 1) * growth, 1, 1)
        assert sd[f"features.denseblock{b}.denselayer{n}.conv2.weight"] == (growth, 4 * growth, 3, 3)
        c += n * growth
        if b < len(blocks):
            assert sd[f"features.transition{b}.conv.weight"] == (c // 2, c, 1, 1)
            c //= 2
    assert sd["features.norm5.weight"] == (c,)
    assert sd["classifier.weight"] == (1000, c) and sd["classifier.bias"] == (1000,)
    assert f"features.denseblock{len(blocks)}.denselayer{blocks[-1] + 1}.conv1.weight" not in sd


def test_densenet121_published_rounding():
    a = analysis("densenet121")
    assert f"{a.totals.macs / 1e9:.2f}" == "2.83"  # torchvision's table: 2.83 GFLOPS
    assert f"{a.totals.params / 1e6:.1f}" == "8.0"  # 8.0M params
    # 2,834,161,664 = the convolutions + the classifier's 1024 x 1000
    assert a.layer("classifier").macs == 1_024_000
    assert sum(layer.macs for layer in a.layers if layer.op == "conv") == 2_833_137_664


DENSENET121_FIRST_KEYS = [
    "features.conv0.weight",
    "features.norm0.weight",
    "features.norm0.bias",
    "features.norm0.running_mean",
    "features.norm0.running_var",
    "features.norm0.num_batches_tracked",
    "features.denseblock1.denselayer1.norm1.weight",
    "features.denseblock1.denselayer1.norm1.bias",
    "features.denseblock1.denselayer1.norm1.running_mean",
    "features.denseblock1.denselayer1.norm1.running_var",
    "features.denseblock1.denselayer1.norm1.num_batches_tracked",
    "features.denseblock1.denselayer1.conv1.weight",
    "features.denseblock1.denselayer1.norm2.weight",
    "features.denseblock1.denselayer1.norm2.bias",
    "features.denseblock1.denselayer1.norm2.running_mean",
    "features.denseblock1.denselayer1.norm2.running_var",
    "features.denseblock1.denselayer1.norm2.num_batches_tracked",
    "features.denseblock1.denselayer1.conv2.weight",
    "features.denseblock1.denselayer2.norm1.weight",
    "features.denseblock1.denselayer2.norm1.bias",
]


def test_densenet121_state_dict_order_is_torchvisions():
    a = analysis("densenet121")
    keys = list(a.state_dict_shapes())
    assert keys[:20] == DENSENET121_FIRST_KEYS
    # the transition comes right after the block's last layer, in torchvision's registration order
    i = keys.index("features.transition1.norm.weight")
    assert keys[i - 1] == "features.denseblock1.denselayer6.conv2.weight"
    assert keys[i : i + 6] == [
        "features.transition1.norm.weight",
        "features.transition1.norm.bias",
        "features.transition1.norm.running_mean",
        "features.transition1.norm.running_var",
        "features.transition1.norm.num_batches_tracked",
        "features.transition1.conv.weight",
    ]
    assert keys[-7:] == [
        "features.norm5.weight",
        "features.norm5.bias",
        "features.norm5.running_mean",
        "features.norm5.running_var",
        "features.norm5.num_batches_tracked",
        "classifier.weight",
        "classifier.bias",
    ]
    assert a.state_dict_shapes()["features.conv0.weight"] == (64, 3, 7, 7)
    gm = archdsl.load("densenet121").compile(device="meta")
    assert list(gm.state_dict()) == keys


def test_densenet121_table1_sizes_and_concat():
    a = analysis("densenet121")
    sizes = {
        n: out_shape(a, n)
        for n in (
            "features.conv0",
            "features.pool0",
            "features.denseblock1",
            "features.transition1",
            "features.denseblock2",
            "features.transition2",
            "features.denseblock3",
            "features.transition3",
            "features.denseblock4",
            "avgpool",
        )
    }
    assert sizes == {
        "features.conv0": (64, 112, 112),
        "features.pool0": (64, 56, 56),
        "features.denseblock1": (256, 56, 56),
        "features.transition1": (128, 28, 28),
        "features.denseblock2": (512, 28, 28),
        "features.transition2": (256, 14, 14),
        "features.denseblock3": (1024, 14, 14),
        "features.transition3": (512, 7, 7),
        "features.denseblock4": (1024, 7, 7),
        "avgpool": (1024, 1, 1),
    }
    # a dense layer concatenates its input with its 32 new maps; relu follows norm5 (torchvision's F.relu)
    layer = a.layer("features.denseblock1.denselayer1")
    assert layer.op == "concat" and layer.output_shape == (96, 56, 56)
    assert a.layer("relu").inputs == ["features.norm5"]


# ----------------------------------------------------------------------------- SqueezeNet
# torchvision's Sequential positions of the Fire modules, and the max pools
SQUEEZENET_FIRES = {"squeezenet1_0": (3, 4, 5, 7, 8, 9, 10, 12), "squeezenet1_1": (3, 4, 6, 7, 9, 10, 11, 12)}
SQUEEZENET_POOLS = {"squeezenet1_0": (2, 6, 11), "squeezenet1_1": (2, 5, 8)}


@pytest.mark.parametrize(
    ("name", "params", "macs", "gmacs"),
    [
        ("squeezenet1_0", 1_248_424, 818_924_576, 0.819),
        ("squeezenet1_1", 1_235_496, 349_151_936, 0.349),
    ],
)
def test_squeezenet_torchvision_figures(name, params, macs, gmacs):
    a = analysis(name)
    assert a.totals.params == params  # torchvision's num_params
    assert a.totals.macs == macs
    assert round(macs / 1e9, 3) == gmacs  # torchvision's "_ops"
    assert a.outputs == {"output": (1000,)}
    expected = ["features.0.weight", "features.0.bias"]
    for i in SQUEEZENET_FIRES[name]:
        for conv in ("squeeze", "expand1x1", "expand3x3"):
            expected += [f"features.{i}.{conv}.weight", f"features.{i}.{conv}.bias"]
    expected += ["classifier.1.weight", "classifier.1.bias"]
    sd = a.state_dict_shapes()
    assert list(sd) == expected
    assert sd["classifier.1.weight"] == (1000, 512, 1, 1)
    for i in SQUEEZENET_POOLS[name]:
        pool = a.layer(f"features.{i}")
        assert pool.op == "maxpool" and pool.args["ceil"] is True
    fire = SQUEEZENET_FIRES[name][0]
    names = [layer.name for layer in a.layers if layer.name.startswith(f"features.{fire}.")]
    assert names == [
        f"features.{fire}.{m}"
        for m in (
            "squeeze",
            "squeeze_activation",
            "expand1x1",
            "expand1x1_activation",
            "expand3x3",
            "expand3x3_activation",
        )
    ]
    # both expand convs read the squeeze's output; the concat of the two has no parameters
    assert a.layer(f"features.{fire}.expand1x1").inputs == [f"features.{fire}.squeeze_activation"]
    assert a.layer(f"features.{fire}.expand3x3").inputs == [f"features.{fire}.squeeze_activation"]
    assert a.layer(f"features.{fire}").op == "concat" and a.layer(f"features.{fire}").params == 0
    assert [layer.op for layer in a.layers if layer.name.startswith("classifier")] == [
        "dropout",
        "conv",
        "relu",
        "adaptive_avgpool",
    ]


def test_squeezenet1_0_table1():
    a = analysis("squeezenet1_0")
    # Table 1, "# parameter before pruning": conv1, fire2 ... fire9, conv10
    per_module = (
        [a.layer("features.0").params]
        + [
            sum(layer.params for layer in a.layers if layer.name.startswith(f"features.{i}."))
            for i in SQUEEZENET_FIRES["squeezenet1_0"]
        ]
        + [a.layer("classifier.1").params]
    )
    assert per_module == [14_208, 11_920, 12_432, 45_344, 49_440, 104_880, 111_024, 188_992, 197_184, 513_000]
    assert sum(per_module) == a.totals.params == 1_248_424
    # fire2 = squeeze 96->16 (1,552) + expand1x1 16->64 (1,088) + expand3x3 16->64 (9,280)
    assert [a.layer(f"features.3.{c}").params for c in ("squeeze", "expand1x1", "expand3x3")] == [1_552, 1_088, 9_280]
    # Table 2: 4.8MB of 32-bit weights (4.76 MiB), against AlexNet's 240MB ("50x")
    assert a.totals.params * 4 == 4_993_696
    assert f"{a.totals.params * 4 / 2**20:.1f}" == "4.8"


def test_squeezenet1_0_table1_sizes_at_227():
    """Table 1's output sizes (conv1 111x111x96, ...) are those of a 227x227 input, Caffe's crop."""
    a = archdsl.load("squeezenet1_0", input="3x227x227").analyze()
    rows = {
        "conv1": "features.0",
        "maxpool1": "features.2",
        "fire2": "features.3",
        "fire3": "features.4",
        "fire4": "features.5",
        "maxpool4": "features.6",
        "fire5": "features.7",
        "fire6": "features.8",
        "fire7": "features.9",
        "fire8": "features.10",
        "maxpool8": "features.11",
        "fire9": "features.12",
        "conv10": "classifier.1",
        "avgpool10": "classifier.3",
    }
    assert {row: out_shape(a, n) for row, n in rows.items()} == {
        "conv1": (96, 111, 111),
        "maxpool1": (96, 55, 55),
        "fire2": (128, 55, 55),
        "fire3": (128, 55, 55),
        "fire4": (256, 55, 55),
        "maxpool4": (256, 27, 27),
        "fire5": (256, 27, 27),
        "fire6": (384, 27, 27),
        "fire7": (384, 27, 27),
        "fire8": (512, 27, 27),
        "maxpool8": (512, 13, 13),
        "fire9": (512, 13, 13),
        "conv10": (1000, 13, 13),
        "avgpool10": (1000, 1, 1),
    }
    at224 = analysis("squeezenet1_0")
    assert at224.layer("features.0").output_shape == (96, 109, 109)  # torchvision's 224x224
    assert at224.layer("features.2").output_shape == (96, 54, 54)


def test_squeezenet1_1_computation():
    one, two = analysis("squeezenet1_0"), analysis("squeezenet1_1")
    # "2.4x less computation": exactly 2.35x at 224x224
    assert f"{one.totals.macs / two.totals.macs:.2f}" == "2.35"
    assert two.totals.params < one.totals.params  # "slightly fewer parameters"
    assert two.layer("features.0").output_shape == (64, 111, 111)


# ----------------------------------------------------------------------------- MobileNet v1
def test_mobilenet_v1_table1():
    a = analysis("mobilenet_v1")
    assert a.input_shape == (3, 224, 224) and a.outputs == {"output": (1000,)}
    # Table 1: the full conv, then 13 depthwise separable layers (dw 3x3 - bn - relu - 1x1 - bn - relu)
    assert [out_shape(a, f"features.{i}") for i in range(14)] == [
        (32, 112, 112),
        (64, 112, 112),
        (128, 56, 56),
        (128, 56, 56),
        (256, 28, 28),
        (256, 28, 28),
        *[(512, 14, 14)] * 6,
        (1024, 7, 7),
        (1024, 7, 7),
    ]
    assert [layer.op for layer in a.layers if layer.name.startswith("features.1.")] == [
        "dwconv",
        "bn",
        "relu",
        "conv",
        "bn",
        "relu",
    ]
    assert {layer.op for layer in a.layers} >= {"relu"} and "relu6" not in {layer.op for layer in a.layers}
    # the last depthwise conv has stride 1: Table 1's "Conv dw / s2" on 7x7x1024 is a misprint
    assert a.layer("features.13.0").args["s"] == 1 and a.layer("features.12.0").args["s"] == 2
    assert a.layer("features.13.0").param_shapes["weight"] == (1024, 1, 3, 3)
    assert out_shape(a, "avgpool") == (1024, 1, 1)
    sd = a.state_dict_shapes()
    assert sd["fc.weight"] == (1000, 1024) and sd["fc.bias"] == (1000,)
    assert len(sd) == 6 + 13 * 12 + 2  # conv + bn, 13 x (2 convs + 2 bns), fc


def test_mobilenet_v1_table2():
    a = analysis("mobilenet_v1")
    assert a.totals.params == 4_231_976
    assert a.totals.macs == 568_740_352
    assert f"{a.totals.params / 1e6:.1f}" == "4.2" and round(a.totals.macs / 1e6) == 569  # "4.2M", "569M"
    learnable = [layer for layer in a.layers if layer.op in ("conv", "dwconv", "fc")]
    total_weights = sum(weights(layer) for layer in learnable)
    assert total_weights == 4_209_088
    assert a.totals.params == total_weights + 21_888 + 1_000  # + BN scales/shifts + fc biases
    kinds = {
        "Conv 1x1": [x for x in learnable if x.op == "conv" and x.args["k"] == 1],
        "Conv DW 3x3": [x for x in learnable if x.op == "dwconv"],
        "Conv 3x3": [x for x in learnable if x.op == "conv" and x.args["k"] == 3],
        "Fully Connected": [x for x in learnable if x.op == "fc"],
    }
    shares = {
        k: (
            round(100 * sum(x.macs for x in v) / a.totals.macs, 2),
            round(100 * sum(weights(x) for x in v) / total_weights, 2),
        )
        for k, v in kinds.items()
    }
    assert shares == {
        "Conv 1x1": (94.86, 74.59),
        "Conv DW 3x3": (3.06, 1.06),
        "Conv 3x3": (1.91, 0.02),
        "Fully Connected": (0.18, 24.33),
    }
    # Table 2 prints 1.19% for the full conv's mult-adds: the digits of 1.91% swapped (the
    # printed mult-add shares add up to 99.29%, the exact ones to 100%)
    assert sum(sum(x.macs for x in v) for v in kinds.values()) == a.totals.macs


@pytest.mark.parametrize(
    ("variables", "params", "macs", "published"),
    [
        ({"alpha": 0.75}, 2_585_560, 325_400_448, ("2.6", 325)),  # Table 6
        ({"alpha": 0.5}, 1_331_592, 149_497_088, ("1.3", 149)),
        ({"alpha": 0.25}, 470_072, 41_030_272, ("0.5", 41)),
        ({"resolution": 192}, 4_231_976, 418_121_728, ("4.2", 418)),  # Table 7
        ({"resolution": 128}, 4_231_976, 186_400_768, ("4.2", 186)),
    ],
)
def test_mobilenet_v1_width_and_resolution(variables, params, macs, published):
    a = archdsl.load("mobilenet_v1", **variables).analyze()
    assert (a.totals.params, a.totals.macs) == (params, macs)
    assert (f"{params / 1e6:.1f}", round(macs / 1e6)) == published


def test_mobilenet_v1_160_is_rounded_down_in_table7():
    a = archdsl.load("mobilenet_v1", resolution=160).analyze()
    assert a.input_shape == (3, 160, 160) and out_shape(a, "features.13") == (1024, 5, 5)
    assert a.totals.macs == 290_675_200
    assert round(a.totals.macs / 1e6) == 291 and a.totals.macs // 10**6 == 290  # Table 7: "290M"


# ----------------------------------------------------------------------------- MobileNet v2
MOBILENET_V2_TABLE2 = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]  # t, c, n, s


def test_mobilenet_v2_torchvision_figures():
    a = analysis("mobilenet_v2")
    assert a.totals.params == 3_504_872  # torchvision's num_params
    assert a.totals.macs == 300_774_272
    assert round(a.totals.macs / 1e9, 3) == 0.301  # torchvision's "_ops"
    assert a.totals.macs // 10**6 == 300  # Table 4: "300M" (300.77M)
    bn = sum(layer.params for layer in a.layers if layer.op == "bn")
    assert bn == 34_112
    assert a.totals.params - bn == 3_470_760  # TensorFlow's "3.47M"; Table 4's "3.4M" truncates it
    assert a.outputs == {"output": (1000,)}


def test_mobilenet_v2_table2_blocks_and_shortcuts():
    a = analysis("mobilenet_v2")
    # torchvision: InvertedResidual blocks features.1 ... 17, shortcut when stride 1 and in == out
    size, cin, i, with_shortcut, expected_shapes = 112, 32, 1, [], {}
    for _t, c, n, s in MOBILENET_V2_TABLE2:
        for r in range(n):
            stride = s if r == 0 else 1
            size //= stride
            if stride == 1 and cin == c:
                with_shortcut.append(i)
            expected_shapes[i] = (c, size, size)
            cin, i = c, i + 1
    assert i == 18
    assert {j: out_shape(a, f"features.{j}") for j in range(1, 18)} == expected_shapes
    assert (
        [j for j in range(1, 18) if getattr(_layer_or_none(a, f"features.{j}"), "op", None) == "residual"]
        == with_shortcut
        == [3, 5, 6, 8, 9, 10, 12, 13, 15, 16]
    )
    # the shortcut is the identity: no projection parameters anywhere
    assert all(layer.params == 0 for layer in a.layers if layer.op == "projection")
    assert out_shape(a, "features.18") == (1280, 7, 7)


def _layer_or_none(a, name):
    return next((layer for layer in a.layers if layer.name == name), None)


def test_mobilenet_v2_state_dict_is_torchvisions():
    a = analysis("mobilenet_v2")
    sd = a.state_dict_shapes()
    # 6 (features.0) + 12 (t = 1 block) + 16 x 18 (expanding blocks) + 6 (features.18) + 2 (classifier)
    assert len(sd) == 6 + 12 + 16 * 18 + 6 + 2 == 314
    spots = {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.0.1.weight": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),
        "features.1.conv.0.1.running_var": (32,),
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.weight": (16,),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.0.1.weight": (96,),
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.2.conv.1.1.bias": (96,),
        "features.2.conv.2.weight": (24, 96, 1, 1),
        "features.2.conv.3.num_batches_tracked": (),
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1),
        "features.18.1.weight": (1280,),
        "classifier.1.weight": (1000, 1280),
        "classifier.1.bias": (1000,),
    }
    assert {k: sd[k] for k in spots} == spots
    assert "features.1.conv.3.weight" not in sd and "features.1.conv.1.0.weight" not in sd
    assert list(sd)[:8] == [
        "features.0.0.weight",
        "features.0.1.weight",
        "features.0.1.bias",
        "features.0.1.running_mean",
        "features.0.1.running_var",
        "features.0.1.num_batches_tracked",
        "features.1.conv.0.0.weight",
        "features.1.conv.0.1.weight",
    ]
    assert [layer.op for layer in a.layers if layer.name.startswith("classifier")] == ["dropout", "fc"]
    assert a.layer("classifier.0").args["p"] == 0.2
    assert _layer_or_none(a, "features.2") is None  # no shortcut: the block is only its `conv` layers


# ----------------------------------------------------------------------------- FractalNet
def fractal_weights(columns: int, widths=(64, 128, 256, 512, 512), classes=10) -> int:
    """Per block: the C columns' first convs read the block's input, its other 2^C - 1 - C convs its width;
    plus BN (2 per channel) and the fc."""
    total, cin = 0, 3
    for w in widths:
        convs = 2**columns - 1
        total += 9 * (columns * cin * w + (convs - columns) * w * w) + convs * 2 * w
        cin = w
    return total + cin * classes + classes


def deepest_conv_path(a) -> int:
    depth: dict[str, int] = {}
    for layer in a.layers:
        depth[layer.name] = max((depth[i] for i in layer.inputs), default=0) + (layer.op == "conv")
    return depth[a.layers[-1].name]


@pytest.mark.parametrize(
    ("columns", "params", "layers"), [(4, 76_106_634, 40), (3, 33_724_618, 20), (2, 13_325_322, 10), (1, 3_917_386, 5)]
)
def test_fractalnet_columns(columns, params, layers):
    a = archdsl.load("fractalnet", columns=columns).analyze()
    assert a.totals.params == params == fractal_weights(columns)
    assert deepest_conv_path(a) == layers == 5 * 2 ** (columns - 1)
    assert sum(layer.op == "conv" for layer in a.layers) == 5 * (2**columns - 1)
    assert a.outputs == {"output": (10,)}


def test_fractalnet_40_layers():
    a = analysis("fractalnet")
    assert a.input_shape == (3, 32, 32)
    assert a.totals.params == 76_106_634
    assert a.totals.macs == 2_036_077_568
    assert [out_shape(a, f"pool{b}") for b in range(1, 6)] == [
        (64, 16, 16),
        (128, 8, 8),
        (256, 4, 4),
        (512, 2, 2),
        (512, 1, 1),
    ]
    # joins inside a block of 4 columns: after levels 2, 4, 6, 8 of the deepest column, averaging the
    # columns that meet there (2, 3, 2 and all 4), each with local drop-path 15%
    joins = [layer for layer in a.layers if layer.op == "mean" and layer.name.startswith("block1")]
    assert [len(j.inputs) for j in joins] == [2, 3, 2, 4]
    assert {j.args["drop"] for j in joins} == {0.15}
    assert a.layer("block1").inputs == ["block1.col4.2", "block1.col3.2", "block1.col2.2", "block1.col1.2"]
    assert a.layer("block1.col1.0").inputs == ["input"]  # the 1-conv column reads the block's input
    # per-block dropout (0%, 10%, 20%, 30%, 40%) after each conv's ReLU
    assert _layer_or_none(a, "block1.col1.3") is None
    assert [a.layer(f"block{b}.col1.3").args["p"] for b in range(2, 6)] == [0.1, 0.2, 0.3, 0.4]


def test_fractalnet_published_parameters():
    # Table 1: "FractalNet (20 layers, 38.6M params)". The 20-layer (C = 3) network of Sec. 4 has
    # 33,724,618 parameters (33.7M), the 40-layer one 76,106,634: neither is 38.6M.
    c3 = archdsl.load("fractalnet", columns=3).analyze().totals.params
    assert f"{c3 / 1e6:.1f}" == "33.7"
    assert f"{analysis('fractalnet').totals.params / 1e6:.1f}" == "76.1"
