"""ShuffleNet V2 0.5x and 1.0x (specs/modern/shufflenet_v2.arch) against torchvision and the paper.

Every figure is exact: shufflenet_v2_x1_0 against torchvision's state_dict, parameters and MACs
(tests/reference/shufflenet_v2_x1_0.json), both against torchvision's published parameter counts
and GFLOPS and a closed form of their MACs, and the compiled module against a functional
restatement of torchvision's forward (split, branches, concat, reshape-transpose shuffle).
Table 5's FLOPs count the authors' own down-sampling unit, which the last test builds.
"""

from __future__ import annotations

import json
from functools import cache
from math import prod
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"
REPEATS = (4, 8, 4)
WIDTHS = {  # torchvision's stages_out_channels
    "shufflenet_v2_x0_5": (24, 48, 96, 192, 1024),
    "shufflenet_v2_x1_0": (24, 116, 232, 464, 1024),
}
PUBLISHED = [  # name, params (torchvision's num_params), MACs, torchvision's "_ops" (GMACs), Table 5's weights
    ("shufflenet_v2_x0_5", 1_366_792, 40_476_448, 0.04, 1.4),
    ("shufflenet_v2_x1_0", 2_278_604, 144_907_992, 0.145, 2.3),
]


@cache
def analysis(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def buffer_values(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(
        prod(s)
        for k, s in shapes.items()
        if k.rsplit(".", 1)[1] in {"running_mean", "running_var", "num_batches_tracked"}
    )


def closed_form_macs(widths: tuple[int, ...], classes: int = 1000) -> int:
    """torchvision's ShuffleNetV2 at 224x224, conv by conv: a k x k conv on an s x s output map costs
    s^2 k^2 c_in c_out / groups."""
    macs = 112 * 112 * 9 * 3 * widths[0]  # conv1
    size = 56  # after the max-pool
    for i, n in enumerate(REPEATS):
        cin, c = widths[i], widths[i + 1]
        half, size = c // 2, size // 2
        # the down-sampling unit: branch1 = dw 3x3/2 + 1x1; branch2 = 1x1 (at the input size) + dw 3x3/2 + 1x1
        macs += size * size * (9 * cin + cin * half)
        macs += (2 * size) ** 2 * cin * half + size * size * (9 * half + half * half)
        # n - 1 basic units on half the channels: 1x1 + dw 3x3 + 1x1
        macs += (n - 1) * size * size * (2 * half * half + 9 * half)
    return macs + 7 * 7 * widths[3] * widths[4] + widths[4] * classes  # conv5, fc


@pytest.mark.parametrize(("name", "params", "macs", "gmacs", "table5"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_torchvision_figures(name, params, macs, gmacs, table5):
    a = analysis(name)
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == params == a.totals.trainable_params
    assert a.totals.macs == macs == closed_form_macs(WIDTHS[name])
    assert round(macs / 1e9, 3) == gmacs  # torchvision's "_ops"
    assert round(params / 1e6, 1) == table5  # the paper's "# of weights"
    assert a.totals.buffers == buffer_values(a.state_dict_shapes())  # BN running statistics only


def test_x1_0_is_torchvisions_key_for_key():
    ref = reference("shufflenet_v2_x1_0")
    a = analysis("shufflenet_v2_x1_0")
    expected = {k: tuple(v) for k, v in ref["state_dict"].items()}
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert len(expected) == ref["buffers_state_dict_entries"] == 338
    assert a.totals.params == ref["params"] == ref["trainable_params"]
    assert a.totals.buffers == buffer_values(expected) == 16_236
    # torchvision's FLOPs are 2 x the MACs of its convs and linear layers: the same count exactly
    assert a.totals.macs == ref["conv_linear_flops"] // 2
    assert (a.input_shape, a.outputs["output"]) == (tuple(ref["input"][1:]), tuple(ref["output"][1:]))
    # the compiled module holds the same state_dict
    gm = archdsl.load("shufflenet_v2_x1_0").compile(device="meta")
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == list(expected.items())


def test_x0_5_keys_and_shapes():
    """0.5x has 1.0x's keys, in the same order, with its own widths (48, 96, 192)."""
    sd = analysis("shufflenet_v2_x0_5").state_dict_shapes()
    assert list(sd) == list(reference("shufflenet_v2_x1_0")["state_dict"])
    assert sd["conv1.0.weight"] == (24, 3, 3, 3)
    assert sd["stage2.0.branch1.0.weight"] == (24, 1, 3, 3)  # depthwise
    assert sd["stage2.0.branch1.2.weight"] == (24, 24, 1, 1)
    assert sd["stage2.0.branch2.0.weight"] == (24, 24, 1, 1)
    assert sd["stage2.1.branch2.0.weight"] == (24, 24, 1, 1)  # on half of stage2's 48 channels
    assert sd["stage3.0.branch1.2.weight"] == (48, 48, 1, 1)
    assert sd["stage3.7.branch2.3.weight"] == (48, 1, 3, 3)
    assert sd["stage4.3.branch2.5.weight"] == (96, 96, 1, 1)
    assert sd["stage4.3.branch2.6.running_var"] == (96,)
    assert sd["conv5.0.weight"] == (1024, 192, 1, 1)
    assert sd["fc.weight"] == (1000, 1024) and sd["fc.bias"] == (1000,)
    assert buffer_values(sd) == 8_008 == analysis("shufflenet_v2_x0_5").totals.buffers


@pytest.mark.parametrize("name", list(WIDTHS))
def test_table5_output_sizes(name):
    a = analysis(name)
    w = WIDTHS[name]
    last = {}
    for layer in a.layers:  # the last layer of each top-level module
        last[layer.name.split(".")[0]] = layer.output_shape
    assert last == {
        "input": (3, 224, 224),
        "conv1": (w[0], 112, 112),
        "maxpool": (w[0], 56, 56),
        "stage2": (w[1], 28, 28),
        "stage3": (w[2], 14, 14),
        "stage4": (w[3], 7, 7),
        "conv5": (w[4], 7, 7),
        "avgpool": (w[4], 1, 1),
        "fc": (1000,),
    }
    units = {
        s: len({x.name.split(".")[1] for x in a.layers if x.name.startswith(s + ".")})
        for s in ("stage2", "stage3", "stage4")
    }
    assert units == dict(zip(("stage2", "stage3", "stage4"), REPEATS, strict=True))
    shuffles = [x for x in a.layers if x.op == "channel_shuffle"]
    assert len(shuffles) == sum(REPEATS) and all(x.args["groups"] == 2 for x in shuffles)


# ----------------------------------------------------------------------------- the compiled forward
def torchvision_forward(sd, x, widths):
    """torchvision's ShuffleNetV2.forward (eval mode), written with torch.nn.functional on a state_dict."""
    import torch
    import torch.nn.functional as F

    def bn(y, p):
        return F.batch_norm(
            y, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"], False, 0.0, 1e-5
        )

    def dw(y, p, s):
        return F.conv2d(y, sd[p + ".weight"], stride=s, padding=1, groups=y.shape[1])

    def pw(y, p):
        return F.conv2d(y, sd[p + ".weight"])

    def branch2(y, p, s):
        y = F.relu(bn(pw(y, p + ".0"), p + ".1"))
        y = bn(dw(y, p + ".3", s), p + ".4")
        return F.relu(bn(pw(y, p + ".5"), p + ".6"))

    def shuffle(y):
        b, c, h, w = y.shape
        return y.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)

    x = F.relu(bn(F.conv2d(x, sd["conv1.0.weight"], stride=2, padding=1), "conv1.1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for i, n in enumerate(REPEATS):
        for j in range(n):
            p = f"stage{i + 2}.{j}"
            if j == 0:
                left = F.relu(
                    bn(pw(bn(dw(x, p + ".branch1.0", 2), p + ".branch1.1"), p + ".branch1.2"), p + ".branch1.3")
                )
                x = shuffle(torch.cat((left, branch2(x, p + ".branch2", 2)), dim=1))
            else:
                a, b = x.chunk(2, dim=1)
                x = shuffle(torch.cat((a, branch2(b, p + ".branch2", 1)), dim=1))
    x = F.relu(bn(pw(x, "conv5.0"), "conv5.1")).mean([2, 3])
    return F.linear(x, sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("name", list(WIDTHS))
def test_compiled_module_computes_torchvisions_function(name):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    gm = archdsl.load(name, input="3x64x64").compile().double().eval()
    state = {}
    for k, v in gm.state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = v
        elif k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=gen, dtype=torch.float64) + 0.5
        else:  # random weights, biases and means, so that every layer and every channel shows
            state[k] = torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.5
    gm.load_state_dict(state)
    x = torch.randn(2, 3, 64, 64, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), torchvision_forward(state, x, WIDTHS[name]), rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- the paper's FLOPs
AUTHORS_UNIT = """
repeats = (4, 8, 4)
block unit(inp, oup, s) {
    mid = oup / 2
    if s == 1 {
        concat {
            left: chunk(2, 0)
            right: chunk(2, 1) - branch2 { conv1-{mid}(bias=false) - bn - relu - dwconv3(bias=false) - bn - conv1-{mid}(bias=false) - bn - relu }
        } - channel_shuffle(2)
    } else {
        concat {
            branch1 { dwconv3/2(bias=false) - bn - conv1-{inp}(bias=false) - bn - relu }
            branch2 { conv1-{mid}(bias=false) - bn - relu - dwconv3/2(bias=false) - bn - conv1-{oup - inp}(bias=false) - bn - relu }
        } - channel_shuffle(2)
    }
}
input 3x224x224
conv(widths[0], k=3, s=2, bias=false) - bn - relu - maxpool(3, s=2, p=1)
for i in range(3) { for j in range(repeats[i]) { unit(widths[i] if j == 0 else widths[i + 1], widths[i + 1], 2 if j == 0 else 1) } }
conv1-{widths[4]}(bias=false) - bn - relu - gap - fc-1000
"""


def test_table5_flops_count_the_authors_downsampling_unit():
    """The authors' code (megvii-model/ShuffleNet-Series) keeps the input width in the down-sampling
    unit's pass-through branch and makes out - inp channels in the other; torchvision gives each
    branch out / 2. For 1x that is Table 5's 146M."""
    authors = archdsl.load(f"widths = {WIDTHS['shufflenet_v2_x1_0']}\n" + AUTHORS_UNIT).analyze()
    assert authors.totals.params == 2_279_760  # torchvision's: 2,278,604; both "2.3M"
    assert authors.totals.macs == 145_814_296  # torchvision's: 144,907,992
    assert round(authors.totals.macs / 1e6) == 146  # Table 5
    assert round(authors.totals.params / 1e6, 1) == 2.3


def test_table5_flops_of_0_5x():
    """For 0.5x the two units are the same network (inp = out / 2 in every stage: 24/48, 48/96,
    96/192): 40,476,448 MACs either way, which Table 5 prints as 41M, 0.52M more than its convs and
    fc (not reproduced: the BN, ReLU and pooling operations archdsl's --count all adds are 3.2M)."""
    authors = archdsl.load(f"widths = {WIDTHS['shufflenet_v2_x0_5']}\n" + AUTHORS_UNIT).analyze()
    a = analysis("shufflenet_v2_x0_5")
    assert list(authors.state_dict_shapes().values()) == list(a.state_dict_shapes().values())  # unnamed: shapes only
    assert (authors.totals.params, authors.totals.macs) == (a.totals.params, a.totals.macs) == (1_366_792, 40_476_448)
    assert round(a.totals.macs / 1e6) == 40  # Table 5: 41
    assert a.totals.macs_all - a.totals.macs == 3_221_672
