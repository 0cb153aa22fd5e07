"""archdsl.detect.proposals against a brute-force reference: plain loops over torchvision's
RegionProposalNetwork inference rules (one level), compared exactly in float64."""

from __future__ import annotations

import math

import pytest
import torch

from archdsl import detect

CLIP = math.log(1000.0 / 16)
H, W, A = 2, 3, 3
SIZE = (32, 48)  # image (height, width) for a 2 x 3 map at stride 16


def _anchors() -> torch.Tensor:
    return detect.rpn_anchors((H, W), stride=16, sizes=(16,), ratios=(0.5, 1, 2), dtype=torch.float64)


def _iou(p: list[float], q: list[float]) -> float:
    iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    inter = iw * ih
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
    return inter / union if union > 0 else 0.0


def _exp(v: float) -> float:
    # torch's exp (vectorised on CPU) and math.exp can differ in the last bit; the rules are what is checked
    return float(torch.exp(torch.tensor(v, dtype=torch.float64)))


def _reference(obj, deltas, anchors, size, pre=1000, post=1000, nms_t=0.7, score_t=0.0, min_size=1e-3,
               weights=(1.0, 1.0, 1.0, 1.0), clip=CLIP):  # fmt: skip
    n, a_count, h, w = obj.shape
    height, width = size
    out = []
    for i in range(n):
        cands = []  # (logit, anchor index, [dx, dy, dw, dh])
        for y in range(h):
            for x in range(w):
                for a in range(a_count):
                    idx = (y * w + x) * a_count + a
                    code = [float(deltas[i, 4 * a + j, y, x]) for j in range(4)]
                    cands.append((float(obj[i, a, y, x]), idx, code))
        cands.sort(key=lambda c: (-c[0], c[1]))
        boxes = []
        for logit, idx, (dx, dy, dw, dh) in cands[:pre]:
            x1, y1, x2, y2 = (float(v) for v in anchors[idx])
            bw, bh = x2 - x1, y2 - y1
            cx, cy = x1 + 0.5 * bw, y1 + 0.5 * bh
            dx, dy, dw, dh = dx / weights[0], dy / weights[1], dw / weights[2], dh / weights[3]
            dw, dh = min(dw, clip), min(dh, clip)
            pcx, pcy = dx * bw + cx, dy * bh + cy
            hw, hh = 0.5 * (_exp(dw) * bw), 0.5 * (_exp(dh) * bh)
            box = [pcx - hw, pcy - hh, pcx + hw, pcy + hh]
            box = [min(max(box[0], 0.0), width), min(max(box[1], 0.0), height),
                   min(max(box[2], 0.0), width), min(max(box[3], 0.0), height)]  # fmt: skip
            score = float(torch.sigmoid(torch.tensor(logit, dtype=torch.float64)))
            if box[2] - box[0] < min_size or box[3] - box[1] < min_size or score < score_t:
                continue
            boxes.append((score, box))
        kept = []
        for score, box in sorted(boxes, key=lambda b: -b[0]):  # stable: ties keep the top-n order
            if all(_iou(box, k[1]) <= nms_t for k in kept):
                kept.append((score, box))
        kept = kept[:post]
        out.append(([b for _, b in kept], [s for s, _ in kept]))
    return out


def _check(obj, deltas, anchors, size, **kw) -> list[dict]:
    names = {"pre": "pre_nms_top_n", "post": "post_nms_top_n", "nms_t": "nms_thresh", "score_t": "score_thresh"}
    got = detect.proposals(obj, deltas, anchors, size, **{names.get(k, k): v for k, v in kw.items()})
    ref = _reference(obj, deltas, anchors, size, **kw)
    assert len(got) == len(ref) == obj.shape[0]
    for g, (boxes, scores) in zip(got, ref):
        assert g["boxes"].dtype == torch.float64 and g["boxes"].shape == (len(boxes), 4)
        assert g["boxes"].tolist() == boxes
        assert g["scores"].tolist() == scores
        assert g["scores"].tolist() == sorted(scores, reverse=True)
    return got


def _logits(n: int = 1) -> torch.Tensor:
    """Distinct logits, [n, A, H, W]."""
    return torch.linspace(-2.0, 3.0, n * A * H * W, dtype=torch.float64).reshape(n, A, H, W)


def test_zero_deltas_give_the_anchors_back_clipped():
    anchors = _anchors()
    obj = _logits()
    got = _check(obj, torch.zeros(1, 4 * A, H, W, dtype=torch.float64), anchors, SIZE, nms_t=1.0)[0]
    clipped = torch.stack(
        (
            anchors[:, 0].clamp(0, 48),
            anchors[:, 1].clamp(0, 32),
            anchors[:, 2].clamp(0, 48),
            anchors[:, 3].clamp(0, 32),
        ),
        dim=1,
    )
    order = torch.sort(obj[0].permute(1, 2, 0).reshape(-1), descending=True).indices
    assert torch.equal(got["boxes"], clipped[order])
    assert torch.equal(got["scores"], torch.sigmoid(obj[0].permute(1, 2, 0).reshape(-1)[order]))


def test_dw_and_dh_are_clamped():
    anchors = torch.tensor([[0.0, 0.0, 4.0, 2.0]] * (H * W * A), dtype=torch.float64) + 1000
    deltas = torch.zeros(1, 4 * A, H, W, dtype=torch.float64)
    deltas[0, 2, 0, 0] = 50.0  # anchor 0's dw, far past the clamp
    deltas[0, 7, 0, 0] = 1.0  # anchor 1's dh, under it
    obj = _logits()
    got = _check(obj, deltas, anchors, (5000, 5000), nms_t=1.0)[0]
    assert any(abs((b[2] - b[0]) - 4.0 * 62.5) < 1e-9 and b[3] - b[1] == 2.0 for b in got["boxes"].tolist())
    assert any(b[2] - b[0] == 4.0 and abs((b[3] - b[1]) - 2.0 * math.e) < 1e-12 for b in got["boxes"].tolist())
    # a custom clip, and the weights divide the deltas before it
    _check(obj, deltas, anchors, (5000, 5000), nms_t=1.0, clip=0.5)
    _check(obj, deltas * 3, anchors, (5000, 5000), nms_t=1.0, weights=(2.0, 3.0, 10.0, 5.0))


def test_boxes_are_clipped_at_the_image_border():
    deltas = torch.zeros(1, 4 * A, H, W, dtype=torch.float64)
    deltas[0, 0::4] = 0.9  # shift every box right and down
    deltas[0, 1::4] = -0.4
    deltas[0, 2::4] = 0.7
    got = _check(_logits(), deltas, _anchors(), SIZE, nms_t=1.0)[0]["boxes"]
    assert got[:, 0::2].min() >= 0 and got[:, 0::2].max() == 48
    assert got[:, 1::2].min() == 0 and got[:, 1::2].max() <= 32


def test_small_boxes_are_removed():
    deltas = torch.zeros(1, 4 * A, H, W, dtype=torch.float64)
    deltas[0, 2, 1, 1] = -20.0  # width 22 * e^-20 < 1e-3
    deltas[0, 4, 0, 2] = 100.0  # moved right off the image: clipped to zero width
    got = _check(_logits(), deltas, _anchors(), SIZE, nms_t=1.0)[0]
    assert got["boxes"].shape == (H * W * A - 2, 4)
    # min_size counts after clipping, and a side equal to min_size is kept
    _check(_logits(), deltas, _anchors(), SIZE, nms_t=1.0, min_size=12.0)


def test_score_threshold_keeps_equal_scores():
    obj = _logits()
    obj[0, 1, 1, 2] = 0.0  # sigmoid 0.5 exactly
    got = _check(obj, torch.zeros(1, 4 * A, H, W, dtype=torch.float64), _anchors(), SIZE, nms_t=1.0, score_t=0.5)[0]
    assert got["scores"].min() == 0.5
    assert got["boxes"].shape[0] == int((obj >= 0).sum())


def test_pre_and_post_nms_top_n():
    obj = _logits()
    zero = torch.zeros(1, 4 * A, H, W, dtype=torch.float64)
    assert _check(obj, zero, _anchors(), SIZE, nms_t=1.0, pre=4)[0]["boxes"].shape == (4, 4)
    assert _check(obj, zero, _anchors(), SIZE, nms_t=1.0, post=5)[0]["boxes"].shape == (5, 4)
    # pre-NMS cut first, then NMS, then the post-NMS cut
    _check(obj, zero, _anchors(), SIZE, nms_t=0.3, pre=7, post=3)
    assert _check(obj, zero, _anchors(), SIZE, pre=0)[0]["boxes"].shape == (0, 4)


def test_nms_removes_an_overlapping_lower_scored_box():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * (H * W * A), dtype=torch.float64)
    anchors += torch.arange(H * W * A, dtype=torch.float64)[:, None] * 20  # far apart ...
    anchors[1] = anchors[0] + torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)  # ... but 0 and 1: IoU 0.82
    obj = torch.zeros(1, A, H, W, dtype=torch.float64)
    obj[0, 0, 0, 0], obj[0, 1, 0, 0] = 1.0, 2.0  # anchor 1 scores higher than anchor 0
    zero = torch.zeros(1, 4 * A, H, W, dtype=torch.float64)
    got = _check(obj, zero, anchors, (1000, 1000))[0]
    assert got["boxes"].shape == (H * W * A - 1, 4)
    assert got["boxes"][0].tolist() == anchors[1].tolist()
    assert anchors[0].tolist() not in got["boxes"].tolist()
    assert _check(obj, zero, anchors, (1000, 1000), nms_t=0.9)[0]["boxes"].shape == (H * W * A, 4)


def test_two_images_one_with_nothing_left():
    obj = torch.cat((_logits(), torch.full((1, A, H, W), -5.0, dtype=torch.float64)))
    deltas = torch.linspace(-1, 1, 2 * 4 * A * H * W, dtype=torch.float64).reshape(2, 4 * A, H, W)
    got = _check(obj, deltas, _anchors(), SIZE, score_t=0.1)
    assert got[0]["boxes"].shape[0] > 0
    assert got[1]["boxes"].shape == (0, 4) and got[1]["scores"].shape == (0,)


def test_random_inputs_match_the_reference():
    g = torch.Generator().manual_seed(0)
    obj = torch.randn(2, A, H, W, generator=g, dtype=torch.float64)
    deltas = torch.randn(2, 4 * A, H, W, generator=g, dtype=torch.float64)
    for kw in ({}, {"nms_t": 0.3, "pre": 10, "post": 4}, {"score_t": 0.5, "min_size": 4.0}):
        _check(obj, deltas, _anchors(), SIZE, **kw)


def test_anchor_order_matches_rpn_anchors():
    """A real map (4 x 5, 9 anchors): the logit at channel a, cell (y, x) and the deltas at channels
    4a .. 4a + 3 belong to rpn_anchors' row (y * W + x) * A + a."""
    fh, fw, a_count = 4, 5, 9
    anchors = detect.rpn_anchors((fh, fw), stride=16, sizes=(32, 64, 128), dtype=torch.float64)
    size = (64, 80)
    for a, y, x in ((0, 0, 0), (4, 1, 3), (8, 3, 4), (5, 2, 0)):
        obj = torch.zeros(1, a_count, fh, fw, dtype=torch.float64)
        obj[0, a, y, x] = 5.0
        deltas = torch.zeros(1, 4 * a_count, fh, fw, dtype=torch.float64)
        deltas[0, 4 * a, y, x] = 0.25  # dx of this anchor only
        got = detect.proposals(obj, deltas, anchors, size, post_nms_top_n=1)[0]
        x1, y1, x2, y2 = anchors[(y * fw + x) * a_count + a].tolist()
        shift = 0.25 * (x2 - x1)
        want = [min(max(x1 + shift, 0), 80), min(max(y1, 0), 64), min(max(x2 + shift, 0), 80), min(max(y2, 0), 64)]
        assert got["boxes"].tolist() == [want]
        assert got["scores"].tolist() == [float(torch.sigmoid(torch.tensor(5.0, dtype=torch.float64)))]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="deltas"):
        detect.proposals(torch.zeros(1, A, H, W), torch.zeros(1, 4, H, W), _anchors(), SIZE)
    with pytest.raises(ValueError, match="anchors"):
        detect.proposals(torch.zeros(1, A, H, W), torch.zeros(1, 4 * A, H, W), _anchors()[:5], SIZE)
