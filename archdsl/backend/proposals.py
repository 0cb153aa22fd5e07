"""Region proposals from a Faster R-CNN region proposal network's outputs, as torchvision's
``RegionProposalNetwork`` makes them at inference, for one feature level. The conventions are
:mod:`archdsl.backend.detect`'s; the anchors are :func:`archdsl.backend.detect.rpn_anchors`'s.

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

from .detect import _LOG_SCALE_CLIP, nms

__all__ = ["decode_rpn_boxes", "proposals"]


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
        boxes = torch.stack(
            (
                boxes[:, 0].clamp(min=0, max=width),
                boxes[:, 1].clamp(min=0, max=height),
                boxes[:, 2].clamp(min=0, max=width),
                boxes[:, 3].clamp(min=0, max=height),
            ),
            dim=1,
        )
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
        keep &= scores >= score_thresh
        boxes, scores = boxes[keep], scores[keep]
        kept = nms(boxes, scores, nms_thresh)[:post_nms_top_n]
        out.append({"boxes": boxes[kept], "scores": scores[kept]})
    return out
