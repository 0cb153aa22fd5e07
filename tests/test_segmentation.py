"""The segmentation networks of the library against the papers, their reference models and torchvision.

specs/segmentation/fcn.arch (FCN-32s/16s/8s as the authors' Caffe models, torchvision's fcn_resnet50),
specs/segmentation/deconvnet.arch (Noh et al. 2015, Table 1) and specs/segmentation/unet.arch
(Ronneberger et al. 2015, Fig. 1). Shapes and counts come from the pure-Python analysis; where torch is
needed, the module is built on the meta device (shapes only, no memory) except for one small real forward.
The forward at each network's declared size is tests/test_specs.py's.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import archdsl
from archdsl.errors import ArchError

REFERENCE = Path(__file__).resolve().parent / "reference"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def ref_state_dict(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in reference(name)["state_dict"].items()}


def analyze(name: str, **kw):
    return archdsl.load(name, **kw).analyze()


def meta_forward(name: str, input: str) -> dict[str, tuple[int, ...]]:
    """The output shapes torch itself computes, on the meta device (no memory, no arithmetic), under the
    analysis' output names (a module with a single output returns it bare, as tests/test_specs.py reads it)."""
    import torch

    net = archdsl.load(name, input=input)
    a = net.analyze()
    gm = net.compile(device="meta")
    gm.eval()
    y = gm(torch.empty(1, *a.input_shape, device="meta"))
    ys = y if isinstance(y, dict) else {next(iter(a.outputs)): y}
    return {k: tuple(v.shape[1:]) for k, v in ys.items()}


def pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


ELEMENTWISE = {"relu", "dropout", "bn"}


def coordinate_maps(a) -> dict[str, tuple[tuple[Fraction, Fraction], ...]]:
    """Caffe's coord_map, recomputed from the analysed layers: for every layer, per axis, (scale, shift)
    such that output position y sits at input pixel scale * y + shift. A conv or pool (kernel k, stride
    s, pad p, dilation d) maps y to s*y + (k-1)*d/2 - p of its input; a transposed conv inverts that; a
    crop at offset o maps y to y + o. The inputs of an add or concat must be aligned (same map)."""
    maps: dict[str, tuple[tuple[Fraction, Fraction], ...]] = {}
    for layer in a.layers:
        args = layer.args
        if layer.op == "input":
            maps[layer.name] = ((Fraction(1), Fraction(0)),) * 2
            continue
        src = maps[layer.inputs[0]]
        if layer.op in ("conv", "maxpool", "avgpool", "upconv"):
            k, s, p, d = pair(args["k"]), pair(args["s"]), pair(args["p"]), pair(args.get("d", 1))
            steps = []
            for (scale, shift), ki, si, pi, di in zip(src, k, s, p, d):
                c = Fraction((ki - 1) * di, 2) - pi
                if layer.op == "upconv":  # y_in = (y - c) / s
                    steps.append((scale / si, shift - scale * c / si))
                else:  # y_in = s * y + c
                    steps.append((scale * si, shift + scale * c))
            maps[layer.name] = tuple(steps)
        elif layer.op == "crop":
            if args["offset"] is None:  # centred, as the op computes it
                before = next(x for x in a.layers if x.name == layer.inputs[0]).output_shape
                offset = tuple((n - m) // 2 for n, m in zip(before[1:], layer.output_shape[1:]))
            else:
                offset = pair(args["offset"])
            maps[layer.name] = tuple((scale, shift + scale * o) for (scale, shift), o in zip(src, offset))
        elif layer.op in ("add", "concat"):
            branches = {maps[x] for x in layer.inputs}
            assert len(branches) == 1, f"{layer.name}: its inputs are not aligned: {branches}"
            maps[layer.name] = src
        elif layer.op in ELEMENTWISE:
            maps[layer.name] = src
        else:
            raise AssertionError(f"no coordinate map for {layer.op} ({layer.name})")
    return maps


# ----------------------------------------------------------------------------- FCN-32s/16s/8s
TRUNK = 14_714_688  # VGG-16's 13 convs (torchvision's vgg16 features)
SHARED = TRUNK + 102_764_544 + 16_781_312 + 86_037  # + fc6 (7x7x512 -> 4096), fc7, score_fr
FCN = [  # name, params, its layers beyond the shared ones, (crop, offset) in the order written
    ("fcn32s", 136_152_917, {"upscore": 21 * 21 * 64 * 64}, [("score", 19)]),
    (
        "fcn16s",
        134_815_994,
        {"upscore2": 21 * 21 * 4 * 4, "score_pool4": 512 * 21 + 21, "upscore16": 21 * 21 * 32 * 32},
        [("score_pool4c", 5), ("score", 27)],
    ),
    (
        "fcn8s",
        134_489_759,
        {
            "upscore2": 7_056,
            "score_pool4": 10_773,
            "upscore_pool4": 7_056,
            "score_pool3": 256 * 21 + 21,
            "upscore8": 21 * 21 * 16 * 16,
        },
        [("score_pool4c", 5), ("score_pool3c", 9), ("score", 31)],
    ),
]


@pytest.mark.parametrize(("name", "params", "extra", "crops"), FCN)
def test_fcn_parameters(name, params, extra, crops):
    a = analyze(name)
    assert a.totals.params == params == SHARED + sum(extra.values())
    assert sum(x.params for x in a.layers if x.name.startswith("features.")) == TRUNK
    assert {x: a.layer(x).params for x in extra} == extra
    # fc6 / fc7 convolutionalized, each with ReLU and dropout; the score layer 1x1 to 21 classes
    assert a.layer("fc6").param_shapes == {"weight": (4096, 512, 7, 7), "bias": (4096,)}
    assert a.layer("fc7").param_shapes == {"weight": (4096, 4096, 1, 1), "bias": (4096,)}
    assert [a.layer(x).op for x in ("relu6", "drop6", "relu7", "drop7")] == ["relu", "dropout"] * 2
    assert a.layer("score_fr").param_shapes == {"weight": (21, 4096, 1, 1), "bias": (21,)}
    # the upsampling deconvolutions have no bias, as in the reference (bias_term: false)
    for layer in a.layers:
        if layer.op == "upconv":
            assert list(layer.param_shapes) == ["weight"], layer.name
    assert [(x, a.layer(x).args["offset"]) for x, _ in crops] == crops


@pytest.mark.parametrize(("name", "params", "extra", "crops"), FCN)
def test_fcn_caffe_crop_offsets_align_every_fusion(name, params, extra, crops):
    """The offsets 19 / 5, 27 / 5, 9, 31 recomputed as Caffe's coord_map does: both inputs of every
    fuse (add) cover the same input pixels, and the score map's pixel (y, x) is the input's (y, x)."""
    a = analyze(name, input="3x500x375")
    maps = coordinate_maps(a)  # asserts the alignment of fuse_pool4 / fuse_pool3
    assert maps["score"] == ((1, 0), (1, 0))
    assert maps["features.0"] == ((1, -99), (1, -99))  # the centre of conv1_1's 3x3 window, padded by 100
    assert maps["fc6"] == ((32, Fraction(25, 2)), (32, Fraction(25, 2)))
    # a crop at any other offset would misalign (or not fit)
    assert sum(1 for x in a.layers if x.op == "add") == len(crops) - 1


@pytest.mark.parametrize("name", ["fcn32s", "fcn16s", "fcn8s"])
def test_fcn_output_has_the_input_size(name):
    for size in ((224, 224), (500, 375), (500, 500)):
        a = analyze(name, input="3x{}x{}".format(*size))
        assert a.outputs == {"output": (21, *size)}
    # any size: every remainder modulo 32, small and large (Caffe's ceil-mode pools make it work)
    for h in range(1, 98, 3):
        assert analyze(name, input=f"3x{h}x{h + 200}").outputs == {"output": (21, h, h + 200)}
    assert analyze(name, classes=5, input="3x123x77").outputs == {"output": (5, 123, 77)}


def test_fcn_at_500x375_in_torch():
    """torch's own shapes (meta device) at a VOC image size, and one small real forward."""
    import torch

    for name in ("fcn32s", "fcn16s", "fcn8s"):
        assert meta_forward(name, "3x500x375") == {"output": (21, 500, 375)}
    net = archdsl.load("fcn8s", input="3x21x30")
    gm = net.compile(device="cpu")
    gm.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        y = gm(torch.randn(1, 3, 21, 30))
    assert tuple(y.shape) == (1, 21, 21, 30) and torch.isfinite(y).all()


def test_fcn_trunk_loads_torchvision_vgg16_features():
    """features.0 ... features.28 are torchvision's vgg16 names and shapes; fc6/fc7 hold its fc weights."""
    vgg = {k: v for k, v in ref_state_dict("vgg16").items() if k.startswith("features.")}
    for name in ("fcn32s", "fcn16s", "fcn8s"):
        ours = {k: v for k, v in analyze(name).state_dict_shapes().items() if k.startswith("features.")}
        assert list(ours.items()) == list(vgg.items())
    ref = ref_state_dict("vgg16")
    a = analyze("fcn8s")
    assert (
        a.layer("fc6").params
        == 4096 * 25088 + 4096
        == ref["classifier.0.weight"][0] * ref["classifier.0.weight"][1] + 4096
    )
    assert a.layer("fc7").params == 4096 * 4096 + 4096
    pools = [x for x in a.layers if x.op == "maxpool"]
    assert [x.name for x in pools] == [f"features.pool{i}" for i in range(1, 6)]
    assert all(x.args["ceil"] for x in pools)  # Caffe's pooling rounds up


FLOOR_POOL_FCN32S = """
import vgg16
input 3x500x375
zeropad(99)
trunk: vgg16(upto=@pool5)
conv(4096, k=7, p=0) - relu - dropout - conv1-4096 - relu - dropout - conv1-21
upconv(21, k=64, s=32, bias=false) - crop(@input, offset=19)
"""


def test_floor_mode_vgg16_trunk_cannot_give_the_input_size():
    """Why fcn.arch writes its own trunk: vgg16's pools round down, and then FCN-32s at 500x375
    upsamples to 512x384, too small for a 500x375 crop at offset 19 (pad 100 = zeropad 99 + pad 1)."""
    with pytest.raises(ArchError, match="does not fit in 512x384"):
        archdsl.load(FLOOR_POOL_FCN32S).analyze()
    ok = archdsl.load(FLOOR_POOL_FCN32S.replace("3x500x375", "3x224x224")).analyze()
    assert ok.outputs == {"output": (21, 224, 224)}  # even sizes like 224 happen to fit


# ----------------------------------------------------------------------------- torchvision fcn_resnet50
def test_fcn_resnet50_is_torchvisions():
    ref = reference("fcn_resnet50")
    a = analyze("fcn_resnet50")
    assert a.input_shape == (3, 224, 224) == tuple(ref["input"][1:])
    assert a.outputs == {"out": (21, 224, 224)} == {k: tuple(v[1:]) for k, v in ref["output"].items()}
    assert a.totals.params == 32_957_013 == ref["params"]
    assert a.totals.macs == 26_484_498_432 == ref["conv_linear_flops"] // 2
    expected = ref_state_dict("fcn_resnet50")
    assert len(expected) == 326 == ref["buffers_state_dict_entries"]
    assert list(a.state_dict_shapes().items()) == list(expected.items())
    assert not any(k.startswith("aux_classifier") for k in expected)


def test_fcn_resnet50_compiled_state_dict_and_any_size():
    gm = archdsl.load("fcn_resnet50").compile(device="meta")
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == list(ref_state_dict("fcn_resnet50").items())
    assert meta_forward("fcn_resnet50", "3x300x401") == {"out": (21, 300, 401)}
    assert analyze("fcn_resnet50", input="3x520x520").outputs == {"out": (21, 520, 520)}


def test_fcn_resnet50_dilated_backbone():
    """replace_stride_with_dilation = [False, True, True]: output stride 8, dilation 2 in layer3 and 4 in
    layer4 (each stage's first block keeps the previous dilation), padding = dilation."""
    a = analyze("fcn_resnet50")
    dilation = {}
    for stage, blocks in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        for j in range(blocks):
            conv2 = a.layer(f"backbone.{stage}.{j}.conv2")
            assert conv2.args["p"] == conv2.args["d"]
            dilation[f"{stage}.{j}"] = (conv2.args["s"], conv2.args["d"])
    assert dilation == {
        "layer1.0": (1, 1),
        "layer1.1": (1, 1),
        "layer1.2": (1, 1),
        "layer2.0": (2, 1),
        "layer2.1": (1, 1),
        "layer2.2": (1, 1),
        "layer2.3": (1, 1),
        "layer3.0": (1, 1),
        **{f"layer3.{j}": (1, 2) for j in range(1, 6)},
        "layer4.0": (1, 2),
        "layer4.1": (1, 4),
        "layer4.2": (1, 4),
    }
    shapes = {
        n: a.layer(f"backbone.{n}").output_shape for n in ("maxpool", "layer1.2", "layer2.3", "layer3.5", "layer4.2")
    }  # each stage's last block
    assert shapes == {
        "maxpool": (64, 56, 56),
        "layer1.2": (256, 56, 56),
        "layer2.3": (512, 28, 28),
        "layer3.5": (1024, 28, 28),
        "layer4.2": (2048, 28, 28),
    }
    # the shortcuts where the channels change: 1x1, stride 1 in the dilated stages
    downsample = {n: a.layer(f"backbone.{n}.downsample").param_shapes for n in ("layer3.0", "layer4.0")}
    assert downsample == {
        "layer3.0": {"0.weight": (1024, 512, 1, 1), "1.weight": (1024,), "1.bias": (1024,)},
        "layer4.0": {"0.weight": (2048, 1024, 1, 1), "1.weight": (2048,), "1.bias": (2048,)},
    }
    head = [(x.name, x.op) for x in a.layers if x.name.startswith("classifier.")]
    assert head == [
        ("classifier.0", "conv"),
        ("classifier.1", "bn"),
        ("classifier.2", "relu"),
        ("classifier.3", "dropout"),
        ("classifier.4", "conv"),
    ]
    assert a.layer("classifier.3").args["p"] == 0.1
    assert a.layer("upsample").op == "resize_to" and a.layer("upsample").args["mode"] == "bilinear"


def test_bottleneck_dilation_default_changes_nothing():
    """residual.arch's bottleneck gained `dilation=1`: ResNet-50 is still torchvision's."""
    a = analyze("resnet50")
    assert a.totals.params == 25_557_032 and a.totals.macs == 4_089_184_256
    assert all(x.args["d"] == 1 and x.args["p"] == 1 for x in a.layers if x.name.endswith(".conv2"))


# ----------------------------------------------------------------------------- DeconvNet
DECONVNET_TABLE1 = [  # Noh et al. 2015, Table 1: layer, output size (HxWxC)
    ("conv1_1", "224x224x64"),
    ("conv1_2", "224x224x64"),
    ("pool1", "112x112x64"),
    ("conv2_1", "112x112x128"),
    ("conv2_2", "112x112x128"),
    ("pool2", "56x56x128"),
    ("conv3_1", "56x56x256"),
    ("conv3_2", "56x56x256"),
    ("conv3_3", "56x56x256"),
    ("pool3", "28x28x256"),
    ("conv4_1", "28x28x512"),
    ("conv4_2", "28x28x512"),
    ("conv4_3", "28x28x512"),
    ("pool4", "14x14x512"),
    ("conv5_1", "14x14x512"),
    ("conv5_2", "14x14x512"),
    ("conv5_3", "14x14x512"),
    ("pool5", "7x7x512"),
    ("fc6", "1x1x4096"),
    ("fc7", "1x1x4096"),
    ("fc6_deconv", "7x7x512"),
    ("unpool5", "14x14x512"),
    ("deconv5_1", "14x14x512"),
    ("deconv5_2", "14x14x512"),
    ("deconv5_3", "14x14x512"),
    ("unpool4", "28x28x512"),
    ("deconv4_1", "28x28x512"),
    ("deconv4_2", "28x28x512"),
    ("deconv4_3", "28x28x256"),
    ("unpool3", "56x56x256"),
    ("deconv3_1", "56x56x256"),
    ("deconv3_2", "56x56x256"),
    ("deconv3_3", "56x56x128"),
    ("unpool2", "112x112x128"),
    ("deconv2_1", "112x112x128"),
    ("deconv2_2", "112x112x64"),
    ("unpool1", "224x224x64"),
    ("deconv1_1", "224x224x64"),
    ("deconv1_2", "224x224x64"),
    ("seg_score", "224x224x21"),
]


def hwc(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, (*shape[1:], shape[0])))


def test_deconvnet_table1():
    a = analyze("deconvnet")
    assert a.input_shape == (3, 224, 224)
    assert [(n, hwc(a.layer(n).output_shape)) for n, _ in DECONVNET_TABLE1] == DECONVNET_TABLE1
    assert a.outputs == {"output": (21, 224, 224)}
    # kernel, stride, pad as in the table: 3x3/1/1 convs and deconvs, 7x7/1/0 fc6 and deconv-fc6, 2x2/2 pools
    for layer in a.layers:
        if layer.op in ("conv", "upconv"):
            expected = {"fc6": (7, 1, 0), "fc7": (1, 1, 0), "fc6_deconv": (7, 1, 0), "seg_score": (1, 1, 0)}
            assert (layer.args["k"], layer.args["s"], layer.args["p"]) == expected.get(layer.name, (3, 1, 1))
            assert layer.op == ("upconv" if "deconv" in layer.name else "conv"), layer.name
        if layer.op == "maxpool":
            assert (layer.args["k"], layer.args["s"], layer.args["indices"]) == (2, 2, True)
        if layer.op == "unpool":  # each unpooling undoes its own pool, back to the pool's input size
            pool = a.layer(layer.args["ref"])
            assert layer.args["ref"] == layer.name.replace("unpool", "pool")
            assert layer.output_shape == a.layer(pool.inputs[0]).output_shape


def test_deconvnet_batch_norm_after_every_conv_and_deconv():
    """Sec. 4.1 and the Caffe model: bn + ReLU after all 13 convs, fc6, fc7, deconv-fc6 and the 13
    deconvolutions (29 in all), none after the score layer; no dropout."""
    a = analyze("deconvnet")
    ops = [x.op for x in a.layers]
    weighted = [i for i, x in enumerate(a.layers) if x.op in ("conv", "upconv")]
    assert len(weighted) == 13 + 2 + 1 + 13 + 1
    for i in weighted[:-1]:
        assert ops[i + 1 : i + 3] == ["bn", "relu"], a.layers[i].name
    assert ops.count("bn") == 29 and "dropout" not in ops
    assert a.layers[-1].name == "seg_score" and a.layers[-1].op == "conv"


def test_deconvnet_parameters():
    a = analyze("deconvnet")
    assert a.totals.params == 251_805_653  # the paper's "252M"
    assert round(a.totals.params / 1e6) == 252
    by = {"fc": 0, "conv": 0, "deconv": 0, "bn": 0, "score": 0}
    for x in a.layers:
        kind = (
            "fc"
            if x.name in ("fc6", "fc7", "fc6_deconv")
            else "bn"
            if x.op == "bn"
            else "score"
            if x.name == "seg_score"
            else "deconv"
            if x.op == "upconv"
            else "conv"
        )
        by[kind] += x.params
    assert by == {
        "fc": 102_764_544 + 16_781_312 + 102_760_960,
        "conv": TRUNK,
        "deconv": 14_749_376,
        "bn": 8_448 + 8_192 + 8_192 + 1_024 + 7_552,
        "score": 64 * 21 + 21,
    }


def test_deconvnet_other_sizes_in_torch():
    """fc6 (7x7, pad 0) and deconv-fc6 (7x7, stride 1) undo each other's size and each unpool restores
    its pool's input, so any input with pool5 >= 7x7 gives classes x H x W; the compiled module agrees."""
    assert analyze("deconvnet", input="3x250x250").outputs == {"output": (21, 250, 250)}
    assert meta_forward("deconvnet", "3x320x240") == {"output": (21, 320, 240)}
    assert meta_forward("deconvnet", "3x224x224") == {"output": (21, 224, 224)}
    with pytest.raises(ArchError, match="too small for kernel 7x7"):
        analyze("deconvnet", input="3x192x192")


# ----------------------------------------------------------------------------- U-Net
UNET_FIG1 = [  # Ronneberger et al. 2015, Fig. 1: layer, (channels, size)
    ("down1.0", 64, 570),
    ("down1.2", 64, 568),
    ("pool1", 64, 284),
    ("down2.0", 128, 282),
    ("down2.2", 128, 280),
    ("pool2", 128, 140),
    ("down3.0", 256, 138),
    ("down3.2", 256, 136),
    ("pool3", 256, 68),
    ("down4.0", 512, 66),
    ("down4.2", 512, 64),
    ("pool4", 512, 32),
    ("center.0", 1024, 30),
    ("center.2", 1024, 28),
    ("up4", 512, 56),
    ("cat4", 1024, 56),
    ("dec4.0", 512, 54),
    ("dec4.2", 512, 52),
    ("up3", 256, 104),
    ("cat3", 512, 104),
    ("dec3.0", 256, 102),
    ("dec3.2", 256, 100),
    ("up2", 128, 200),
    ("cat2", 256, 200),
    ("dec2.0", 128, 198),
    ("dec2.2", 128, 196),
    ("up1", 64, 392),
    ("cat1", 128, 392),
    ("dec1.0", 64, 390),
    ("dec1.2", 64, 388),
    ("score", 2, 388),
]
UNET_PARAMS = 31_030_658


def test_unet_fig1_map_sizes():
    a = analyze("unet")
    assert a.input_shape == (1, 572, 572)
    assert [(n, *a.layer(n).output_shape) for n, c, s in UNET_FIG1] == [(n, c, s, s) for n, c, s in UNET_FIG1]
    assert a.outputs == {"output": (2, 388, 388)}
    # copy and crop: the contracting path's 64, 136, 280, 568 cropped (centred) to 56, 104, 200, 392
    crops = {x.inputs[0]: x.output_shape for x in a.layers if x.op == "crop"}
    assert crops == {
        "down4.3": (512, 56, 56),
        "down3.3": (256, 104, 104),
        "down2.3": (128, 200, 200),
        "down1.3": (64, 392, 392),
    }  # @downN is the group's last layer, its second ReLU
    for level in (1, 2, 3, 4):  # the copy first, then the up-convolved map
        assert a.layer(f"cat{level}").inputs == [f"cat{level}.branch1", f"up{level}"]
    # and the centred crops align the copies with the up-convolved maps, pixel for pixel
    maps = coordinate_maps(a)
    assert maps["score"] == ((1, 92), (1, 92))  # output pixel y is input pixel y + 92 (572 = 388 + 2*92)


def test_unet_layers_and_parameters():
    a = analyze("unet")
    assert a.totals.params == UNET_PARAMS
    convs = [x for x in a.layers if x.op in ("conv", "upconv")]
    assert len(convs) == 23  # "In total the network has 23 convolutional layers"
    assert sorted({(x.op, x.args["k"], x.args["s"], x.args["p"]) for x in convs}) == [
        ("conv", 1, 1, 0),
        ("conv", 3, 1, 0),
        ("upconv", 2, 2, 0),
    ]
    ups = {x.name: x.param_shapes["weight"] for x in convs if x.op == "upconv"}  # halve the channels
    assert ups == {"up4": (1024, 512, 2, 2), "up3": (512, 256, 2, 2), "up2": (256, 128, 2, 2), "up1": (128, 64, 2, 2)}
    assert a.totals.macs == 150_428_424_448


def test_unet_padded():
    a = analyze("unet_padded")
    assert a.input_shape == (1, 256, 256) and a.outputs == {"output": (2, 256, 256)}
    assert a.totals.params == UNET_PARAMS == analyze("unet").totals.params  # padding adds no parameters
    assert a.state_dict_shapes() == analyze("unet").state_dict_shapes()
    assert all(x.args["p"] == 1 for x in a.layers if x.op == "conv" and x.args["k"] == 3)
    for size in ("96x160", "320x320", "512x384"):
        h, w = map(int, size.split("x"))
        assert analyze("unet_padded", input=f"1x{size}").outputs == {"output": (2, h, w)}
    assert meta_forward("unet_padded", "1x96x160") == {"output": (2, 96, 160)}
    assert coordinate_maps(a)["score"] == ((1, 0), (1, 0))
    assert analyze("unet_padded", classes=5).outputs == {"output": (5, 256, 256)}


def test_fcn_resnet50_returns_a_dict_like_torchvision():
    import torch

    model = archdsl.load("fcn_resnet50").compile(device="meta")
    y = model(torch.empty(1, 3, 224, 224, device="meta"))
    assert isinstance(y, dict) and list(y) == ["out"] and tuple(y["out"].shape) == (1, 21, 224, 224)
