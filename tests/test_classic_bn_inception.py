"""BN-Inception (specs/classic/bn_inception.arch) against the paper's Figure 5 and the public model.

S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift", ICML 2015, appendix: Figure 5 tabulates the network (type, patch size/stride,
output size, depth, #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool + proj). Every
figure here is exact. The expected numbers are computed from the table's widths by the helpers below
(not typed from elsewhere), and where the table's own totals disagree with its widths (4c, 4d, 4e)
the test states both and follows the widths, as the spec does.

The public model is the Caffe BN-Inception ported to PyTorch as Cadene's pretrainedmodels
(``pretrainedmodels.models.bninception.BNInception``, Cadene/pretrained-models.pytorch at commit
8aae3d8). Built with torch 2.13 on the CPU, its ``state_dict()`` has 485 entries, 11,295,240
parameters, and the SHA-256 fingerprint below (``fingerprint``: the lines "<key> <shape as a list>"
joined by newlines). With its weights loaded into the compiled spec, the two modules gave the same
logits to the last bit on random inputs (eval mode, random BN statistics); that check needs the
package and is not repeated here. osmr's imgclsmob publishes the same 11,295,240 for BN-Inception.
"""

from __future__ import annotations

import hashlib
from functools import cache
from math import prod

import pytest

import archdsl

NAME = "bn_inception"


@cache
def analyze(**variables):
    return archdsl.load(NAME, **variables).analyze()


def fingerprint(state_dict: dict[str, tuple[int, ...]]) -> str:
    text = "\n".join(f"{key} {list(shape)}" for key, shape in state_dict.items())
    return hashlib.sha256(text.encode()).hexdigest()


def hwc(shape: tuple[int, ...]) -> str:
    """Figure 5 writes maps as HxWxC (``28x28x256``)."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}"


# ----------------------------------------------------------------------------- Figure 5
# The Inception rows as printed: module, output size, depth, #1x1, #3x3 reduce, #3x3,
# double #3x3 reduce, double #3x3, pool + proj. #1x1 = 0 and "pass through": the stride-2 modules.
FIGURE5 = [
    ("3a", "28x28x256", 3, 64, 64, 64, 64, 96, "avg + 32"),
    ("3b", "28x28x320", 3, 64, 64, 96, 64, 96, "avg + 64"),
    ("3c", "28x28x576", 3, 0, 128, 160, 64, 96, "max + pass through"),
    ("4a", "14x14x576", 3, 224, 64, 96, 96, 128, "avg + 128"),
    ("4b", "14x14x576", 3, 192, 96, 128, 96, 128, "avg + 128"),
    ("4c", "14x14x576", 3, 160, 128, 160, 128, 160, "avg + 128"),
    ("4d", "14x14x576", 3, 96, 128, 192, 160, 192, "avg + 128"),
    ("4e", "14x14x1024", 3, 0, 128, 192, 192, 256, "max + pass through"),
    ("5a", "7x7x1024", 3, 352, 192, 320, 160, 224, "avg + 128"),
    ("5b", "7x7x1024", 3, 352, 192, 320, 192, 224, "max + 128"),
]
MODULES = [row[0] for row in FIGURE5]
# the stem and head rows: layer, output size as printed
STEM = [
    ("conv1_7x7_s2", "112x112x64"),  # convolution* 7x7/2
    ("pool1_3x3_s2", "56x56x64"),  # max pool 3x3/2
    ("conv2_3x3", "56x56x192"),  # convolution 3x3/1, #3x3 reduce 64
    ("pool2_3x3_s2", "28x28x192"),  # max pool 3x3/2
]


def pool_of(row) -> tuple[str, int | None]:
    """ "avg + 32" -> ("avg", 32); "max + pass through" -> ("max", None)."""
    kind, _, proj = row[8].partition(" + ")
    return kind, None if proj == "pass through" else int(proj)


def stride_of(row) -> int:
    return 2 if pool_of(row)[1] is None else 1


def branch_widths(row, c_in: int) -> list[int]:
    """The channels each branch adds to the concatenation: 1x1, 3x3, double 3x3, pool."""
    _, _, _, c1, _, c3, _, d3, _ = row
    proj = pool_of(row)[1]
    return ([c1] if c1 else []) + [c3, d3, c_in if proj is None else proj]


def module_weights(row, c_in: int) -> int:
    """The conv weights the table's widths give (biases and BN not counted)."""
    _, _, _, c1, c3r, c3, d3r, d3, _ = row
    proj = pool_of(row)[1] or 0
    return c_in * (c1 + c3r + d3r + proj) + 9 * (c3r * c3 + d3r * d3 + d3 * d3)


def module_macs(row, c_in: int, grid: int) -> int:
    """The multiply-accumulates of the module's convs on a grid x grid input: the 1x1s and the
    first double 3x3 run on the input grid, the 3x3 and the second double 3x3 on the output grid."""
    _, _, _, c1, c3r, c3, d3r, d3, _ = row
    proj = pool_of(row)[1] or 0
    out = grid // stride_of(row)
    return grid * grid * (c_in * (c1 + c3r + d3r + proj) + 9 * d3r * d3) + out * out * 9 * (c3r * c3 + d3 * d3)


def walk_table():
    """Each row with its input channels and grid, following the widths: (row, c_in, grid, c_out)."""
    c_in, grid = 192, 28
    for row in FIGURE5:
        c_out = sum(branch_widths(row, c_in))
        yield row, c_in, grid, c_out
        c_in, grid = c_out, grid // stride_of(row)


# ----------------------------------------------------------------------------- totals
VARIANTS = [  # variables, params, MACs
    ({}, 11_295_240, 2_032_600_064),  # the Caffe model's: conv biases, a plain 7x7 first conv
    ({"bias": 0}, 11_285_224, 2_032_600_064),  # Sec. 3.2: no conv bias (BN's shift replaces it)
    ({"separable": 1}, 11_288_544, 1_948_605_440),  # the asterisk: a separable first conv
    ({"bias": 0, "separable": 1}, 11_278_528, 1_948_605_440),
]


@pytest.mark.parametrize(("variables", "params", "macs"), VARIANTS, ids=[str(v) for v, *_ in VARIANTS])
def test_parameters_macs_and_output(variables, params, macs):
    a = analyze(**variables)
    assert a.totals.params == params
    assert a.totals.macs == macs
    assert a.outputs == {"output": (1000,)}
    assert a.input_shape == (3, 224, 224)


def test_parameters_add_up():
    """11,295,240 = weights + conv biases + BN scales and shifts + fc biases."""
    a = analyze()
    convs = [layer for layer in a.layers if layer.op == "conv"]
    bns = [layer for layer in a.layers if layer.op == "bn"]
    weights = sum(prod(layer.param_shapes["weight"]) for layer in a.layers if layer.op in ("conv", "fc"))
    conv_biases = sum(layer.param_shapes["bias"][0] for layer in convs)
    channels = sum(layer.output_shape[0] for layer in bns)
    assert len(convs) == len(bns) == 69  # 3 in the stem, 7 per module, 6 in 3c and 4e
    assert (weights, conv_biases, channels) == (11_264_192, 10_016, 10_016)
    assert weights + conv_biases + 2 * channels + 1_000 == a.totals.params == 11_295_240
    # without the conv biases (Sec. 3.2), exactly those 10,016 fewer
    assert analyze(bias=0).totals.params == 11_295_240 - 10_016
    assert not any("bias" in layer.param_shapes for layer in analyze(bias=0).layers if layer.op == "conv")
    assert all(layer.args["affine"] for layer in analyze(bias=0).layers if layer.op == "bn")


def test_macs_add_up():
    """Convs 2,031,576,064 and fc 1,024,000; imgclsmob publishes "2,048.06M" from its own counter."""
    a = analyze()
    convs = sum(layer.macs for layer in a.layers if layer.op == "conv")
    assert convs == 2_031_576_064
    assert a.layer("last_linear").macs == 1024 * 1000
    assert a.totals.macs == convs + 1_024_000
    assert 2_048_060_000 - a.totals.macs == 15_459_936


def test_classes_reach_the_classifier():
    a = analyze(classes=10)
    assert a.outputs == {"output": (10,)}
    assert a.layer("last_linear").param_shapes == {"weight": (10, 1024), "bias": (10,)}


# ----------------------------------------------------------------------------- Figure 5, row by row
def test_stem_output_sizes():
    a = analyze()
    assert [(name, hwc(a.layer(name).output_shape)) for name, _ in STEM] == STEM
    assert a.layer("conv2_3x3_reduce").output_shape == (64, 56, 56)  # the row's #3x3 reduce
    assert a.layer("global_pool").output_shape == (1024, 1, 1)  # avg pool 7x7/1: 1x1x1024
    assert a.layer("global_pool").args["k"] == 7 and a.layer("global_pool").args["s"] == 1


def test_modules_follow_the_branch_widths():
    """Every conv of every module has the table's width; the concatenations add up the branches."""
    a = analyze()
    for row, c_in, grid, c_out in walk_table():
        m, _, _, c1, c3r, c3, d3r, d3, _ = row
        proj = pool_of(row)[1]
        s = stride_of(row)
        convs = {
            "3x3_reduce": (c3r, c_in, 1, 1),
            "3x3": (c3, c3r, 3, s),
            "double_3x3_reduce": (d3r, c_in, 1, 1),
            "double_3x3_1": (d3, d3r, 3, 1),
            "double_3x3_2": (d3, d3, 3, s),
        }
        if c1:
            convs["1x1"] = (c1, c_in, 1, 1)
        if proj is not None:
            convs["pool_proj"] = (proj, c_in, 1, 1)
        for conv, (out, inp, k, stride) in convs.items():
            layer = a.layer(f"inception_{m}_{conv}")
            assert layer.param_shapes["weight"] == (out, inp, k, k), (m, conv)
            assert layer.args["s"] == stride, (m, conv)
        names = [layer.name for layer in a.layers if layer.name.startswith(f"inception_{m}_")]
        assert sum(a.layer(n).op == "conv" for n in names) == len(convs) == (7 if c1 else 5)
        concat = a.layer(f"inception_{m}_output")
        assert concat.op == "concat"
        assert [a.layer(i).output_shape[0] for i in concat.inputs] == branch_widths(row, c_in)
        assert concat.output_shape == (c_out, grid // s, grid // s), m
        weights = sum(prod(a.layer(n).param_shapes["weight"]) for n in names if a.layer(n).op == "conv")
        assert weights == module_weights(row, c_in), m
        assert sum(a.layer(n).macs for n in names) == module_macs(row, c_in, grid), m


def test_table_totals_against_the_widths():
    """Figure 5's output column against the branch widths: every row adds up but 4c, 4d and 4e."""
    a = analyze()
    computed = {row[0]: hwc(a.layer(f"inception_{row[0]}_output").output_shape) for row in FIGURE5}
    printed = {row[0]: row[1] for row in FIGURE5}
    assert computed == {
        "3a": "28x28x256",
        "3b": "28x28x320",
        "3c": "14x14x576",  # printed 28x28x576: the grid before its stride 2
        "4a": "14x14x576",
        "4b": "14x14x576",
        "4c": "14x14x608",  # printed 576: 160 + 160 + 160 + 128 = 608
        "4d": "14x14x608",  # printed 576: 96 + 192 + 192 + 128 = 608
        "4e": "7x7x1056",  # printed 14x14x1024: 192 + 256 + 608 passed through = 1056
        "5a": "7x7x1024",
        "5b": "7x7x1024",
    }
    channels = {m: int(text.rsplit("x", 1)[1]) for m, text in printed.items()}
    agree = [m for m in MODULES if computed[m].rsplit("x", 1)[1] == str(channels[m])]
    assert agree == ["3a", "3b", "3c", "4a", "4b", "5a", "5b"]
    # the printed grids agree except for the two stride-2 modules, printed at their input grid
    grids = [m for m in MODULES if computed[m].rsplit("x", 1)[0] != printed[m].rsplit("x", 1)[0]]
    assert grids == ["3c", "4e"]
    inputs = {row[0]: grid for row, _, grid, _ in walk_table()}
    assert (
        [printed[m].rsplit("x", 1)[0] for m in grids]
        == [f"{inputs[m]}x{inputs[m]}" for m in grids]
        == ["28x28", "14x14"]
    )
    # the printed 1024 of 4e is 192 + 256 + the printed (wrong) 576 of 4d
    assert 192 + 256 + channels["4d"] == channels["4e"] == 1024
    # and 5a reads the 1056 channels: its four 1x1 convs (352, 192, 160, 128) take 1056 inputs
    for conv in ("1x1", "3x3_reduce", "double_3x3_reduce", "pool_proj"):
        assert a.layer(f"inception_5a_{conv}").param_shapes["weight"][1] == 1056


def test_exact_module_figures():
    """Weights (conv weights only) and MACs per module, from the widths at 224x224."""
    a = analyze()
    weights = {m: module_weights(row, c_in) for (row, c_in, _, _), m in zip(walk_table(), MODULES)}
    macs = {m: module_macs(row, c_in, grid) for (row, c_in, grid, _), m in zip(walk_table(), MODULES)}
    assert weights == {
        "3a": 218_112,
        "3b": 259_072,
        "3c": 384_000,
        "4a": 608_256,
        "4b": 663_552,
        "4c": 912_384,
        "4d": 1_140_736,
        "4e": 1_447_936,
        "5a": 2_205_696,
        "5b": 2_276_352,
    }
    assert macs == {
        "3a": 170_999_808,
        "3b": 203_112_448,
        "3c": 143_904_768,
        "4a": 119_218_176,
        "4b": 130_056_192,
        "4c": 178_827_264,
        "4d": 223_584_256,
        "4e": 164_577_280,
        "5a": 108_079_104,
        "5b": 111_541_248,
    }
    # the stem: conv 7x7/2 on 112x112, then conv 1x1 64 + 3x3 192 on 56x56; the fc 1024 -> 1000
    stem = {"conv1": 7 * 7 * 3 * 64, "conv2": 64 * 64 + 9 * 64 * 192, "fc": 1024 * 1000}
    stem_macs = {"conv1": stem["conv1"] * 112 * 112, "conv2": stem["conv2"] * 56 * 56, "fc": stem["fc"]}
    assert sum(weights.values()) + sum(stem.values()) == 11_264_192
    assert sum(macs.values()) + sum(stem_macs.values()) == a.totals.macs == 2_032_600_064


def test_pools():
    """The pool column: avg / max 3x3/1 with padding 1 and a projection; the stride-2 modules' 3x3/2
    max pool passed through; Caffe's max pools round up, its average pools count the padding."""
    a = analyze()
    for row in FIGURE5:
        m = row[0]
        kind, proj = pool_of(row)
        pool = a.layer(f"inception_{m}_pool")
        assert pool.op == f"{kind}pool", m
        if proj is None:
            assert (pool.args["k"], pool.args["s"], pool.args["p"], pool.args["ceil"]) == (3, 2, 0, True)
            assert pool.name in a.layer(f"inception_{m}_output").inputs  # straight into the concat
            assert not any(layer.name == f"inception_{m}_pool_proj" for layer in a.layers)
        else:
            assert (pool.args["k"], pool.args["s"], pool.args["p"]) == (3, 1, 1)
            assert a.layer(f"inception_{m}_pool_proj").inputs == [pool.name]
        if kind == "avg":
            assert pool.args["count_include_pad"]
    assert [row[0] for row in FIGURE5 if pool_of(row) == ("max", 128)] == ["5b"]  # as in the Caffe model
    for name in ("pool1_3x3_s2", "pool2_3x3_s2"):
        assert a.layer(name).args["ceil"]  # 112 -> 56, 56 -> 28 (rounding down would give 55, 27)


def test_every_conv_is_followed_by_bn_and_relu():
    a = analyze()
    readers: dict[str, list[str]] = {}
    for layer in a.layers:
        for i in layer.inputs:
            readers.setdefault(i, []).append(layer.name)
    for layer in a.layers:
        if layer.op == "conv":
            (bn,) = readers[layer.name]
            assert bn == layer.name + "_bn" and a.layer(bn).op == "bn", layer.name  # Caffe's naming
            (relu,) = readers[bn]
            assert a.layer(relu).op == "relu", layer.name
    assert not any(layer.op in ("lrn", "dropout") for layer in a.layers)  # Sec. 4.2.1


def test_depth():
    """The longest chain of weight layers: 3 in the stem, 3 per module, the fc = 34. The appendix:
    the double 3x3 adds 9 weight layers to GoogLeNet's 22 (one per module of its nine), and the third
    28x28 module (3c) adds 3 more. Figure 5's depth column sums to 32: it counts the conv 3x3 row 1
    though the row has its 1x1 reduce too, and lists no fc."""
    a = analyze()
    depth: dict[str, int] = {}
    for layer in a.layers:
        weights = 1 if layer.op in ("conv", "fc") else 0
        depth[layer.name] = max((depth[i] for i in layer.inputs), default=0) + weights
    assert depth[a.layers[-1].name] == 34 == 22 + 9 + 3
    assert 1 + 0 + 1 + 0 + sum(row[2] for row in FIGURE5) + 0 == 32


# ----------------------------------------------------------------------------- the first conv
def test_separable_first_conv_is_googlenet_table1s_row():
    """The asterisk of Figure 5: the authors' first conv was separable, depth multiplier 8: a 7x7/2
    depthwise conv to 3 x 8 = 24 maps, then 1x1 to 64. Its 2,712 weights and 34,019,328 MACs are the
    "2.7K" params and "34M" ops that GoogLeNet's Table 1 prints for its conv 7x7/2, which a plain
    conv (9,408 weights, 118,013,952 MACs) does not match."""
    a = analyze(separable=1)
    dw, pw = a.layer("conv1_7x7_s2.depthwise"), a.layer("conv1_7x7_s2.pointwise")
    assert dw.param_shapes == {"weight": (24, 1, 7, 7)}  # no bias between the two
    assert pw.param_shapes == {"weight": (64, 24, 1, 1), "bias": (64,)}
    assert dw.output_shape == (24, 112, 112) and pw.output_shape == (64, 112, 112)
    weights = 7 * 7 * 3 * 8 + 24 * 64
    assert weights == 2_712 and round(weights / 1e3, 1) == 2.7
    assert dw.macs + pw.macs == weights * 112 * 112 == 34_019_328 and round((dw.macs + pw.macs) / 1e6) == 34
    plain = analyze().layer("conv1_7x7_s2")
    assert plain.param_shapes["weight"] == (64, 3, 7, 7) and plain.macs == 118_013_952
    # the rest of the network is the same
    assert analyze().totals.params - analyze(separable=1).totals.params == 9_408 - 2_712
    assert analyze().totals.macs - analyze(separable=1).totals.macs == 118_013_952 - 34_019_328


def test_against_googlenet():
    """The appendix puts the double 3x3's cost at about 30% more computation (and 25% more
    parameters). Between the whole networks the MACs grow by 30.0% with the separable first conv in
    both, 28.4% with plain ones; the weights by 61% (the 25% is not the whole networks' ratio)."""
    googlenet = archdsl.load("googlenet_paper", aux=0).analyze()
    plain_conv1, separable_conv1 = 118_013_952, 34_019_328
    assert googlenet.totals.macs == 1_582_671_872
    separable_googlenet = googlenet.totals.macs - plain_conv1 + separable_conv1
    assert separable_googlenet == 1_498_677_248
    assert round(analyze(separable=1).totals.macs / separable_googlenet, 3) == 1.300
    assert round(analyze().totals.macs / googlenet.totals.macs, 3) == 1.284
    googlenet_weights = sum(
        prod(layer.param_shapes["weight"]) for layer in googlenet.layers if layer.op in ("conv", "fc")
    )
    assert googlenet_weights == 6_990_272
    assert round(11_264_192 / googlenet_weights, 2) == 1.61


# ----------------------------------------------------------------------------- state_dict
# pretrainedmodels' BNInception (see the module docstring): 485 entries
CADENE_ENTRIES = 485
CADENE_DIGEST = "a78f20d4e9b2a180c0ca95054eee5565a2f8ae422d5298f622e01bbee2e49ed5"


def caffe_state_dict() -> dict[str, tuple[int, ...]]:
    """The state_dict the Caffe names and Figure 5's widths give, built here from the table: conv
    (weight, bias) and its BN (weight, bias, running_mean, running_var, num_batches_tracked) for
    every conv in the order stem, then per module 1x1, 3x3 reduce, 3x3, double reduce, double 1,
    double 2, pool proj; then last_linear."""
    sd: dict[str, tuple[int, ...]] = {}

    def conv(name: str, out: int, inp: int, k: int) -> None:
        sd[f"{name}.weight"] = (out, inp, k, k)
        sd[f"{name}.bias"] = (out,)
        for part in ("weight", "bias", "running_mean", "running_var"):
            sd[f"{name}_bn.{part}"] = (out,)
        sd[f"{name}_bn.num_batches_tracked"] = ()

    conv("conv1_7x7_s2", 64, 3, 7)
    conv("conv2_3x3_reduce", 64, 64, 1)
    conv("conv2_3x3", 192, 64, 3)
    for row, c_in, _, _ in walk_table():
        m, _, _, c1, c3r, c3, d3r, d3, _ = row
        if c1:
            conv(f"inception_{m}_1x1", c1, c_in, 1)
        conv(f"inception_{m}_3x3_reduce", c3r, c_in, 1)
        conv(f"inception_{m}_3x3", c3, c3r, 3)
        conv(f"inception_{m}_double_3x3_reduce", d3r, c_in, 1)
        conv(f"inception_{m}_double_3x3_1", d3, d3r, 3)
        conv(f"inception_{m}_double_3x3_2", d3, d3, 3)
        proj = pool_of(row)[1]
        if proj is not None:
            conv(f"inception_{m}_pool_proj", proj, c_in, 1)
    sd["last_linear.weight"] = (1000, 1024)
    sd["last_linear.bias"] = (1000,)
    return sd


def test_state_dict_is_the_caffe_models():
    sd = analyze().state_dict_shapes()
    expected = caffe_state_dict()
    assert list(sd.items()) == list(expected.items())  # keys, order and shapes
    assert len(sd) == CADENE_ENTRIES
    assert fingerprint(sd) == CADENE_DIGEST
    spot = {
        "conv1_7x7_s2.weight": (64, 3, 7, 7),
        "conv1_7x7_s2_bn.running_var": (64,),
        "inception_3a_double_3x3_2.weight": (96, 96, 3, 3),
        "inception_3c_3x3.weight": (160, 128, 3, 3),
        "inception_4d_pool_proj.weight": (128, 608, 1, 1),
        "inception_5a_1x1.weight": (352, 1056, 1, 1),
        "inception_5b_pool_proj_bn.bias": (128,),
        "last_linear.weight": (1000, 1024),
    }
    assert {k: sd.get(k) for k in spot} == spot
    assert not any(k.startswith(("inception_3c_1x1", "inception_3c_pool_proj", "inception_4e_1x1")) for k in sd)


def test_variants_compile_with_their_state_dicts():
    """tests/test_specs.py compiles the default; the variants on the meta device."""
    import torch

    for variables in ({"bias": 0}, {"separable": 1}):
        gm = archdsl.load(NAME, **variables).compile(device="meta")
        sd = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
        assert sd == analyze(**variables).state_dict_shapes()
        assert sum(p.numel() for p in gm.parameters()) == analyze(**variables).totals.params
        assert tuple(gm(torch.empty(2, 3, 224, 224, device="meta")).shape) == (2, 1000)
    sd = analyze(bias=0).state_dict_shapes()
    assert len(sd) == CADENE_ENTRIES - 69  # the 69 conv biases
    assert not any(k.endswith(".bias") and not k.endswith("_bn.bias") for k in sd if k != "last_linear.bias")


# ----------------------------------------------------------------------------- as a backbone
@pytest.mark.parametrize(
    ("upto", "shape", "left_out"),
    [
        ("inception_4e_output", (1056, 7, 7), ("inception_5a_", "inception_5b_", "last_linear")),
        ("inception_5b_output", (1024, 7, 7), ("last_linear",)),  # all but the classifier
    ],
)
def test_cut_as_a_backbone(upto, shape, left_out):
    """`upto=@inception_4e_output` keeps the stem and 3a..4e, the module names being the cut points."""
    net = archdsl.load(f"import {NAME}\ninput 3x224x224\nbackbone: {NAME}(upto=@{upto})")
    a = net.analyze()
    assert a.outputs == {"output": shape}
    full = analyze()
    assert a.totals.params == full.totals.params - sum(
        layer.params for layer in full.layers if layer.name.startswith(left_out)
    )
    assert next(iter(a.state_dict_shapes())) == "backbone.conv1_7x7_s2.weight"
