"""RegNetX-400MF and RegNetY-400MF (specs/modern/regnet.arch) against torchvision's models.regnet.

There is no state_dict dump of these two under tests/reference, so the expected state_dict is
built here from torchvision's rules, independently of the spec: the stage widths, depths and
group widths from (depth, w_0, w_a, w_m, group_width) as BlockParams.from_init_params derives
them, then ResBottleneckBlock's modules in registration order (proj, f.a, f.b, f.se, f.c). The
spec's own stage tables are data typed in from the same derivation; the state_dict comparison
checks them. Parameters equal torchvision's published num_params; MACs (convs, the SE's 1x1
convs and the fc) are counted from the same rules and round to torchvision's "_ops" GFLOPS.
"""

from __future__ import annotations

import itertools
import math

import pytest

import archdsl

# torchvision's regnet_x_400mf / regnet_y_400mf: BlockParams.from_init_params arguments
X_400MF = {"depth": 22, "w_0": 24, "w_a": 24.48, "w_m": 2.54, "group_width": 16}
Y_400MF = {"depth": 16, "w_0": 48, "w_a": 27.89, "w_m": 2.09, "group_width": 8}
SE_RATIO = 0.25
STEM_WIDTH = 32


def make_divisible(v: float, divisor: int) -> int:
    """torchvision's _make_divisible: the nearest multiple of divisor (halves up), at least
    divisor, raised by one divisor when that loses more than 10%."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def stages(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> list[tuple[int, int, int]]:
    """(width, depth, group width) per stage, as BlockParams.from_init_params derives them
    (bottleneck multiplier 1): quantised linear per-block widths, runs of equal width as stages,
    then widths made multiples of min(group_width, width)."""
    block_widths = []
    for j in range(depth):
        s = round(math.log((w_0 + w_a * j) / w_0) / math.log(w_m))
        block_widths.append(8 * round(w_0 * w_m**s / 8))
    out = []
    for w, run in itertools.groupby(block_widths):
        g = min(group_width, w)
        out.append((make_divisible(w, g), len(list(run)), g))
    return out


def expected(params: dict, se_ratio: float = 0.0, classes: int = 1000, size: int = 224):
    """torchvision's state_dict (key -> shape, in order) and conv + linear MACs."""
    sd: dict[str, tuple[int, ...]] = {}
    macs = 0

    def conv_bn(prefix: str, cin: int, cout: int, k: int, groups: int, hw: int) -> None:
        nonlocal macs
        sd[f"{prefix}.0.weight"] = (cout, cin // groups, k, k)
        for name in ("weight", "bias", "running_mean", "running_var"):
            sd[f"{prefix}.1.{name}"] = (cout,)
        sd[f"{prefix}.1.num_batches_tracked"] = ()
        macs += cout * (cin // groups) * k * k * hw * hw

    hw = size // 2
    conv_bn("stem", 3, STEM_WIDTH, 3, 1, hw)
    w_in = STEM_WIDTH
    for i, (w, d, g) in enumerate(stages(**params), start=1):
        for j in range(d):
            block = f"trunk_output.block{i}.block{i}-{j}"
            cin = w_in if j == 0 else w
            if j == 0:
                hw //= 2
                conv_bn(f"{block}.proj", cin, w, 1, 1, hw)
            conv_bn(f"{block}.f.a", cin, w, 1, 1, hw * 2 if j == 0 else hw)
            conv_bn(f"{block}.f.b", w, w, 3, w // g, hw)
            if se_ratio:
                sq = int(round(se_ratio * cin))
                sd[f"{block}.f.se.fc1.weight"] = (sq, w, 1, 1)
                sd[f"{block}.f.se.fc1.bias"] = (sq,)
                sd[f"{block}.f.se.fc2.weight"] = (w, sq, 1, 1)
                sd[f"{block}.f.se.fc2.bias"] = (w,)
                macs += 2 * w * sq
            conv_bn(f"{block}.f.c", w, w, 1, 1, hw)
        w_in = w
    sd["fc.weight"] = (classes, w_in)
    sd["fc.bias"] = (classes,)
    macs += w_in * classes
    return sd, macs


def test_stage_tables_follow_block_params():
    """The tables written in the spec are what BlockParams derives (see its header)."""
    assert stages(**X_400MF) == [(32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)]
    assert stages(**Y_400MF) == [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)]


NETWORKS = [  # name, BlockParams, SE ratio, params (torchvision's num_params), buffers, MACs, torchvision's _ops
    ("regnet_x_400mf", X_400MF, 0.0, 5_495_976, 37_927, 413_812_608, 0.414),
    ("regnet_y_400mf", Y_400MF, SE_RATIO, 4_344_144, 27_205, 401_842_848, 0.402),
]


@pytest.mark.parametrize(("name", "params", "se_ratio", "n_params", "buffers", "macs", "gflops"), NETWORKS)
def test_regnet_is_torchvisions(name, params, se_ratio, n_params, buffers, macs, gflops):
    a = archdsl.load(name).analyze()
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"output": (1000,)}
    assert a.totals.params == n_params
    assert a.totals.buffers == buffers
    sd, ref_macs = expected(params, se_ratio)
    # every key of torchvision's state_dict, in its order, with its shape
    assert list(a.state_dict_shapes().items()) == list(sd.items())
    assert sum(math.prod(s) for k, s in sd.items() if "running" not in k and "num_batches" not in k) == n_params
    # MACs: torchvision's SE convs act on a 1x1 map, so they count once per weight, as here
    assert a.totals.macs == macs == ref_macs
    assert round(a.totals.macs / 1e9, 3) == gflops


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf"])
def test_compiled_state_dict_and_modules(name):
    params, se_ratio = (X_400MF, 0.0) if name == "regnet_x_400mf" else (Y_400MF, SE_RATIO)
    gm = archdsl.load(name).compile(device="meta")
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == list(expected(params, se_ratio)[0].items())
    widths = [w for w, _, _ in stages(**params)]
    groups = [w // g for w, _, g in stages(**params)]
    for i, (w, g) in enumerate(zip(widths, groups), start=1):
        b = gm.get_submodule(f"trunk_output.block{i}.block{i}-0.f.b.0")
        assert (b.in_channels, b.out_channels, b.groups, b.stride) == (w, w, g, (2, 2))
    assert tuple(groups) == {"regnet_x_400mf": (2, 4, 10, 25), "regnet_y_400mf": (6, 13, 26, 55)}[name]


def test_stage_shapes_and_projections():
    for name, widths, depths in [
        ("regnet_x_400mf", (32, 64, 160, 400), (1, 2, 7, 12)),
        ("regnet_y_400mf", (48, 104, 208, 440), (1, 3, 6, 6)),
    ]:
        a = archdsl.load(name).analyze()
        assert a.layer("stem.2").output_shape == (32, 112, 112)
        for i, (w, d) in enumerate(zip(widths, depths), start=1):
            last = f"trunk_output.block{i}.block{i}-{d - 1}"
            assert a.layer(last).output_shape == (w, 112 >> i, 112 >> i)
            blocks = [x.name for x in a.layers if x.op in ("add", "residual") and x.name.count(".") == 2]
            assert sum(1 for b in blocks if b.startswith(f"trunk_output.block{i}.")) == d
        # a projection only in each stage's first block (stride 2); the rest add the identity
        projs = sorted({x.name.rsplit(".proj", 1)[0] for x in a.layers if ".proj." in x.name})
        assert projs == [f"trunk_output.block{i}.block{i}-0" for i in range(1, 5)]
        assert a.layer("avgpool").output_shape == (widths[-1], 1, 1)


def test_regnet_y_se_squeeze_widths():
    """SqueezeExcitation squeezes to round(0.25 * the block's input width), not its own width."""
    a = archdsl.load("regnet_y_400mf").analyze()
    fc1 = {x.name: x.output_shape[0] for x in a.layers if x.name.endswith(".f.se.fc1")}
    assert len(fc1) == 16
    assert fc1["trunk_output.block1.block1-0.f.se.fc1"] == 8  # the stem's 32
    assert fc1["trunk_output.block2.block2-0.f.se.fc1"] == 12  # 48
    assert fc1["trunk_output.block2.block2-1.f.se.fc1"] == 26  # 104
    assert fc1["trunk_output.block3.block3-0.f.se.fc1"] == 26
    assert fc1["trunk_output.block4.block4-0.f.se.fc1"] == 52  # 208
    assert fc1["trunk_output.block4.block4-5.f.se.fc1"] == 110  # 440
    names = [x.name for x in a.layers if x.name.startswith("trunk_output.block1.block1-0.f.se")]
    assert names == [
        "trunk_output.block1.block1-0.f.se.branch1",
        "trunk_output.block1.block1-0.f.se.avgpool",
        "trunk_output.block1.block1-0.f.se.fc1",
        "trunk_output.block1.block1-0.f.se.activation",
        "trunk_output.block1.block1-0.f.se.fc2",
        "trunk_output.block1.block1-0.f.se.scale_activation",
        "trunk_output.block1.block1-0.f.se",
    ]


def test_pycls_width_rounding():
    """pycls rounds 392 / 16 = 24.5 to even (384), torchvision up (400): the authors' model zoo's
    RegNetX-400MF (5.2 M parameters, 0.4 GF) is the 384-wide one."""
    pycls = ((32, 1, 16), (64, 2, 16), (160, 7, 16), (384, 12, 16))
    a = archdsl.load("regnet_x_400mf", regnet_x_400mf_stages=pycls).analyze()
    assert (a.totals.params, a.totals.macs) == (5_157_512, 397_677_568)
    assert (round(a.totals.params / 1e6, 1), round(a.totals.macs / 1e9, 1)) == (5.2, 0.4)
