"""archdsl.detect: IoU, NMS, SSD default boxes, RPN anchors, SSD and YOLO v1 decoding on hand-made tensors."""

import math
import random
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archdsl import detect
from archdsl.detect import (
    batched_nms,
    box_iou,
    cxcywh_to_xyxy,
    decode_ssd,
    decode_yolo_v1,
    nms,
    rpn_anchors,
    ssd300_default_boxes,
    ssd_boxes_per_cell,
    ssd_default_boxes,
    ssd_scales,
    xyxy_to_cxcywh,
)

F64 = torch.float64


def t(rows, dtype=F64):
    return torch.tensor(rows, dtype=dtype)


def assert_close(actual, expected, atol=1e-6):
    """Tensor ``actual`` equals the nested list ``expected`` within ``atol``."""
    expected = torch.tensor(expected, dtype=F64)
    assert actual.shape == expected.shape, (tuple(actual.shape), tuple(expected.shape))
    assert torch.allclose(actual.to(F64), expected, rtol=0, atol=atol), (actual.tolist(), expected.tolist())


# ------------------------------------------------------------------------------------ pure-Python references
def ref_iou(a, b):
    """IoU with the same float operations, in the same order, as box_iou (exact for integer coordinates)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def ref_nms(boxes, scores, thr):
    """Greedy NMS, textbook version: visit by decreasing score (ties: lower index first)."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep, removed = [], set()
    for i in order:
        if i in removed:
            continue
        keep.append(i)
        removed.update(j for j in order if j not in removed and j != i and ref_iou(boxes[i], boxes[j]) > thr)
    return keep


def ref_batched_nms(boxes, scores, classes, thr):
    keep = []
    for c in set(classes):
        idx = [i for i in range(len(boxes)) if classes[i] == c]
        keep += [idx[k] for k in ref_nms([boxes[i] for i in idx], [scores[i] for i in idx], thr)]
    return sorted(keep, key=lambda i: (-scores[i], i))


def random_boxes(rng, n, lo=-20, hi=60):
    """Integer-coordinate boxes (so IoU is computed identically in torch and in Python), some degenerate."""
    out = []
    for _ in range(n):
        x1, y1 = rng.randint(lo, hi), rng.randint(lo, hi)
        out.append([x1, y1, x1 + rng.randint(0, 40), y1 + rng.randint(0, 40)])
    return out


# ------------------------------------------------------------------------------------------------- boxes
def test_box_iou_exact_on_hand_made_boxes():
    a = t([[0, 0, 2, 2], [0, 0, 4, 4], [0, 0, 0, 0]])
    b = t([[1, 1, 3, 3], [2, 0, 4, 2], [0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 0, 0], [10, 10, 11, 12]])
    iou = box_iou(a, b)
    assert iou.shape == (3, 6)
    assert iou[0].tolist() == [1 / 7, 0.0, 1.0, 1 / 7, 0.0, 0.0]  # overlap 1, union 4 + 4 - 1; touching edge
    assert iou[1].tolist() == [0.25, 0.25, 0.25, 0.25, 0.0, 0.0]  # contained boxes: 4 / 16
    assert iou[2].tolist() == [0.0] * 6  # degenerate with degenerate: 0, not NaN
    assert box_iou(a, b[:0]).shape == (3, 0)


def test_box_format_conversions():
    xyxy = t([[1, 2, 5, 10], [0, 0, 0, 0]])
    cxcywh = xyxy_to_cxcywh(xyxy)
    assert cxcywh.tolist() == [[3, 6, 4, 8], [0, 0, 0, 0]]
    assert torch.equal(cxcywh_to_xyxy(cxcywh), xyxy)
    assert cxcywh_to_xyxy(torch.zeros(2, 3, 4)).shape == (2, 3, 4)


# --------------------------------------------------------------------------------------------------- NMS
def test_nms_keeps_the_higher_of_two_overlapping_boxes():
    boxes = t([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]])  # IoU(0, 1) = 90/110
    assert nms(boxes, t([0.6, 0.9, 0.7]), 0.5).tolist() == [1, 2]
    assert nms(boxes, t([0.9, 0.6, 0.7]), 0.5).tolist() == [0, 2]
    assert nms(boxes, t([0.9, 0.6, 0.7]), 0.9).tolist() == [0, 2, 1]  # 0.818 <= 0.9: both kept, by score


def test_nms_threshold_is_strict_and_greedy():
    boxes = t([[0, 0, 2, 1], [1, 0, 3, 1], [2, 0, 4, 1]])  # neighbours: IoU exactly 1/3
    assert nms(boxes, t([0.9, 0.8, 0.7]), 1 / 3).tolist() == [0, 1, 2]  # IoU == threshold is not suppressed
    boxes = t([[0, 0, 4, 1], [1, 0, 5, 1], [2, 0, 6, 1]])  # IoU(0,1) = IoU(1,2) = 0.6, IoU(0,2) = 1/3
    assert nms(boxes, t([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]  # 1 removed by 0, so 2 survives
    assert nms(boxes, t([0.8, 0.9, 0.7]), 0.5).tolist() == [1]
    assert nms(boxes[:0], t([]), 0.5).tolist() == []
    assert nms(boxes[:1], t([0.1]), 0.5).dtype == torch.int64


def test_nms_ties_in_score_keep_the_lower_index():
    boxes = t([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    assert nms(boxes, t([0.5, 0.5, 0.5]), 0.5).tolist() == [0]


def test_nms_matches_brute_force_reference_on_random_boxes():
    rng = random.Random(1234)
    for trial in range(60):
        n = rng.randint(0, 40)
        boxes = random_boxes(rng, n)
        scores = [rng.random() for _ in range(n)]
        thr = rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.95])
        got = nms(t(boxes).reshape(-1, 4), t(scores), thr).tolist()
        assert got == ref_nms(boxes, scores, thr), (trial, thr)
        # float32 input: same answer (integer coordinates, thresholds away from the few exact ties)
        if thr not in (0.0, 0.5):
            assert nms(t(boxes, torch.float32).reshape(-1, 4), t(scores, torch.float32), thr).tolist() == got


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.integers(0, 15),
            st.integers(0, 15),
            st.integers(0, 10**6),
            st.integers(0, 3),
        ),
        max_size=25,
    ),
    st.sampled_from([0.2, 0.45, 0.5, 0.8]),
)
def test_nms_and_batched_nms_match_reference_hypothesis(rows, thr):
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _, _ in rows]
    scores = [s / 10**6 for *_, s, _ in rows]  # ties possible: stable order tested too
    classes = [c for *_, c in rows]
    assert nms(t(boxes).reshape(-1, 4), t(scores), thr).tolist() == ref_nms(boxes, scores, thr)
    got = batched_nms(t(boxes).reshape(-1, 4), t(scores), torch.tensor(classes, dtype=torch.int64), thr)
    assert got.tolist() == ref_batched_nms(boxes, scores, classes, thr)


def test_batched_nms_same_boxes_different_classes_are_both_kept():
    boxes = t([[0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 11, 10]])
    scores = t([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 2]), 0.5).tolist() == [0, 1, 2]
    assert batched_nms(boxes, scores, torch.tensor([3, 3, 3]), 0.5).tolist() == [0]
    # negative coordinates: the span covers the full range, so classes still cannot interact
    neg = t([[-100, -100, 5, 5], [-100, -100, 5, 5]])  # a span of max + 1 = 6 would not separate
    assert batched_nms(neg, t([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes[:0], scores[:0], torch.tensor([], dtype=torch.int64), 0.5).tolist() == []


def test_batched_nms_matches_reference_on_random_boxes():
    rng = random.Random(99)
    for _ in range(40):
        n = rng.randint(1, 50)
        boxes = random_boxes(rng, n)
        scores = [rng.random() for _ in range(n)]
        classes = [rng.randint(0, 4) for _ in range(n)]
        thr = rng.choice([0.3, 0.5, 0.7])
        got = batched_nms(t(boxes), t(scores), torch.tensor(classes), thr).tolist()
        assert got == ref_batched_nms(boxes, scores, classes, thr)


# ----------------------------------------------------------------------------------------- SSD default boxes
def ref_ssd_boxes(feature_sizes, aspect_ratios, scales, steps, image_size, clip):
    """SSD default boxes straight from the paper's description, with plain loops."""
    out = []
    for k, f in enumerate(feature_sizes):
        s, s1 = scales[k], scales[k + 1]
        sizes = [(s, s), (math.sqrt(s * s1), math.sqrt(s * s1))]
        for a in aspect_ratios[k]:
            sizes += [(s * math.sqrt(a), s / math.sqrt(a)), (s / math.sqrt(a), s * math.sqrt(a))]
        if clip:
            sizes = [(min(w, 1.0), min(h, 1.0)) for w, h in sizes]
        fk = image_size / steps[k] if steps else f
        for i in range(f):
            for j in range(f):
                out += [[(j + 0.5) / fk, (i + 0.5) / fk, w, h] for w, h in sizes]
    return out


def test_ssd_default_box_counts():
    assert ssd_boxes_per_cell() == [4, 6, 6, 6, 4, 4]
    per_map = [f * f * n for f, n in zip(detect.SSD300_FEATURE_SIZES, ssd_boxes_per_cell())]
    assert per_map == [5776, 2166, 600, 150, 36, 4]
    assert ssd_default_boxes().shape == (8732, 4)
    assert ssd300_default_boxes().shape == (8732, 4)
    assert ssd_default_boxes(dtype=F64).dtype == F64
    # a map's boxes are contiguous: each block of the torchvision SSD300 set has one size pattern
    start = 0
    for f, n, count in zip(detect.SSD300_FEATURE_SIZES, ssd_boxes_per_cell(), per_map):
        block = ssd300_default_boxes()[start : start + count].reshape(f * f, n, 4)
        assert torch.equal(block[:, :, 2:], block[:1, :, 2:].expand(f * f, n, 2))
        start += count
    assert start == 8732


def test_ssd_scales_follow_the_paper():
    assert ssd_scales(6) == pytest.approx([0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.0])
    assert ssd_scales(1, 0.3, 0.8) == [0.3, 0.8]


def test_ssd300_torchvision_boxes_exact():
    boxes = ssd300_default_boxes(dtype=F64)
    c = 0.5 * 8 / 300  # torchvision: (j + 0.5) * step / 300
    r2 = math.sqrt(2)
    expected = [
        [c, c, 0.07, 0.07],
        [c, c, math.sqrt(0.07 * 0.15), math.sqrt(0.07 * 0.15)],
        [c, c, 0.07 * r2, 0.07 / r2],
        [c, c, 0.07 / r2, 0.07 * r2],
    ]
    assert_close(boxes[:4], expected, atol=1e-15)
    # 38x38 map, row 1, column 2, box 3 -> index (1 * 38 + 2) * 4 + 3
    assert boxes[163].tolist() == pytest.approx([2.5 * 8 / 300, 1.5 * 8 / 300, 0.07 / r2, 0.07 * r2])
    # first box of the 19x19 map
    assert boxes[5776].tolist() == pytest.approx([0.5 * 16 / 300, 0.5 * 16 / 300, 0.15, 0.15])
    # the single 1x1 cell: centre (0.5, 0.5); 0.87 * sqrt(2) = 1.23 is clipped to 1
    assert_close(
        boxes[-4:],
        [
            [0.5, 0.5, 0.87, 0.87],
            [0.5, 0.5, math.sqrt(0.87 * 1.05), math.sqrt(0.87 * 1.05)],
            [0.5, 0.5, 1.0, 0.87 / r2],
            [0.5, 0.5, 0.87 / r2, 1.0],
        ],
        atol=1e-15,
    )
    raw = ssd_default_boxes(steps=detect.SSD300_STEPS, scales=detect.SSD300_SCALES, clip=False, dtype=F64)
    assert raw[-2].tolist() == pytest.approx([0.5, 0.5, 0.87 * r2, 0.87 / r2])
    assert torch.allclose(ssd300_default_boxes(), boxes.float())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(steps=detect.SSD300_STEPS, scales=detect.SSD300_SCALES),
        dict(steps=detect.SSD300_STEPS, scales=detect.SSD300_VOC_SCALES, clip=False),
    ],
)
def test_ssd_default_boxes_match_loop_reference(kwargs):
    scales = kwargs.get("scales") or ssd_scales(6)
    ref = ref_ssd_boxes(
        detect.SSD300_FEATURE_SIZES,
        detect.SSD300_ASPECT_RATIOS,
        scales,
        kwargs.get("steps"),
        300,
        kwargs.get("clip", True),
    )
    got = ssd_default_boxes(dtype=F64, **kwargs)
    assert torch.allclose(got, t(ref), rtol=0, atol=1e-12)


def test_ssd_paper_default_boxes_first_cell():
    boxes = ssd_default_boxes(dtype=F64)
    c = 0.5 / 38  # no steps: (j + 0.5) / |f_k|
    assert boxes[0].tolist() == pytest.approx([c, c, 0.2, 0.2])
    assert boxes[1].tolist() == pytest.approx([c, c, math.sqrt(0.2 * 0.34), math.sqrt(0.2 * 0.34)])
    assert boxes[4].tolist() == pytest.approx([1.5 / 38, c, 0.2, 0.2])  # next cell is the next column


def test_ssd_default_boxes_rectangular_maps_and_errors():
    boxes = ssd_default_boxes(
        feature_sizes=[(2, 3)], aspect_ratios=[()], scales=[0.5, 0.5], image_size=(200, 300), dtype=F64
    )
    assert boxes.shape == (2 * 3 * 2, 4)
    assert_close(boxes[::2, :2], [[(j + 0.5) / 3, (i + 0.5) / 2] for i in range(2) for j in range(3)], atol=1e-15)
    with pytest.raises(ValueError):
        ssd_default_boxes(aspect_ratios=((2,),))
    with pytest.raises(ValueError):
        ssd_default_boxes(scales=(0.1, 0.2))
    with pytest.raises(ValueError):
        ssd_default_boxes(steps=(8, 16))


# ------------------------------------------------------------------------------------------------ RPN anchors
CELL0 = [
    [-91, -45, 91, 45],
    [-181, -91, 181, 91],
    [-362, -181, 362, 181],  # ratio 0.5 (h/w): wide
    [-64, -64, 64, 64],
    [-128, -128, 128, 128],
    [-256, -256, 256, 256],  # ratio 1
    [-45, -91, 45, 91],
    [-91, -181, 91, 181],
    [-181, -362, 181, 362],
]  # ratio 2: tall


def test_rpn_anchor_count_and_exact_cell():
    a = rpn_anchors(14)
    assert a.shape == (1764, 4) == (14 * 14 * 9, 4)
    assert a[:9].tolist() == CELL0
    i = (2 * 14 + 3) * 9  # cell y=2, x=3: shifted by (48, 32)
    assert a[i : i + 9].tolist() == [[x1 + 48, y1 + 32, x2 + 48, y2 + 32] for x1, y1, x2, y2 in CELL0]
    assert a[-9:].tolist() == [[x1 + 208, y1 + 208, x2 + 208, y2 + 208] for x1, y1, x2, y2 in CELL0]


def test_rpn_anchor_shapes_follow_size_and_ratio():
    a = rpn_anchors((2, 3), stride=(8, 10), sizes=(32, 64), ratios=(0.25, 4), dtype=F64)
    assert a.shape == (2 * 3 * 4, 4)
    w, h = a[:4, 2] - a[:4, 0], a[:4, 3] - a[:4, 1]
    assert (h / w).tolist() == pytest.approx([0.25, 0.25, 4, 4])
    assert (w * h).tolist() == pytest.approx([32**2, 64**2, 32**2, 64**2])
    centres = (a[::4, :2] + a[::4, 2:]) / 2
    assert centres.tolist() == [[x * 10, y * 8] for y in range(2) for x in range(3)]  # row-major


# ------------------------------------------------------------------------------------------------ SSD decode
def one_hot_logits(n_boxes, n_classes, hot):
    """Background certain everywhere except {box: class} in hot (logit 10 against 0)."""
    logits = torch.zeros(n_boxes, n_classes)
    logits[:, 0] = 10.0
    for box, cls in hot.items():
        logits[box, 0] = 0.0
        logits[box, cls] = 10.0
    return logits


def test_decode_ssd_single_offset_box_hand_computed():
    d = ssd300_default_boxes()
    i = 5776 + (7 * 19 + 11) * 6 + 2  # 19x19 map, row 7, column 11, box 2
    loc = torch.zeros(1, 8732, 4)
    loc[0, i] = torch.tensor([1.0, -0.5, math.log(2) / 0.2, math.log(0.5) / 0.2])
    out = decode_ssd(loc, one_hot_logits(8732, 21, {i: 7}).unsqueeze(0), d)
    assert len(out) == 1 and set(out[0]) == {"boxes", "scores", "classes"}
    cx, cy, w, h = d[i].tolist()
    assert (cx, cy) == pytest.approx((11.5 * 16 / 300, 7.5 * 16 / 300))
    cx, cy, w, h = cx + 1.0 * 0.1 * w, cy - 0.5 * 0.1 * h, 2 * w, 0.5 * h
    assert out[0]["classes"].tolist() == [7]
    assert out[0]["scores"].tolist() == pytest.approx([math.exp(10) / (math.exp(10) + 20)])
    assert_close(out[0]["boxes"], [[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])


def test_decode_ssd_nms_per_class():
    d = t([[0.50, 0.5, 0.4, 0.4], [0.52, 0.5, 0.4, 0.4], [0.2, 0.2, 0.1, 0.1]], torch.float32)
    loc = torch.zeros(3, 4)
    logits = one_hot_logits(3, 4, {0: 1, 1: 1, 2: 2})
    logits[1, 1] = 11.0  # box 1 is the better class-1 box
    out = decode_ssd(loc, logits, d)[0]  # one image, no batch dimension
    assert out["classes"].tolist() == [1, 2]
    assert_close(out["boxes"], cxcywh_to_xyxy(d[[1, 2]]).tolist())
    # same two overlapping boxes, different classes: both kept
    out = decode_ssd(loc, one_hot_logits(3, 4, {0: 1, 1: 3, 2: 2}), d)[0]
    assert sorted(out["classes"].tolist()) == [1, 2, 3]
    assert torch.all(out["scores"][:-1] >= out["scores"][1:])
    # top_k, and the background class is never reported even with a zero threshold
    out = decode_ssd(loc, torch.zeros(3, 4), d, score_threshold=0.0, iou_threshold=1.0)[0]
    assert len(out["classes"]) == 9 and 0 not in out["classes"].tolist()
    assert len(decode_ssd(loc, torch.zeros(3, 4), d, score_threshold=0.0, top_k=2)[0]["scores"]) == 2
    assert len(decode_ssd(loc, torch.zeros(3, 4), d, score_threshold=0.3)[0]["scores"]) == 0  # all 0.25


def test_decode_ssd_batch_and_detect_dispatch():
    d = ssd300_default_boxes()
    loc = torch.zeros(2, 8732, 4)
    logits = torch.stack([one_hot_logits(8732, 21, {100: 3}), one_hot_logits(8732, 21, {8000: 20, 10: 5})])
    out = decode_ssd(loc, logits, d)
    assert [o["classes"].tolist() for o in out] == [[3], [5, 20]]  # equal scores: candidates are class-major
    assert_close(out[0]["boxes"], cxcywh_to_xyxy(d[100:101]).tolist())
    via_detect = detect.detect((loc, logits), kind="ssd", default_boxes=d)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(out, via_detect) for k in a)
    # default boxes default to ssd300_default_boxes(), the ssd300 spec's (torchvision's); the
    # spec's output names work as the dict keys
    tv = detect.detect({"bbox_regression": loc, "cls_logits": logits}, kind="ssd")
    assert_close(tv[0]["boxes"], cxcywh_to_xyxy(detect.ssd300_default_boxes()[100:101]).tolist())
    with pytest.raises(ValueError):
        decode_ssd(loc, logits, d[:100])
    with pytest.raises(ValueError):
        detect.detect(loc, kind="retina")


# ----------------------------------------------------------------------------------------------- YOLO decode
def yolo_tensor(entries, S=7, B=2, C=20):
    """[1, S, S, 5B + C] zeros with {(row, col, box): (x, y, w, h, conf, class, p)}."""
    out = torch.zeros(1, S, S, 5 * B + C)
    for (row, col, b), (x, y, w, h, conf, cls, p) in entries.items():
        out[0, row, col, 5 * b : 5 * b + 5] = torch.tensor([x, y, w, h, conf])
        out[0, row, col, 5 * B + cls] = p
    return out


def test_decode_yolo_one_confident_box():
    out = yolo_tensor({(3, 4, 1): (0.25, 0.75, 0.2, 0.4, 0.9, 11, 0.8)})
    res = decode_yolo_v1(out)
    assert len(res) == 1
    cx, cy = (4 + 0.25) / 7, (3 + 0.75) / 7
    assert res[0]["classes"].tolist() == [11]
    assert res[0]["scores"].tolist() == pytest.approx([0.72])
    assert_close(res[0]["boxes"], [[cx - 0.1, cy - 0.2, cx + 0.1, cy + 0.2]])
    # the same tensor flat, and as one unbatched image
    for alt in (out.reshape(1, 1470), out[0], out.reshape(1470)):
        again = decode_yolo_v1(alt)[0]
        assert all(torch.equal(again[k], res[0][k]) for k in again)
    # sqrt_wh: the outputs are sqrt(w), sqrt(h)
    sq = decode_yolo_v1(out, sqrt_wh=True)[0]["boxes"]
    assert_close(sq, [[cx - 0.02, cy - 0.08, cx + 0.02, cy + 0.08]])
    # class-specific score 0.72 is filtered by a higher threshold
    assert len(decode_yolo_v1(out, score_threshold=0.75)[0]["scores"]) == 0


def test_decode_yolo_darknet_layout():
    S, B, C = 7, 2, 20
    probs, conf, coords = torch.zeros(S, S, C), torch.zeros(S, S, B), torch.zeros(S, S, B, 4)
    probs[3, 4, 11], conf[3, 4, 1], coords[3, 4, 1] = 0.8, 0.9, torch.tensor([0.25, 0.75, 0.2, 0.4])
    flat = torch.cat([probs.reshape(-1), conf.reshape(-1), coords.reshape(-1)]).unsqueeze(0)
    res = decode_yolo_v1(flat, layout="darknet")[0]
    ref = decode_yolo_v1(yolo_tensor({(3, 4, 1): (0.25, 0.75, 0.2, 0.4, 0.9, 11, 0.8)}))[0]
    assert all(torch.equal(res[k], ref[k]) for k in res)
    with pytest.raises(ValueError):
        decode_yolo_v1(flat, layout="columns")


def test_decode_yolo_nms_per_class_and_batch():
    S, B, C = 4, 1, 3
    # cells (1, 1) and (1, 2): 0.5 x 0.5 boxes centred at x = 1.9/4 and 2.1/4, IoU 0.225 / 0.275 > 0.5
    a = {(1, 1, 0): (0.9, 0.5, 0.5, 0.5, 0.8, 2, 1.0), (1, 2, 0): (0.1, 0.5, 0.5, 0.5, 0.9, 2, 1.0)}
    out = yolo_tensor(a, S, B, C)
    res = decode_yolo_v1(out, S=S, B=B, C=C)[0]
    assert res["classes"].tolist() == [2]
    assert res["scores"].tolist() == pytest.approx([0.9])
    assert ((res["boxes"][0, 0] + res["boxes"][0, 2]) / 2).item() == pytest.approx((2 + 0.1) / 4)
    b = {(1, 1, 0): (0.9, 0.5, 0.5, 0.5, 0.8, 0, 1.0), (1, 2, 0): (0.1, 0.5, 0.5, 0.5, 0.9, 2, 1.0)}
    two = torch.cat([out, yolo_tensor(b, S, B, C)])
    res = decode_yolo_v1(two, S=S, B=B, C=C)
    assert [r["classes"].tolist() for r in res] == [[2], [2, 0]]
    via_detect = detect.detect(two, kind="yolo", S=S, B=B, C=C)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(res, via_detect) for k in x)
    with pytest.raises(ValueError):
        decode_yolo_v1(torch.zeros(1, 7, 7, 31))


# ------------------------------------------------------------------------------------------------- packaging
def test_import_archdsl_does_not_load_detect_or_torch():
    code = "import sys, archdsl; print('archdsl.detect' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"
