"""The plain classifiers of the library: VGG (Table 1's A..E and torchvision's vgg*), AlexNet
(torchvision), ZFNet and Network in Network, against the papers and torchvision.

Every number is exact. Shapes, parameters and MACs come from ``analyze()`` (pure Python);
the state_dicts of the networks with a torchvision reference are also built on the meta
device. tests/test_specs.py already runs a forward pass of every network.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

import archdsl
from archdsl.lang import ast, library
from archdsl.lang.files import load_file, read_spec

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
VGG_FILE = ROOT / "specs" / "classic" / "vgg.arch"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


@cache
def analysis(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


# ------------------------------------------------------------------------- the counts
PARAMS = {
    # Table 1's configurations (Table 2 rounds them: see test_vgg_table2_rounding)
    "vgg_a": 132_863_336,
    "vgg_a_lrn": 132_863_336,
    "vgg_b": 133_047_848,
    "vgg_c": 133_638_952,
    "vgg_d": 138_357_544,
    "vgg_e": 143_667_240,
    # torchvision
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "alexnet": 61_100_840,
    # no published count: computed layer by layer in the tests below
    "zfnet": 62_357_608,
    "nin": 966_986,
}
VGG = [name for name in PARAMS if name.startswith("vgg")]
PAPER_VGG = ["vgg_a", "vgg_a_lrn", "vgg_b", "vgg_c", "vgg_d", "vgg_e"]
TORCHVISION_VGG = [name for name in VGG if name not in PAPER_VGG]
# torchvision name -> its reference file, and the paper configuration with the same weights
WITH_REFERENCE = ["vgg11", "vgg13", "vgg16", "vgg16_bn", "vgg19", "alexnet"]
SAME_WEIGHTS = {"vgg_a": "vgg11", "vgg_b": "vgg13", "vgg_d": "vgg16", "vgg_e": "vgg19"}


@pytest.mark.parametrize("name", list(PARAMS))
def test_params_and_output(name):
    a = analysis(name)
    assert a.totals.params == PARAMS[name]
    if name == "nin":
        assert a.input_shape == (3, 32, 32) and a.outputs == {"output": (10,)}
    else:
        assert a.input_shape == (3, 224, 224) and a.outputs == {"output": (1000,)}


@pytest.mark.parametrize("name", [n for n in WITH_REFERENCE])
def test_params_match_torchvision(name):
    assert analysis(name).totals.params == PARAMS[name] == reference(name)["params"]


@pytest.mark.parametrize("name", WITH_REFERENCE)
def test_state_dict_is_torchvisions(name):
    """Same keys, in the same order, with the same shapes; analytic and as built by torch."""
    ref = ref_state_dict(name)
    mine = analysis(name).state_dict_shapes()
    assert list(mine) == list(ref)
    assert mine == ref
    assert len(ref) == reference(name)["buffers_state_dict_entries"]
    gm = archdsl.load(name).compile(device="meta")
    real = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert list(real) == list(ref) and real == ref


@pytest.mark.parametrize("paper,torchvision", list(SAME_WEIGHTS.items()))
def test_paper_configurations_hold_torchvisions_weights(paper, torchvision):
    """A, B, D, E have torchvision's vgg11/13/16/19 weights, key for key."""
    ref = ref_state_dict(torchvision)
    mine = analysis(paper).state_dict_shapes()
    assert list(mine) == list(ref) and mine == ref


def test_vgg_a_lrn_holds_vgg11s_weights_shifted_by_the_lrn():
    """A-LRN's weights are A's, in the same order; the LRN (features.2) moves every later
    position in `features` up by one."""
    ref = ref_state_dict("vgg11")
    mine = analysis("vgg_a_lrn").state_dict_shapes()
    assert list(mine.values()) == list(ref.values())

    def shifted(key: str) -> str:
        group, pos, rest = key.split(".", 2)
        return f"{group}.{int(pos) + 1}.{rest}" if group == "features" and int(pos) > 0 else key

    assert list(mine) == [shifted(k) for k in ref]


@pytest.mark.parametrize("name", [n for n in WITH_REFERENCE])
def test_macs_match_torchvision(name):
    """MACs of convs and fc layers = torchvision's conv_linear_flops / 2 (2 FLOPs per MAC)."""
    a = analysis(name)
    ref = reference(name)["conv_linear_flops"]
    assert a.totals.macs * 2 == ref
    assert a.totals.macs == sum(layer.macs for layer in a.layers if layer.op in ("conv", "fc"))


def test_vgg16_macs():
    assert analysis("vgg16").totals.macs == 15_470_264_320 == reference("vgg16")["conv_linear_flops"] // 2


@pytest.mark.parametrize("name", VGG)
def test_vgg_macs_follow_the_configuration(name):
    """A batch-normalised or paper-named VGG costs what its torchvision twin costs."""
    base = {
        "vgg_a": "vgg11",
        "vgg_a_lrn": "vgg11",
        "vgg_b": "vgg13",
        "vgg_d": "vgg16",
        "vgg_e": "vgg19",
        "vgg11_bn": "vgg11",
        "vgg13_bn": "vgg13",
        "vgg16_bn": "vgg16",
        "vgg19_bn": "vgg19",
    }.get(name, name)
    if name == "vgg_c":  # B plus three 1x1 convs on 56x56x256, 28x28x512, 14x14x512 maps
        extra = 56 * 56 * 256 * 256 + 28 * 28 * 512 * 512 + 14 * 14 * 512 * 512
        assert analysis(name).totals.macs == analysis("vgg13").totals.macs + extra == 11_770_888_192
        return
    assert analysis(name).totals.macs == reference(base)["conv_linear_flops"] // 2


# ------------------------------------------------------------------------------- VGG
TABLE2_MILLIONS = {"vgg_a": 133, "vgg_a_lrn": 133, "vgg_b": 133, "vgg_c": 134, "vgg_d": 138, "vgg_e": 144}


@pytest.mark.parametrize("name", PAPER_VGG)
def test_vgg_table2_rounding(name):
    """Table 2 ("Number of parameters (in millions)") is the exact count rounded to the million."""
    exact = analysis(name).totals.params
    assert exact == PARAMS[name]
    assert (exact + 500_000) // 1_000_000 == TABLE2_MILLIONS[name]


def test_vgg_c_is_b_plus_three_1x1_convs():
    c = analysis("vgg_c")
    one_by_one = [layer for layer in c.layers if layer.op == "conv" and layer.args["k"] == 1]
    assert [(layer.name, layer.param_shapes["weight"]) for layer in one_by_one] == [
        ("features.14", (256, 256, 1, 1)),
        ("features.21", (512, 512, 1, 1)),
        ("features.28", (512, 512, 1, 1)),
    ]
    assert sum(layer.params for layer in one_by_one) == 65_792 + 2 * 262_656
    assert c.totals.params == PARAMS["vgg_b"] + 65_792 + 2 * 262_656


def test_vgg_weight_layers_per_configuration():
    """Table 1's header: 11, 11, 13, 16, 16, 19 weight layers."""
    depth = {name: sum(1 for layer in analysis(name).layers if layer.params) for name in PAPER_VGG}
    assert depth == {"vgg_a": 11, "vgg_a_lrn": 11, "vgg_b": 13, "vgg_c": 16, "vgg_d": 16, "vgg_e": 19}


def test_vgg_a_lrn_has_lrn_after_the_first_conv():
    a = analysis("vgg_a_lrn")
    ops = [(layer.name, layer.op) for layer in a.layers[:6]]
    assert ops == [
        ("input", "input"),
        ("features.0", "conv"),
        ("features.1", "relu"),
        ("features.2", "lrn"),
        ("features.pool1", "maxpool"),
        ("features.4", "conv"),
    ]
    assert sum(1 for layer in a.layers if layer.op == "lrn") == 1
    assert a.layer("features.2").args == {"size": 5, "alpha": 0.0001, "beta": 0.75, "k": 2.0}


@pytest.mark.parametrize("name", VGG)
def test_vgg_layout(name):
    """torchvision-named networks have the adaptive 7x7 avgpool; Table 1's have none. Five
    2x2 max-pools, labelled pool1..pool5, take 224 to 7."""
    a = analysis(name)
    names = [layer.name for layer in a.layers]
    if name in TORCHVISION_VGG:
        assert a.layer("avgpool").op == "adaptive_avgpool" and a.layer("avgpool").args == {"size": 7}
        assert a.layer("avgpool").output_shape == (512, 7, 7)
    else:
        assert "avgpool" not in names and not any(layer.op == "adaptive_avgpool" for layer in a.layers)
    pools = [layer for layer in a.layers if layer.op == "maxpool"]
    assert [p.name for p in pools] == [f"features.pool{i}" for i in range(1, 6)]
    assert [p.output_shape[1] for p in pools] == [112, 56, 28, 14, 7]
    fcs = [layer for layer in a.layers if layer.op == "fc"]
    assert [(f.name, f.output_shape) for f in fcs] == [
        ("classifier.0", (4096,)),
        ("classifier.3", (4096,)),
        ("classifier.6", (1000,)),
    ]
    bns = [layer for layer in a.layers if layer.op == "bn"]
    convs = [layer for layer in a.layers if layer.op == "conv"]
    assert len(bns) == (len(convs) if name.endswith("_bn") else 0)


def _vgg_networks() -> dict[str, ast.NetworkDef]:
    return load_file(read_spec(VGG_FILE), str(VGG_FILE)).networks


def test_vgg_file_holds_every_configuration():
    assert set(_vgg_networks()) == set(VGG)
    for name in VGG:
        entry = library.lookup(name)
        assert entry.path == VGG_FILE and entry.network == name and entry.description
    assert not (ROOT / "specs" / "classic" / "vgg16.arch").exists()


def _calls(body: ast.Body) -> list[tuple[str | None, ast.OpCall]]:
    """The (label, call) elements of a network body, in order."""
    out = []
    for stmt in body.stmts:
        if isinstance(stmt, ast.Chain):
            for el in stmt.elements:
                label = el.label if isinstance(el, ast.Labeled) else None
                unit = el.unit if isinstance(el, ast.Labeled) else el
                assert isinstance(unit, ast.OpCall), f"unexpected {type(unit).__name__} in a VGG network"
                out.append((label, unit))
    return out


def test_vgg_configurations_come_from_one_block():
    """Every VGG network is `input 3x224x224` + one unlabelled call `vgg(CFG, ...)`, with a
    configuration named in the file's variables: no network writes a layer of its own."""
    ctx = load_file(read_spec(VGG_FILE), str(VGG_FILE))
    configs = {}
    for name, net in ctx.networks.items():
        assert [type(stmt).__name__ for stmt in net.body.stmts] == ["InputStmt", "Chain"], name
        calls = _calls(net.body)
        assert len(calls) == 1 and calls[0][0] is None, name
        call = calls[0][1]
        assert call.name == "vgg"
        cfg = call.args[0]
        assert isinstance(cfg, ast.Var) and cfg.name in ctx.env.values
        flags = {kw.name: kw.value.value for kw in call.kwargs}
        assert set(flags) <= {"batch_norm", "torchvision"} and set(flags.values()) <= {1}
        assert ("torchvision" in flags) == (name in TORCHVISION_VGG), name
        configs[name] = (cfg.name, "batch_norm" in flags)
    assert configs == {
        "vgg_a": ("A", False),
        "vgg_a_lrn": ("A_LRN", False),
        "vgg_b": ("B", False),
        "vgg_c": ("C", False),
        "vgg_d": ("D", False),
        "vgg_e": ("E", False),
        "vgg11": ("A", False),
        "vgg13": ("B", False),
        "vgg16": ("D", False),
        "vgg19": ("E", False),
        "vgg11_bn": ("A", True),
        "vgg13_bn": ("B", True),
        "vgg16_bn": ("D", True),
        "vgg19_bn": ("E", True),
    }
    assert set(ctx.blocks) == {"vgg"}


def test_every_vgg_conv_is_made_by_the_same_line():
    """All convs of all 14 networks (3x3 and 1x1) come from one line of the `vgg` block,
    all fc layers from the three lines of its classifier."""
    conv_sources, fc_sources = set(), set()
    for name in VGG:
        for layer in analysis(name).layers:
            line = layer.source.rsplit(":", 2)[0:2]
            if layer.op == "conv":
                conv_sources.add(tuple(line))
            if layer.op == "fc":
                fc_sources.add(tuple(line))
    assert len(conv_sources) == 1 and len(fc_sources) == 3
    assert {path for path, _ in conv_sources | fc_sources} == {str(VGG_FILE)}


def test_vgg_conv_widths_follow_table1():
    """The convs of configuration E: 2x64, 2x128, 4x256, 4x512, 4x512 (Table 1, column E)."""
    widths = [layer.output_shape[0] for layer in analysis("vgg_e").layers if layer.op == "conv"]
    assert widths == [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8


def test_vgg_classes_override():
    a = analysis("vgg16", classes=10)
    assert a.outputs == {"output": (10,)}
    assert a.totals.params == PARAMS["vgg16"] - 990 * 4097


# --------------------------------------------------------------------------- AlexNet
def test_alexnet_torchvision_layout():
    a = analysis("alexnet")
    learnable = [(layer.name, layer.output_shape) for layer in a.layers if layer.params]
    assert learnable == [
        ("features.0", (64, 55, 55)),
        ("features.3", (192, 27, 27)),
        ("features.6", (384, 13, 13)),
        ("features.8", (256, 13, 13)),
        ("features.10", (256, 13, 13)),
        ("classifier.1", (4096,)),
        ("classifier.4", (4096,)),
        ("classifier.6", (1000,)),
    ]
    assert a.layer("avgpool").op == "adaptive_avgpool" and a.layer("avgpool").output_shape == (256, 6, 6)
    assert a.layer("classifier.0").op == "dropout" and a.layer("classifier.3").op == "dropout"
    assert not any(layer.op in ("lrn", "bn") for layer in a.layers)
    assert a.totals.macs == 714_188_480


# ----------------------------------------------------------------------------- ZFNet
ZFNET_FIG3 = {  # Fig. 3, as HxWxC
    "conv1": (110, 96),
    "pool1": (55, 96),
    "norm1": (55, 96),
    "conv2": (26, 256),
    "pool2": (13, 256),
    "norm2": (13, 256),
    "conv3": (13, 384),
    "conv4": (13, 384),
    "conv5": (13, 256),
    "pool5": (6, 256),
}


def test_zfnet_fig3_map_sizes():
    a = analysis("zfnet")
    for name, (size, channels) in ZFNET_FIG3.items():
        assert a.layer(name).output_shape == (channels, size, size), name
    assert a.layer("fc6").param_shapes["weight"] == (4096, 6 * 6 * 256)  # "6 · 6 · 256 = 9216 dimensions"


def test_zfnet_first_layer_and_params():
    a = analysis("zfnet")
    assert a.layer("conv1").args["k"] == 7 and a.layer("conv1").args["s"] == 2
    assert a.layer("conv2").args["k"] == 5 and a.layer("conv2").args["s"] == 2
    params = {layer.name: layer.params for layer in a.layers if layer.params}
    assert params == {
        "conv1": 7 * 7 * 3 * 96 + 96,
        "conv2": 5 * 5 * 96 * 256 + 256,
        "conv3": 3 * 3 * 256 * 384 + 384,
        "conv4": 3 * 3 * 384 * 384 + 384,
        "conv5": 3 * 3 * 384 * 256 + 256,
        "fc6": 9216 * 4096 + 4096,
        "fc7": 4096 * 4096 + 4096,
        "fc8": 4096 * 1000 + 1000,
    }
    assert sum(params.values()) == a.totals.params == 62_357_608
    assert [layer.name for layer in a.layers if layer.op == "lrn"] == ["norm1", "norm2"]
    assert [layer.name for layer in a.layers if layer.op == "dropout"] == ["drop6", "drop7"]


# ---------------------------------------------------------------------- Network in Network
def test_nin_cifar10_structure():
    a = analysis("nin")
    maps = {
        name: a.layer(name).output_shape
        for name in ("mlpconv1.cccp2", "pool1", "mlpconv2.cccp2", "pool2", "mlpconv3.cccp2", "pool3")
    }
    assert maps == {
        "mlpconv1.cccp2": (96, 32, 32),
        "pool1": (96, 16, 16),
        "mlpconv2.cccp2": (192, 16, 16),
        "pool2": (192, 8, 8),
        "mlpconv3.cccp2": (10, 8, 8),
        "pool3": (10, 1, 1),
    }
    per_block = {i: sum(layer.params for layer in a.layers if layer.name.startswith(f"mlpconv{i}.")) for i in (1, 2, 3)}
    assert per_block == {1: 60_928, 2: 535_104, 3: 370_954}
    assert sum(per_block.values()) == a.totals.params == 966_986
    assert not any(layer.op == "fc" for layer in a.layers)  # global average pooling instead of fc layers
    one_by_one = [layer for layer in a.layers if layer.op == "conv" and layer.args["k"] == 1]
    assert len(one_by_one) == 6  # two cccp layers per mlpconv


def test_nin_classes_override():
    a = analysis("nin", classes=100)
    assert a.outputs == {"output": (100,)}
    assert a.totals.params == PARAMS["nin"] + 90 * (192 + 1)
