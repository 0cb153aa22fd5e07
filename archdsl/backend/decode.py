"""Decoding detectors' outputs into boxes, scores and classes: SSD (default boxes) and YOLO v1 (grid cells),
per image, sorted by decreasing score; :func:`detect` picks the decoder by name. The conventions are
:mod:`archdsl.backend.detect`'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .detect import _LOG_SCALE_CLIP, batched_nms, cxcywh_to_xyxy, ssd300_default_boxes
from .proposals import rcnn_detections

__all__ = ["decode_ssd", "decode_ssd_boxes", "decode_yolo_v1", "detect"]


# -------------------------------------------------------------------------------------------- SSD decode
def decode_ssd_boxes(
    loc: torch.Tensor, default_boxes: torch.Tensor, variances: Sequence[float] = (0.1, 0.2)
) -> torch.Tensor:
    """Apply SSD offsets ``loc`` [..., A, 4] = (tx, ty, tw, th) to cxcywh ``default_boxes`` [A, 4] -> xyxy.

    ``cx = d_cx + tx v0 d_w``, ``cy = d_cy + ty v0 d_h``, ``w = d_w exp(tw v1)``, ``h = d_h exp(th v1)``
    (the SSD "variance" encoding; torchvision's BoxCoder with weights (10, 10, 5, 5) is the same for
    variances (0.1, 0.2)). ``tw v1`` and ``th v1`` are clamped at log(1000/16), as torchvision does.
    """
    v0, v1 = variances
    d = default_boxes.to(device=loc.device, dtype=loc.dtype)
    cx = d[..., 0] + loc[..., 0] * v0 * d[..., 2]
    cy = d[..., 1] + loc[..., 1] * v0 * d[..., 3]
    w = d[..., 2] * torch.exp((loc[..., 2] * v1).clamp(max=_LOG_SCALE_CLIP))
    h = d[..., 3] * torch.exp((loc[..., 3] * v1).clamp(max=_LOG_SCALE_CLIP))
    return cxcywh_to_xyxy(torch.stack((cx, cy, w, h), dim=-1))


def _select(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    score_threshold: float,
    iou_threshold: float,
    top_k: int | None,
    class_offset: int,
    candidates_per_class: int | None,
) -> dict:
    """Shared tail of the decoders: boxes [A, 4] xyxy, class scores [A, K] -> filtered, NMS'd detections."""
    n_anchor, n_cls = scores.shape
    k = n_anchor if candidates_per_class is None else min(candidates_per_class, n_anchor)
    top_scores, top_idx = scores.t().topk(k, dim=1)  # [K, k] per class
    cls = torch.arange(n_cls, device=scores.device)[:, None].expand(n_cls, k)
    keep = top_scores > score_threshold
    box_idx, cls, sc = top_idx[keep], cls[keep], top_scores[keep]
    cand = boxes[box_idx]
    kept = batched_nms(cand, sc, cls, iou_threshold)
    if top_k is not None:
        kept = kept[:top_k]
    return {"boxes": cand[kept], "scores": sc[kept], "classes": (cls[kept] + class_offset).to(torch.int64)}


def decode_ssd(
    loc: torch.Tensor,
    scores_logits: torch.Tensor,
    default_boxes: torch.Tensor,
    variances: Sequence[float] = (0.1, 0.2),
    score_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    top_k: int | None = 200,
    candidates_per_class: int | None = 400,
    clip_boxes: bool = False,
) -> list[dict]:
    """SSD outputs -> detections, one dict per image.

    ``loc`` is [N, A, 4] offsets (or [A, 4] for one image), ``scores_logits`` [N, A, C] raw class
    scores with class 0 the background, ``default_boxes`` [A, 4] cxcywh (e.g. :func:`ssd_default_boxes`).
    Per image: softmax over the C classes; for each class c >= 1 take its ``candidates_per_class``
    best boxes (None = all; 400 as in torchvision's SSD and Caffe SSD's ``nms_top_k``), keep those with
    score strictly above ``score_threshold``, run NMS per class (:func:`batched_nms`), and keep the
    ``top_k`` best over all classes (None = all). Returns ``{"boxes": [K, 4] xyxy relative to the image,
    "scores": [K], "classes": [K]}`` by decreasing score; ``classes`` are the model's class indices,
    1 .. C-1 (background 0 is never returned). ``clip_boxes`` clamps the boxes to [0, 1].
    """
    if loc.dim() == 2:
        loc, scores_logits = loc.unsqueeze(0), scores_logits.unsqueeze(0)
    if loc.dim() != 3 or loc.shape[-1] != 4 or scores_logits.shape[:2] != loc.shape[:2]:
        raise ValueError(
            f"decode_ssd expects loc [N, A, 4] and scores [N, A, C], got {tuple(loc.shape)} "
            f"and {tuple(scores_logits.shape)}"
        )
    if default_boxes.shape != (loc.shape[1], 4):
        raise ValueError(f"{loc.shape[1]} predictions per image but default boxes {tuple(default_boxes.shape)}")
    boxes = decode_ssd_boxes(loc, default_boxes, variances)
    if clip_boxes:
        boxes = boxes.clamp(0, 1)
    probs = torch.softmax(scores_logits, dim=-1)[..., 1:]
    return [
        _select(boxes[n], probs[n], score_threshold, iou_threshold, top_k, 1, candidates_per_class)
        for n in range(loc.shape[0])
    ]


# ------------------------------------------------------------------------------------------- YOLO decode
def _yolo_parts(output: torch.Tensor, S: int, B: int, C: int, layout: str):
    """Split YOLO v1 outputs into coords [N, S, S, B, 4], confidences [N, S, S, B], class probs [N, S, S, C]."""
    per_image = S * S * (5 * B + C)
    if output.dim() in (1, 3):
        output = output.unsqueeze(0)
    if output.dim() not in (2, 4) or output[0].numel() != per_image:
        raise ValueError(
            f"decode_yolo_v1 expects [N, {S}, {S}, {5 * B + C}] or [N, {per_image}] "
            f"(S={S}, B={B}, C={C}), got {tuple(output.shape)}"
        )
    n = output.shape[0]
    if layout == "cell":
        cells = output.reshape(n, S, S, 5 * B + C)
        boxes = cells[..., : 5 * B].reshape(n, S, S, B, 5)
        return boxes[..., :4], boxes[..., 4], cells[..., 5 * B :]
    if layout == "darknet":
        flat = output.reshape(n, per_image)
        a, b = S * S * C, S * S * (C + B)
        return flat[:, b:].reshape(n, S, S, B, 4), flat[:, a:b].reshape(n, S, S, B), flat[:, :a].reshape(n, S, S, C)
    raise ValueError(f"unknown YOLO layout {layout!r}; use 'cell' or 'darknet'")


def decode_yolo_v1(
    output: torch.Tensor,
    S: int = 7,
    B: int = 2,
    C: int = 20,
    score_threshold: float = 0.2,
    iou_threshold: float = 0.5,
    layout: str = "cell",
    sqrt_wh: bool = False,
    top_k: int | None = None,
    clip_boxes: bool = False,
) -> list[dict]:
    """YOLO v1 outputs (Redmon et al. 2016, Sec. 2) -> detections, one dict per image.

    ``output`` is [N, S, S, 5B + C] or flat [N, S*S*(5B + C)] (or either without N for one image).
    Values are used as they are: YOLO v1's last layer is linear, with no sigmoid or softmax.

    Memory layout, ``layout="cell"`` (the default, the one ``reshape(7, 7, 30)`` of a spec gives):
    per cell (row i, column j, row-major), B boxes of 5 values ``(x, y, w, h, confidence)``, then C
    conditional class probabilities ``Pr(class | object)``. ``layout="darknet"`` is the original
    Darknet v1 detection layer's flat order instead: all S*S*C class probabilities (cell-major), then
    all S*S*B confidences, then all S*S*B*4 coordinates.

    Box of cell (i, j): centre ``((j + x) / S, (i + y) / S)`` (x, y are offsets within the cell), size
    ``(w, h)`` relative to the image. The paper predicts w and h directly and only its loss takes
    square roots, so they are used as they are; ``sqrt_wh=True`` squares them instead, for networks
    trained like Darknet's ``sqrt=1`` detection layer (which outputs sqrt(w), sqrt(h)).

    Class-specific score = ``Pr(class | object) * confidence`` for each of the B boxes; scores
    strictly above ``score_threshold`` are kept, then NMS per class (:func:`batched_nms`), then the
    ``top_k`` best (None = all). Returns ``{"boxes": [K, 4] xyxy relative, "scores": [K],
    "classes": [K] in 0 .. C-1}`` by decreasing score. ``clip_boxes`` clamps the boxes to [0, 1].
    """
    coords, conf, probs = _yolo_parts(output, S, B, C, layout)
    n = coords.shape[0]
    col = torch.arange(S, dtype=coords.dtype, device=coords.device).view(1, 1, S, 1)
    row = torch.arange(S, dtype=coords.dtype, device=coords.device).view(1, S, 1, 1)
    w, h = coords[..., 2], coords[..., 3]
    if sqrt_wh:
        w, h = w * w, h * h
    cxcywh = torch.stack(((col + coords[..., 0]) / S, (row + coords[..., 1]) / S, w, h), dim=-1)
    boxes = cxcywh_to_xyxy(cxcywh).reshape(n, S * S * B, 4)  # order: cell, then box
    if clip_boxes:
        boxes = boxes.clamp(0, 1)
    scores = (conf[..., :, None] * probs[..., None, :]).reshape(n, S * S * B, C)
    return [_select(boxes[i], scores[i], score_threshold, iou_threshold, top_k, 0, None) for i in range(n)]


# ------------------------------------------------------------------------------------------------ detect
def detect(output: Any, kind: str = "ssd", **options: Any) -> list[dict]:
    """Decode a detector's output: ``kind="ssd"`` or ``"yolo"`` (YOLO v1).

    * ``"ssd"``: ``output`` is ``(loc, scores_logits)`` (a tuple/list, or a dict with those keys);
      ``default_boxes`` defaults to :func:`ssd_default_boxes` with its defaults (8732 boxes for SSD300);
      other options go to :func:`decode_ssd`.
    * ``"yolo"``: ``output`` is the tensor; options go to :func:`decode_yolo_v1`.
    * ``"rcnn"`` (Fast / Faster R-CNN): ``output`` is the dict of ``proposals``, ``class_logits`` and
      ``box_regression`` (the faster_rcnn_vgg16 spec's outputs); ``image_size`` (height, width) is needed, other
      options go to :func:`~archdsl.backend.proposals.rcnn_detections`.
    """
    if kind == "ssd":
        if isinstance(output, dict):  # the ssd300 spec's outputs are torchvision's: bbox_regression, cls_logits
            loc = output["bbox_regression"] if "bbox_regression" in output else output["loc"]
            logits = output["cls_logits"] if "cls_logits" in output else output["scores_logits"]
        else:
            loc, logits = output
        default_boxes = options.pop("default_boxes", None)
        if default_boxes is None:  # the boxes of the library's ssd300 (torchvision's ssd300_vgg16)
            default_boxes = ssd300_default_boxes().to(loc.dtype)
        return decode_ssd(loc, logits, default_boxes, **options)
    if kind in ("yolo", "yolo_v1", "yolov1"):
        return decode_yolo_v1(output, **options)
    if kind in ("rcnn", "fast_rcnn", "faster_rcnn"):
        if "image_size" not in options:
            raise ValueError("kind='rcnn' needs image_size=(height, width), to clip the boxes")
        return rcnn_detections(output["class_logits"], output["box_regression"], output["proposals"], **options)
    raise ValueError(f"unknown detector kind {kind!r}; use 'ssd', 'yolo' or 'rcnn'")
