"""Region proposals from a Faster R-CNN region proposal network's outputs, as torchvision's
``RegionProposalNetwork`` makes them at inference, for one feature level; and the final detections from the
second stage's per-region class scores and box deltas (:func:`rcnn_detections`, torchvision's
``RoIHeads.postprocess_detections``). The conventions are :mod:`archdsl.backend.detect`'s; the anchors are
:func:`archdsl.backend.detect.rpn_anchors`'s.

    >>> import torch
    >>> from archdsl import detect
    >>> anchors = detect.rpn_anchors((2, 3), stride=16, sizes=(32,), ratios=(0.5, 1, 2))
    >>> out = detect.proposals(torch.zeros(1, 3, 2, 3), torch.zeros(1, 12, 2, 3), anchors, (32, 48))
    >>> out[0]["boxes"].shape
    torch.Size([15, 4])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .detect import _LOG_SCALE_CLIP, batched_nms, nms

__all__ = ["decode_rpn_boxes", "proposals", "rcnn_detections"]


def decode_rpn_boxes(
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clip: float = _LOG_SCALE_CLIP,
) -> torch.Tensor:
    """Apply ``deltas`` [..., 4] = (dx, dy, dw, dh) to xyxy ``anchors`` [..., 4] -> xyxy boxes;
    torchvision's ``BoxCoder.decode_single``.

    ``w = x2 - x1`` (no ``+ 1``), ``cx = x1 + 0.5 w``; each delta is divided by its weight, ``dw`` and
    ``dh`` are clamped at ``clip`` (above only), then ``cx' = dx w + cx``, ``w' = exp(dw) w`` and
    ``x1' = cx' - 0.5 w'``, ``x2' = cx' + 0.5 w'`` (likewise in y). The anchors take the deltas' dtype.
    """
    a = anchors.to(device=deltas.device, dtype=deltas.dtype)
    wx, wy, ww, wh = weights
    widths = a[..., 2] - a[..., 0]
    heights = a[..., 3] - a[..., 1]
    ctr_x = a[..., 0] + 0.5 * widths
    ctr_y = a[..., 1] + 0.5 * heights
    dx = deltas[..., 0] / wx
    dy = deltas[..., 1] / wy
    dw = (deltas[..., 2] / ww).clamp(max=clip)
    dh = (deltas[..., 3] / wh).clamp(max=clip)
    pcx = dx * widths + ctr_x
    pcy = dy * heights + ctr_y
    half_w = 0.5 * (torch.exp(dw) * widths)
    half_h = 0.5 * (torch.exp(dh) * heights)
    return torch.stack((pcx - half_w, pcy - half_h, pcx + half_w, pcy + half_h), dim=-1)


def proposals(
    objectness: torch.Tensor,
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    image_size: tuple[int, int],
    *,
    pre_nms_top_n: int = 1000,
    post_nms_top_n: int = 1000,
    nms_thresh: float = 0.7,
    score_thresh: float = 0.0,
    min_size: float = 1e-3,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clip: float = _LOG_SCALE_CLIP,
) -> list[dict[str, torch.Tensor]]:
    """Proposals of one feature level: ``objectness`` [N, A, H, W] logits, ``deltas`` [N, 4A, H, W]
    (the 4 values of anchor ``a`` are channels ``4a .. 4a + 3``, BoxCoder's layout), ``anchors``
    [H * W * A, 4] xyxy in image pixels, position-major (row-major cells, then the cell's A anchors:
    the order of :func:`~archdsl.backend.detect.rpn_anchors` and torchvision's ``AnchorGenerator``),
    ``image_size`` (height, width) of the (resized) input image.

    Per image, as torchvision's ``RegionProposalNetwork.filter_proposals`` for a single level:

    1. flatten to the anchors' order (N, A, H, W -> N, H, W, A; torchvision's ``permute_and_flatten``);
    2. keep the ``pre_nms_top_n`` highest logits (ties: the lower anchor index first);
    3. decode with :func:`decode_rpn_boxes`; take ``sigmoid`` of the logits as scores;
    4. clip the boxes to ``[0, width] x [0, height]``;
    5. drop boxes with a side ``< min_size``, then scores ``< score_thresh`` (``>=`` kept, as torchvision);
    6. NMS at ``nms_thresh`` (one level, so torchvision's per-level batched NMS is plain NMS);
    7. keep the first ``post_nms_top_n``.

    Returns per image ``{"boxes": [K, 4], "scores": [K]}`` sorted by decreasing score (K may be 0).
    """
    if objectness.dim() != 4:
        raise ValueError(f"objectness must be [N, A, H, W], got {tuple(objectness.shape)}")
    n, a, h, w = objectness.shape
    if tuple(deltas.shape) != (n, 4 * a, h, w):
        raise ValueError(f"deltas must be [N, 4A, H, W] = {(n, 4 * a, h, w)}, got {tuple(deltas.shape)}")
    if tuple(anchors.shape) != (h * w * a, 4):
        raise ValueError(f"anchors must be [H * W * A, 4] = {(h * w * a, 4)}, got {tuple(anchors.shape)}")
    height, width = image_size
    logits = objectness.detach().permute(0, 2, 3, 1).reshape(n, -1)  # [N, H*W*A]
    codes = deltas.detach().view(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)  # [N, H*W*A, 4]
    k = min(pre_nms_top_n, logits.shape[1])
    out = []
    for i in range(n):
        top = torch.sort(logits[i], descending=True, stable=True).indices[:k]
        boxes = decode_rpn_boxes(codes[i, top], anchors.to(logits.device)[top], weights, clip)
        scores = torch.sigmoid(logits[i, top])
        boxes = _clip(boxes, height, width)
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
        keep &= scores >= score_thresh
        boxes, scores = boxes[keep], scores[keep]
        kept = nms(boxes, scores, nms_thresh)[:post_nms_top_n]
        out.append({"boxes": boxes[kept], "scores": scores[kept]})
    return out


def _clip(boxes: torch.Tensor, height: float, width: float) -> torch.Tensor:
    """xyxy boxes [..., 4] clipped to ``[0, width] x [0, height]``."""
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), dim=-1)


def rcnn_detections(
    class_logits: torch.Tensor,
    box_regression: torch.Tensor,
    proposals: torch.Tensor,
    image_size: tuple[int, int],
    *,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    min_size: float = 1e-2,
    weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
    batch_size: int | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Final detections of a Fast / Faster R-CNN, as torchvision's ``RoIHeads.postprocess_detections``:
    ``class_logits`` [K, C] (class 0 the background), ``box_regression`` [K, 4C] (class ``c``'s deltas in
    columns ``4c .. 4c + 3``), ``proposals`` [K, 5] rows (batch index, x1, y1, x2, y2) in image pixels (what the
    ``proposals`` op returns; the same rows the RoI op pooled), ``image_size`` (height, width).

    Per region: softmax over the classes; each class's deltas decoded against the proposal with ``weights``
    (:func:`decode_rpn_boxes`) and clipped to the image. Then per image, for every class but the background:
    keep scores ``> score_thresh`` (strictly, as torchvision), drop boxes with a side ``< min_size``, NMS per
    class at ``nms_thresh`` (:func:`~archdsl.backend.detect.batched_nms`), and keep the ``detections_per_img``
    highest. Returns per image ``{"boxes": [D, 4], "scores": [D], "labels": [D] int64}`` by decreasing score
    (``labels`` as torchvision names them, 1 .. C - 1). ``batch_size`` (default: one more than the largest
    batch index) gives an entry to images without a proposal.
    """
    k, c = class_logits.shape
    if tuple(box_regression.shape) != (k, 4 * c) or tuple(proposals.shape) != (k, 5):
        raise ValueError(
            f"expected class_logits [K, C], box_regression [K, 4C] and proposals [K, 5]; got "
            f"{tuple(class_logits.shape)}, {tuple(box_regression.shape)} and {tuple(proposals.shape)}"
        )
    height, width = image_size
    boxes = decode_rpn_boxes(box_regression.detach().reshape(k, c, 4), proposals[:, None, 1:], weights)
    boxes = _clip(boxes, height, width)[:, 1:]  # [K, C - 1, 4]: the background's boxes go
    scores = torch.softmax(class_logits.detach(), dim=-1)[:, 1:]
    labels = torch.arange(1, c, device=class_logits.device).expand(k, c - 1)
    image = proposals[:, 0].long()
    n = batch_size if batch_size is not None else int(image.max()) + 1 if k else 0
    out = []
    for i in range(n):
        mine = image == i
        b, s, lab = boxes[mine].reshape(-1, 4), scores[mine].reshape(-1), labels[mine].reshape(-1)
        keep = (s > score_thresh) & ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
        b, s, lab = b[keep], s[keep], lab[keep]
        kept = batched_nms(b, s, lab, nms_thresh)[:detections_per_img]
        out.append({"boxes": b[kept], "scores": s[kept], "labels": lab[kept]})
    return out
