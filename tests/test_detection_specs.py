"""The detection networks of specs/detection/ against the papers and torchvision: YOLO v1 and
Fast YOLO, SSD300 (torchvision's ssd300_vgg16), Faster R-CNN's RPN on VGG-16 and the CS231n
classification + localization network.

Every number is exact. Shapes and parameters come from ``analyze()`` (pure Python); the SSD's
state_dict is also built on the meta device. tests/test_specs.py already runs a forward pass of
every network at its native input size.
"""

from __future__ import annotations

import json
from functools import cache
from math import prod
from pathlib import Path

import pytest

import archdsl

REFERENCE = Path(__file__).resolve().parent / "reference"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


@cache
def analysis(name: str, **variables):
    return archdsl.load(name, **variables).analyze()


def conv_params(cin: int, cout: int, k: int) -> int:
    return cout * cin * k * k + cout


def fc_params(fin: int, fout: int) -> int:
    return fout * fin + fout


def of_op(a, op: str) -> list:
    return [layer for layer in a.layers if layer.op == op]


def consumers(a, name: str) -> list:
    return [layer for layer in a.layers if name in layer.inputs]


# ================================================================================ YOLO v1
# Fig. 3, as (kernel, filters, stride) per conv, "M" for a 2x2/2 max pool
YOLO_FIG3 = [
    (7, 64, 2),
    "M",
    (3, 192, 1),
    "M",
    (1, 128, 1),
    (3, 256, 1),
    (1, 256, 1),
    (3, 512, 1),
    "M",
    *[(1, 256, 1), (3, 512, 1)] * 4,
    (1, 512, 1),
    (3, 1024, 1),
    "M",
    *[(1, 512, 1), (3, 1024, 1)] * 2,
    (3, 1024, 1),
    (3, 1024, 2),
    (3, 1024, 1),
    (3, 1024, 1),
]
YOLO_TRUNK = 60_155_968  # the 24 convs with biases
YOLO_FC1 = fc_params(7 * 7 * 1024, 4096)  # 205,524,992


def test_yolov1_fig3_layers():
    a = analysis("yolov1")
    assert a.input_shape == (3, 448, 448)
    convs = of_op(a, "conv")
    assert len(convs) == 24
    assert [(c.args["k"], c.args["out"], c.args["s"]) for c in convs] == [x for x in YOLO_FIG3 if x != "M"]
    # the pools take 448 -> 224 (conv /2) -> 112 -> 56 -> 28 -> 14, the stride-2 conv to 7
    assert [p.output_shape[1:] for p in of_op(a, "maxpool")] == [(112, 112), (56, 56), (28, 28), (14, 14)]
    assert a.layer(convs[-1].name).output_shape == (1024, 7, 7)
    # the trunk's parameters, conv by conv from the figure
    cin, total = 3, 0
    for x in YOLO_FIG3:
        if x != "M":
            total += conv_params(cin, x[1], x[0])
            cin = x[1]
    assert total == sum(c.params for c in convs) == YOLO_TRUNK


def test_yolov1_leaky_relu_dropout_and_linear_output():
    a = analysis("yolov1")
    fcs = of_op(a, "fc")
    assert [f.args["out"] for f in fcs] == [4096, 7 * 7 * 30]
    # every layer with weights but the last is followed by a leaky ReLU with slope 0.1
    for layer in [*of_op(a, "conv"), fcs[0]]:
        (after,) = consumers(a, layer.name)
        assert (after.op, after.args["slope"]) == ("leaky_relu", 0.1), layer.name
    (drop,) = consumers(a, consumers(a, fcs[0].name)[0].name)
    assert (drop.op, drop.args["p"]) == ("dropout", 0.5)
    # the last layer is linear: straight into the reshape to S x S x (5B + C)
    (last,) = consumers(a, fcs[1].name)
    assert (last.op, last.args["dims"]) == ("reshape", (7, 7, 30))
    assert not any(layer.op in ("relu", "leaky_relu", "sigmoid", "softmax") for layer in consumers(a, last.name))


def test_yolov1_parameters_and_output():
    a = analysis("yolov1")
    assert a.outputs == {"output": (7, 7, 30)}
    assert [f.params for f in of_op(a, "fc")] == [YOLO_FC1, fc_params(4096, 1470)] == [205_524_992, 6_022_590]
    assert a.totals.params == YOLO_TRUNK + YOLO_FC1 + 6_022_590 == 271_703_550  # "~271.7M"


@pytest.mark.parametrize(("S", "B", "C"), [(7, 2, 20), (14, 3, 80), (7, 3, 20), (5, 1, 1)])
def test_yolov1_grid_boxes_classes_are_variables(S: int, B: int, C: int):
    """S, B and C change only the last fc layer: the trunk gives 7x7 at 448 whatever the grid."""
    for name, rest in (("yolov1", YOLO_TRUNK + YOLO_FC1), ("yolov1_tiny", YOLO_TINY_BODY)):
        a = analysis(name, S=S, B=B, C=C)
        depth = 5 * B + C
        assert a.outputs == {"output": (S, S, depth)}
        assert of_op(a, "fc")[-1].output_shape == (S * S * depth,)
        assert a.totals.params == rest + fc_params(4096, S * S * depth)


def test_yolov1_other_grid_exact():
    a = analysis("yolov1", S=14, B=3, C=80)
    assert a.outputs == {"output": (14, 14, 95)}
    assert a.totals.params == 341_967_100


# Fast YOLO: Darknet's yolo-tiny.cfg of the paper's time (nine 3x3 convs, fc 256, fc 4096, fc 1470)
TINY_FILTERS = [16, 32, 64, 128, 256, 512, 1024, 1024, 1024]
YOLO_TINY_BODY = (
    sum(conv_params(cin, cout, 3) for cin, cout in zip([3, *TINY_FILTERS], TINY_FILTERS))
    + fc_params(7 * 7 * 1024, 256)
    + fc_params(256, 4096)
)


def test_fast_yolo_nine_convs():
    a = analysis("yolov1_tiny")
    assert a.input_shape == (3, 448, 448)
    convs = of_op(a, "conv")
    assert len(convs) == 9  # "9 instead of 24"
    assert [c.args["out"] for c in convs] == TINY_FILTERS
    assert all((c.args["k"], c.args["s"]) == (3, 1) for c in convs)
    assert [p.output_shape[1:] for p in of_op(a, "maxpool")] == [
        (224, 224),
        (112, 112),
        (56, 56),
        (28, 28),
        (14, 14),
        (7, 7),
    ]
    for layer in convs:
        (after,) = consumers(a, layer.name)
        assert (after.op, after.args["slope"]) == ("leaky_relu", 0.1), layer.name
    fcs = of_op(a, "fc")
    assert [f.args["out"] for f in fcs] == [256, 4096, 1470]
    assert consumers(a, fcs[0].name)[0].op == "fc"  # fc 256 is linear in the cfg
    assert [c.op for c in consumers(a, fcs[1].name)] == ["leaky_relu"]
    assert a.outputs == {"output": (7, 7, 30)}
    assert a.totals.params == YOLO_TINY_BODY + fc_params(4096, 1470) == 45_089_374


# ================================================================================== SSD300
SSD_K = (4, 6, 6, 6, 4, 4)  # default boxes per position on each source map
SSD_SOURCES = (
    "backbone.scale_weight",
    "backbone.extra.0",
    "backbone.extra.1",
    "backbone.extra.2",
    "backbone.extra.3",
    "backbone.extra.4",
)


def ssd_source_maps(a) -> list[tuple[int, ...]]:
    """The six maps the heads see: the input of each classification-head conv."""
    out = []
    for i in range(6):
        cls = a.layer(f"head.classification_head.module_list.{i}")
        reg = a.layer(f"head.regression_head.module_list.{i}")
        assert cls.inputs == reg.inputs
        out.append(a.layer(cls.inputs[0]).output_shape)
    return out


def test_ssd300_source_maps_match_torchvision():
    a = analysis("ssd300")
    assert a.input_shape == (3, 300, 300)
    maps = ssd_source_maps(a)
    assert [(1, *m) for m in maps] == [tuple(m) for m in reference("ssd300_vgg16")["feature_maps"]]
    assert maps == [(512, 38, 38), (1024, 19, 19), (512, 10, 10), (256, 5, 5), (256, 3, 3), (256, 1, 1)]
    # the first source is the L2-normalised conv4_3 (after its ReLU), the second conv7's ReLU
    assert a.layer("head.classification_head.module_list.0").inputs == ["backbone.scale_weight"]
    l2 = a.layer("backbone.scale_weight")
    assert (l2.op, l2.args["scale"], l2.param_shapes) == ("l2norm", 20.0, {"": (512,)})
    assert l2.inputs == ["backbone.features.22"]
    assert a.layer("backbone.extra.0.pool4").inputs == ["backbone.features.22"]  # not the normalised map
    # pool3 rounds up (75 -> 38); pool5 is 3x3/1 pad 1; conv6 is dilated 6
    assert a.layer("backbone.features.pool3").args["ceil"] is True
    assert a.layer("backbone.features.pool3").output_shape == (256, 38, 38)
    assert {k: a.layer("backbone.extra.0.7.pool5").args[k] for k in ("k", "s", "p")} == {"k": 3, "s": 1, "p": 1}
    conv6 = a.layer("backbone.extra.0.7.1")
    assert {k: conv6.args[k] for k in ("out", "k", "p", "d")} == {"out": 1024, "k": 3, "p": 6, "d": 6}
    assert a.layer("backbone.extra.0.7.3").args["k"] == 1


def test_ssd300_heads_and_8732_boxes():
    a = analysis("ssd300")
    for i, (k, (_c, h, w)) in enumerate(zip(SSD_K, ssd_source_maps(a))):
        assert a.layer(f"head.classification_head.module_list.{i}").output_shape == (k * 91, h, w)
        assert a.layer(f"head.regression_head.module_list.{i}").output_shape == (k * 4, h, w)
    # each head output is HxWx(k*n), then (H*W*k) x n: boxes per map
    per_map = [a.layer(f"bbox_regression.branch{i}.1").output_shape for i in range(1, 7)]
    assert per_map == [(5776, 4), (2166, 4), (600, 4), (150, 4), (36, 4), (4, 4)]
    assert [a.layer(f"cls_logits.branch{i}.1").output_shape[0] for i in range(1, 7)] == [n for n, _ in per_map]
    assert sum(n for n, _ in per_map) == 38 * 38 * 4 + 19 * 19 * 6 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 4 + 4 == 8732
    assert a.outputs == {"bbox_regression": (8732, 4), "cls_logits": (8732, 91)}
    assert a.outputs == {k: tuple(v[1:]) for k, v in reference("ssd300_vgg16")["head_outputs"].items()}


def test_ssd300_parameters_and_state_dict_match_torchvision():
    ref = reference("ssd300_vgg16")
    a = analysis("ssd300")
    assert a.totals.params == ref["params"] == 35_641_826
    assert a.totals.macs == 34_858_153_472  # torchvision's "_ops": 34.858 (GFLOPS counting multiply-adds)
    expected = {k: tuple(v) for k, v in ref["state_dict"].items()}
    assert len(expected) == 71
    assert list(a.state_dict_shapes().items()) == list(expected.items())  # keys, order and shapes
    import torch

    gm = archdsl.load("ssd300").compile(device="meta")
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == list(expected.items())
    with torch.no_grad():
        out = gm(torch.empty(2, 3, 300, 300, device="meta"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"bbox_regression": (2, 8732, 4), "cls_logits": (2, 8732, 91)}


def test_ssd300_pascal_voc_classes():
    """classes = 21 changes only the classification heads: (91 - 21) x k x (9 Cin + 1) fewer."""
    a = analysis("ssd300", classes=21)
    fewer = sum(70 * k * (9 * m[0] + 1) for k, m in zip(SSD_K, ssd_source_maps(a)))
    assert a.totals.params == 35_641_826 - fewer == 26_285_486  # the Caffe SSD300's 26.285M (VOC)
    assert a.outputs == {"bbox_regression": (8732, 4), "cls_logits": (8732, 21)}


# ===================================================================== Faster R-CNN's RPN
VGG16_CONVS = 14_714_688  # VGG-16's 13 conv layers (torchvision's features.0 .. features.28)


def test_rpn_vgg16_at_224():
    a = analysis("rpn_vgg16")
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"objectness": (9, 14, 14), "bbox_deltas": (36, 14, 14)}
    # the trunk is VGG-16 cut after conv5_3's ReLU: no pool5
    vgg = {k: tuple(v) for k, v in reference("vgg16")["state_dict"].items() if k.startswith("features.")}
    ours = a.state_dict_shapes()
    assert {k[len("backbone.") :]: v for k, v in ours.items() if k.startswith("backbone.")} == vgg
    assert sum(prod(v) for v in vgg.values()) == VGG16_CONVS
    assert a.layer("rpn.head.conv.0.0").inputs == ["backbone.features.29"]
    assert a.layer("backbone.features.29").op == "relu"
    assert [p.name for p in of_op(a, "maxpool")] == [f"backbone.features.pool{i}" for i in range(1, 5)]  # stride 16
    head = {k: v for k, v in ours.items() if k.startswith("rpn.")}
    assert head == {
        "rpn.head.conv.0.0.weight": (512, 512, 3, 3),
        "rpn.head.conv.0.0.bias": (512,),
        "rpn.head.cls_logits.weight": (9, 512, 1, 1),
        "rpn.head.cls_logits.bias": (9,),
        "rpn.head.bbox_pred.weight": (36, 512, 1, 1),
        "rpn.head.bbox_pred.bias": (36,),
    }
    # both 1x1 convs are siblings on the ReLU after the 3x3 conv
    assert a.layer("rpn.head.cls_logits").inputs == a.layer("rpn.head.bbox_pred").inputs == ["rpn.head.conv.0.1"]
    assert (
        a.totals.params
        == (VGG16_CONVS + conv_params(512, 512, 3) + conv_params(512, 9, 1) + conv_params(512, 36, 1))
        == 17_097_581
    )


def test_rpn_vgg16_at_600x800():
    """The paper's scale: a 37x50 map, 1,850 positions, 16,650 anchors."""
    a = archdsl.load("rpn_vgg16", input="3x600x800").analyze()
    assert a.outputs == {"objectness": (9, 37, 50), "bbox_deltas": (36, 37, 50)}
    assert prod(a.outputs["objectness"]) == 37 * 50 * 9 == 16_650
    assert a.totals.params == 17_097_581
    # the paper's 1000x600 example (~60 x 40 positions): 37x62 with VGG's rounding
    wide = archdsl.load("rpn_vgg16", input="3x600x1000").analyze()
    assert wide.outputs == {"objectness": (9, 37, 62), "bbox_deltas": (36, 37, 62)}
    assert prod(wide.outputs["objectness"]) == 20_646


@pytest.mark.parametrize(("k", "scores"), [(9, 2), (15, 1), (3, 2)])
def test_rpn_anchors_and_scores_are_variables(k: int, scores: int):
    a = analysis("rpn_vgg16", k=k, scores=scores)
    assert a.outputs == {"objectness": (scores * k, 14, 14), "bbox_deltas": (4 * k, 14, 14)}
    assert a.totals.params == (
        VGG16_CONVS + conv_params(512, 512, 3) + conv_params(512, scores * k, 1) + conv_params(512, 4 * k, 1)
    )


def test_rpn_paper_two_class_scores_exact():
    assert analysis("rpn_vgg16", scores=2).totals.params == 17_102_198
    assert analysis("rpn_vgg16", scores=2).outputs["objectness"] == (18, 14, 14)


# ============================================================ classification + localization
def test_vgg16_localization():
    a = analysis("vgg16_localization")
    vgg = reference("vgg16")
    assert a.input_shape == (3, 224, 224)
    assert a.outputs == {"scores": (1000,), "box": (4,)}
    assert a.totals.params == vgg["params"] + 4096 * 4 + 4 == 138_373_932
    # one VGG-16 backbone (features, avgpool, fc6, fc7), both heads on fc7's 4096 features
    ours = a.state_dict_shapes()
    backbone = {k[len("backbone.") :]: v for k, v in ours.items() if k.startswith("backbone.")}
    assert backbone == {k: tuple(v) for k, v in vgg["state_dict"].items() if not k.startswith("classifier.6.")}
    assert a.layer("scores").inputs == a.layer("box").inputs == ["backbone.classifier.5"]
    assert ours["scores.weight"] == tuple(vgg["state_dict"]["classifier.6.weight"])
    assert (ours["box.weight"], ours["box.bias"]) == ((4, 4096), (4,))


def test_vgg16_localization_class_specific_boxes():
    a = analysis("vgg16_localization", class_specific=1, classes=20)
    assert a.outputs == {"scores": (20,), "box": (80,)}
    assert a.totals.params == VGG16_CONVS + fc_params(25088, 4096) + fc_params(4096, 4096) + fc_params(
        4096, 20
    ) + fc_params(4096, 80)
