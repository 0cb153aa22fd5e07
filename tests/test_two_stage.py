"""Two-stage detection in the language: the proposals, roi_pool and roi_align ops, the per-region dimension R,
and specs/detection/faster_rcnn.arch against torchvision's FasterRCNN on VGG-16 (tests/reference/
fasterrcnn_vgg16_voc.json: its state_dict, 137,073,622 parameters).

The RoI functions themselves are tested against brute-force loops in tests/test_roi.py and the proposals function
in tests/test_proposals.py; here, that the ops wire them up: the spatial scale from the map's stride, the
anchors' stride from the image's size, the rows per image through the layers after them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import detect
from archdsl.cli import main

REFERENCE = Path(__file__).resolve().parent / "reference"

# a small RPN on a stride-2 map: 9 anchors (sizes 4, 8, 16 x 3 ratios), at most 5 proposals per image
SMALL = """input 3x16x16
m: conv3-8/2 - o: conv1-9
@m - d: conv1-36
@o - r: proposals(@d, sizes=(4, 8, 16), post_nms=5)
@m - p: {roi}
@p - s: fc-6
output r as proposals, p as pooled, s as scores
"""


def _small(roi: str = "roi_pool(@r, 2)") -> archdsl.Net:
    return archdsl.load(SMALL.format(roi=roi))


# ------------------------------------------------------------------------------------------- analysis
def test_per_region_rows_and_macs():
    a = _small().analyze()
    rows = {x.name: x.rows for x in a.layers}
    assert rows == {"input": 1, "m": 1, "o": 1, "d": 1, "r": 5, "p": 5, "s": 5}
    assert a.output_rows == {"proposals": 5, "pooled": 5, "scores": 5}
    assert a.outputs == {"proposals": (5,), "pooled": (8, 2, 2), "scores": (6,)}
    fc = a.layer("s")
    assert fc.macs == 5 * (8 * 2 * 2 * 6)  # per image: R times a region's 32 x 6
    assert fc.activations == 5 * 6 and a.layer("p").activations == 5 * 8 * 2 * 2
    assert a.regions == 5


def test_macs_scale_with_r():
    """The per-region part of the MACs is R times a region's: 119,967,744 per region at any R."""
    at = {r: archdsl.load("faster_rcnn_vgg16", rois=r).analyze().totals.macs for r in (1, 300)}
    assert at[300] == 187_031_577_600
    assert at[300] - at[1] == 299 * 119_967_744
    assert at[1] == 146_633_932_800 + 4_407_321_600 + 119_967_744  # backbone, RPN, one region


def test_roi_ops_take_the_map_stride_as_scale():
    net = _small()
    assert net.analyze().layer("m").receptive_field.stride == (2.0, 2.0)
    gm = net.compile(seed=0)
    pool = gm.get_submodule("p")
    assert (pool.output_size, pool.spatial_scale) == ((2, 2), 0.5)
    align = _small("roi_align(@r, 3, sampling_ratio=2, aligned=true)").compile(seed=0).get_submodule("p")
    assert (align.output_size, align.spatial_scale, align.sampling_ratio, align.aligned) == ((3, 3), 0.5, 2, True)


# -------------------------------------------------------------------------------------------- run time
@pytest.mark.parametrize("roi", ["roi_pool(@r, 2)", "roi_align(@r, (2, 3), sampling_ratio=2)"])
def test_compiled_ops_equal_the_functions(roi):
    """The compiled model's proposals and pooled regions are archdsl.detect's on the same tensors, for a batch
    of two images (each proposal pooled from its own image)."""
    gm = _small(roi).compile(seed=0).eval()
    trace: dict = {}
    for name in ("m", "o", "d"):
        gm.get_submodule(name).register_forward_hook(lambda mod, i, out, name=name: trace.__setitem__(name, out))
    torch.manual_seed(1)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = gm(x)
    anchors = detect.rpn_anchors((8, 8), 2, sizes=(4, 8, 16))
    found = detect.proposals(trace["o"], trace["d"], anchors, (16, 16), post_nms_top_n=5)
    rows = torch.cat(
        [torch.cat((torch.full((len(f["boxes"]), 1), float(i)), f["boxes"]), 1) for i, f in enumerate(found)]
    )
    assert torch.equal(out["proposals"], rows)
    assert 0 < len(rows) <= 10 and set(rows[:, 0].tolist()) == {0.0, 1.0}
    if roi.startswith("roi_pool"):
        want = detect.roi_pool(trace["m"], rows, 2, spatial_scale=0.5)
    else:
        want = detect.roi_align(trace["m"], rows, (2, 3), spatial_scale=0.5, sampling_ratio=2)
    assert torch.equal(out["pooled"], want)
    assert out["scores"].shape == (len(rows), 6)


def test_rcnn_detections_by_hand():
    """Three proposals in one 100 x 100 image, classes background, cat, dog; zero deltas keep the proposals'
    boxes. Proposals 0 and 1 (IoU 81/119 = 0.68) are both cats: NMS at 0.5 keeps the better; proposal 2 is a
    dog under the score threshold and proposal 1 is also a dog above it, which no cat suppresses."""
    proposals = torch.tensor([[0, 10.0, 10, 20, 20], [0, 11.0, 11, 21, 21], [0, 50.0, 50, 90, 90]])
    p = torch.tensor([[0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.97, 0.0, 0.03]])  # softmax of the logits below
    logits = p.log()
    found = detect.rcnn_detections(logits, torch.zeros(3, 12), proposals, (100, 100))
    assert len(found) == 1
    d = found[0]
    assert d["labels"].tolist() == [1, 2]
    torch.testing.assert_close(d["scores"], torch.tensor([0.8, 0.3]))
    assert d["boxes"].tolist() == [[10.0, 10.0, 20.0, 20.0], [11.0, 11.0, 21.0, 21.0]]
    # deltas move the box: dx = 10 (divided by weight 10) shifts class 1's box by one width; clipped at 100
    deltas = torch.zeros(3, 12)
    deltas[2, 4:8] = torch.tensor([10.0, 0, 0, 0])
    logits[2] = torch.tensor([0.0, 5.0, 0.0])
    d = detect.rcnn_detections(logits, deltas, proposals, (100, 100))[0]
    assert [90.0, 50.0, 100.0, 90.0] in d["boxes"].tolist()
    # the same through detect(kind="rcnn"), with an empty second image given by batch_size
    out = {"class_logits": logits, "box_regression": deltas, "proposals": proposals}
    both = detect.detect(out, "rcnn", image_size=(100, 100), batch_size=2)
    assert torch.equal(both[0]["boxes"], d["boxes"]) and both[1]["boxes"].shape == (0, 4)
    with pytest.raises(ValueError, match="image_size"):
        detect.detect(out, "rcnn")


# ---------------------------------------------------------------------------------- the library's spec
def test_faster_rcnn_vgg16_is_torchvisions():
    ref = json.loads((REFERENCE / "fasterrcnn_vgg16_voc.json").read_text())
    a = archdsl.load("faster_rcnn_vgg16").analyze()
    assert a.totals.params == ref["params"] == 137_073_622
    assert list(a.state_dict_shapes().items()) == [(k, tuple(v)) for k, v in ref["state_dict"].items()]
    assert a.layer("backbone.29").output_shape == (512, 37, 50)
    assert a.layer("roi_heads.box_roi_pool").output_shape == (512, 7, 7)
    assert a.layer("roi_heads.box_roi_pool").rows == 300


@pytest.mark.timeout(300)
def test_faster_rcnn_vgg16_end_to_end():
    """One 3x600x800 image to boxes, scores and labels."""
    gm = archdsl.load("faster_rcnn_vgg16").compile(seed=0).eval()
    assert gm.get_submodule("roi_heads.box_roi_pool").spatial_scale == 1 / 16
    torch.manual_seed(0)
    with torch.no_grad():
        out = gm(torch.randn(1, 3, 600, 800))
    k = len(out["proposals"])
    assert 0 < k <= 300
    assert out["class_logits"].shape == (k, 21) and out["box_regression"].shape == (k, 84)
    boxes = out["proposals"][:, 1:]
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 800).all() and (boxes[:, 3] <= 600).all()
    found = detect.detect(out, "rcnn", image_size=(600, 800), score_thresh=0.0)
    (d,) = found
    assert set(d) == {"boxes", "scores", "labels"}
    assert 0 < len(d["boxes"]) <= 100 and d["boxes"].shape[1] == 4
    assert ((d["labels"] >= 1) & (d["labels"] <= 20)).all()
    assert torch.all(d["scores"][:-1] >= d["scores"][1:])


def test_report_and_symbolic_show_r(capsys):
    assert main(["report", "faster_rcnn_vgg16"]) == 0
    out = capsys.readouterr().out
    assert "R×512x7x7" in out and "R×4096" in out
    assert "class_logits: R×21" in out
    assert "MACs 187,031,577,600 per image" in out
    assert "R = 300 regions per image (at most)" in out
    assert main(["report", "faster_rcnn_vgg16", "--input", "3xHxW"]) == 0
    out = capsys.readouterr().out
    assert "class_logits: R x 21" in out and "R x 512 x 7 x 7" in out


def test_generated_source_says_it_needs_archdsl(tmp_path):
    source = archdsl.load(SMALL.format(roi="roi_align(@r, 2)")).source()
    assert "Needs torch and archdsl" in source
    assert "from archdsl.detect import proposals, rpn_anchors" in source
    assert "from archdsl.detect import roi_align" in source
    namespace: dict = {}
    exec(compile(source, "generated.py", "exec"), namespace)
    model = namespace["build"]().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 16))
    assert out["pooled"].shape[1:] == (8, 2, 2)


@pytest.mark.timeout(300)
def test_the_detection_docs_examples_run():
    """docs/detection.md's two-stage examples, as written: Faster R-CNN from an image to boxes, Fast R-CNN
    with its boxes as a second input."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "detection.md").read_text(encoding="utf-8")
    part = text[text.index("## Two-stage detectors") :]
    blocks = [b.split("```", 1)[0] for b in part.split("```python\n")[1:]]
    assert len(blocks) == 2
    namespace: dict = {}
    exec(compile(blocks[0], "detection.md", "exec"), namespace)  # the project's own documentation
    assert set(namespace["found"][0]) == {"boxes", "scores", "labels"}
    assert namespace["boxes"].shape[1] == 4 and len(namespace["labels"]) == len(namespace["scores"]) <= 100
    exec(compile(blocks[1], "detection.md", "exec"), namespace)
    out = namespace["out"]
    assert out["class_logits"].shape == (100, 21) and out["box_regression"].shape == (100, 84)


# ------------------------------------------------------------------------------ several inputs, the other specs
def test_a_further_input_is_an_argument_by_name():
    net = archdsl.load("fast_rcnn_vgg16", rois=4)
    a = net.analyze()
    assert a.inputs == {"image": (3, 600, 800), "boxes": (4, 4)}
    assert a.totals.params == 134_690_729
    gm = net.compile(device="meta")
    assert [n.name for n in gm.graph.nodes if n.op == "placeholder"] == ["image", "boxes"]
    assert "def forward(self, image, boxes):" in net.source()
    # Faster R-CNN's weights load into it: the same names, without the RPN
    faster = archdsl.load("faster_rcnn_vgg16").analyze().state_dict_shapes()
    assert a.state_dict_shapes() == {k: v for k, v in faster.items() if not k.startswith("rpn.")}


def test_boxes_given_per_image_are_pooled_from_their_image():
    """N x R x 4 boxes: image i's boxes pool image i's map, as a K x 5 list with batch indices would."""
    net = archdsl.load("input image 3x8x8\ninput boxes (2, 4)\nm: conv3-4\n@m - p: roi_align(@boxes, 2)\noutput p")
    gm = net.compile(seed=0).eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    boxes = torch.tensor([[[0.0, 0, 4, 4], [2, 2, 8, 6]], [[1.0, 1, 3, 7], [0, 0, 8, 8]]])
    with torch.no_grad():
        got = gm(x, boxes)
        m = gm.get_submodule("m")(x)
    rows = torch.tensor([[0.0, 0, 0, 4, 4], [0, 2, 2, 8, 6], [1, 1, 1, 3, 7], [1, 0, 0, 8, 8]])
    assert torch.equal(got["p"], detect.roi_align(m, rows, 2))
    assert archdsl.load("input 3x8x8\nrelu").analyze().inputs == {"x": (3, 8, 8)}  # one input: the forward's x


def test_mask_rcnn_mask_head_is_torchvisions():
    ref = json.loads((REFERENCE / "maskrcnn_mask_branch.json").read_text())
    net = archdsl.load("mask_rcnn_mask_head", rois=2)
    a = net.analyze()
    assert a.totals.params == ref["params"] == 2_646_107
    assert list(a.state_dict_shapes().items()) == [(k, tuple(v)) for k, v in ref["state_dict"].items()]
    assert a.outputs == {"mask_logits": (91, 28, 28)} and a.output_rows == {"mask_logits": 2}
    gm = net.compile(seed=0).eval()
    assert gm.get_submodule("mask_roi_pool").spatial_scale == 0.0625  # given: the map is the network's input
    with torch.no_grad():
        assert gm(**net.example_inputs(1))["mask_logits"].shape == (2, 91, 28, 28)


def test_rcnn_costs_a_whole_caffenet_per_region():
    a = archdsl.load("rcnn_alexnet").analyze()
    caffenet = archdsl.load("alexnet_paper", classes=21).analyze()
    assert a.totals.params == caffenet.totals.params == 56_954_261
    assert a.totals.macs == 2000 * caffenet.totals.macs == 1_440_793_664_000
    warp = a.layer("warp")
    assert (warp.output_shape, warp.rows) == ((3, 227, 227), 2000)
    gm = archdsl.load("rcnn_alexnet", rois=2).compile(device="meta")
    assert gm.get_submodule("warp").spatial_scale == 1.0  # the image's own stride


@pytest.mark.parametrize(
    ("command", "name", "what"),
    [
        (["export", "-o", "{tmp}/x.onnx"], "faster_rcnn_vgg16", "has per-region layers (proposals, RoI ops)"),
        (["sanity", "--no-progress"], "fast_rcnn_vgg16", "takes 2 inputs"),
    ],
)
def test_export_and_sanity_refuse_two_stage_networks_saying_why(command, name, what, tmp_path, capsys):
    argv = [command[0], name, *(c.format(tmp=tmp_path) for c in command[1:])]
    assert main(argv) == 1
    err = capsys.readouterr().err
    lead = (
        "export writes networks of one input and per-image outputs"
        if command[0] == "export"
        else ("sanity overfits a classifier on one input and one label per image")
    )
    assert f"error: {lead}; {name} {what}" in err
    assert "hint: " in err
    assert not list(tmp_path.iterdir())  # refused before anything is built or written
