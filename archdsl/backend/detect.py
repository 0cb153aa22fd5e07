"""Detection post-processing: boxes, non-maximum suppression, SSD default boxes and RPN anchors; the
decoders of SSD and YOLO outputs are :mod:`archdsl.backend.decode`.

Import it explicitly (``from archdsl import detect``): it needs torch, and ``import archdsl``
(the pure-Python analysis path) does not load it. torchvision is not needed; where a convention
could go two ways this module follows torchvision's, and says so.

Conventions used throughout:

* ``xyxy`` boxes are ``(x1, y1, x2, y2)``; ``cxcywh`` boxes are ``(cx, cy, w, h)``. Box area is
  ``(x2 - x1) * (y2 - y1)`` (continuous coordinates, no ``+ 1`` pixel convention), as in
  torchvision.ops.
* SSD default boxes and SSD/YOLO decoded boxes are *relative* to the image (1.0 = the image's width
  or height); RPN anchors are in input-image pixels.
* Decoders return, per image, ``{"boxes": [K, 4] xyxy, "scores": [K], "classes": [K] int64}``
  sorted by decreasing score.

    >>> import torch
    >>> from archdsl import detect
    >>> boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.], [20., 20., 30., 30.]])
    >>> detect.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
    [0, 2]
    >>> detect.ssd_default_boxes().shape
    torch.Size([8732, 4])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "SSD300_ASPECT_RATIOS",
    "SSD300_FEATURE_SIZES",
    "SSD300_SCALES",
    "SSD300_STEPS",
    "SSD300_VOC_SCALES",
    "batched_nms",
    "box_area",
    "box_iou",
    "cxcywh_to_xyxy",
    "nms",
    "rpn_anchors",
    "ssd300_default_boxes",
    "ssd_boxes_per_cell",
    "ssd_default_boxes",
    "ssd_scales",
    "xyxy_to_cxcywh",
]

#: SSD300 source maps: conv4_3, fc7, conv8_2, conv9_2, conv10_2, conv11_2 (Liu et al. 2016, Fig. 2).
SSD300_FEATURE_SIZES = (38, 19, 10, 5, 3, 1)
#: Extra aspect ratios per map (besides 1): {2, 1/2} or {2, 1/2, 3, 1/3} -> 4 or 6 boxes per cell.
SSD300_ASPECT_RATIOS = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))
#: torchvision ``ssd300_vgg16`` scales (the original Caffe SSD300 COCO setting: 21, 45, 99, 153, 207,
#: 261, 315 pixels of 300). Seven values: the seventh only serves ``s'_k = sqrt(s_k s_{k+1})`` of the last map.
SSD300_SCALES = (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05)
#: The Caffe SSD300 PASCAL VOC setting (conv4_3 at 0.1 as the paper's Sec. 3.1 says; 30, 60, 111, ... pixels).
SSD300_VOC_SCALES = (0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05)
#: torchvision ``ssd300_vgg16`` steps (pixels between neighbouring cell centres on a 300x300 input).
SSD300_STEPS = (8, 16, 32, 64, 100, 300)

# torchvision's BoxCoder clamps the decoded log-scale of w and h at log(1000 / 16) so exp() cannot overflow.
_LOG_SCALE_CLIP = math.log(1000.0 / 16)


# --------------------------------------------------------------------------------------------- boxes
def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """``(cx, cy, w, h)`` -> ``(x1, y1, x2, y2)``, over the last dimension."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """``(x1, y1, x2, y2)`` -> ``(cx, cy, w, h)``, over the last dimension."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``[..., 4]`` xyxy boxes; a box with ``x2 < x1`` or ``y2 < y1`` has area 0."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection over union of xyxy boxes ``a`` [N, 4] and ``b`` [M, 4] -> [N, M].

    Two boxes whose union has zero area (both degenerate) have IoU 0, not NaN.

    >>> box_iou(torch.tensor([[0., 0., 2., 2.]]), torch.tensor([[1., 1., 3., 3.], [2., 0., 4., 2.]])).tolist()
    [[0.1428571492433548, 0.0]]
    """
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter))


# ----------------------------------------------------------------------------------------------- NMS
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression; the semantics of ``torchvision.ops.nms``.

    Visit the boxes by decreasing score; keep a box and drop every remaining box whose IoU with it
    is strictly greater than ``iou_threshold``. Returns the kept indices (int64) sorted by decreasing
    score. Ties in score are broken by the lower index first (a stable sort). The loop runs once per
    *kept* box; each step is one vectorised IoU against all boxes still in play.
    """
    if boxes.dim() != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(f"nms expects boxes [N, 4] and scores [N], got {tuple(boxes.shape)} and {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        if rest.numel() == 0:
            break
        iou = box_iou(boxes[i].unsqueeze(0), boxes[rest])[0]
        order = rest[iou <= iou_threshold]
    if not keep:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    return torch.stack(keep).to(torch.int64)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS done independently per class (``torchvision.ops.batched_nms``): boxes of different classes
    never suppress each other.

    The coordinate-offset trick: every box is shifted by ``class * span`` with ``span`` = (largest
    coordinate - smallest coordinate + 1), so boxes of different classes cannot overlap, and one
    :func:`nms` call does all classes. (torchvision uses ``max + 1`` as the span, which assumes
    non-negative coordinates; using the full range also covers negative ones.) The shift is done in
    float64 so it costs no precision for ordinary coordinates. Returns kept indices by decreasing score.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    work = boxes.to(torch.float64)
    span = work.max() - work.min() + 1
    shifted = work + (classes.to(torch.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold)


# ------------------------------------------------------------------------------------- SSD defaults
def _pair(v, name: str) -> tuple:
    if isinstance(v, Sequence):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a (height, width) pair, got {v!r}")
        return tuple(v)
    return (v, v)


def ssd_scales(num_maps: int, min_ratio: float = 0.2, max_ratio: float = 0.9) -> list[float]:
    """The SSD scales ``s_1 .. s_m`` plus one extra for ``s'_m``, as torchvision computes them.

    Liu et al. 2016, Sec. 2.2, Eq. 4: ``s_k = s_min + (s_max - s_min) (k - 1) / (m - 1)``, k = 1..m.
    The paper does not define ``s_{m+1}`` (needed by ``s'_m = sqrt(s_m s_{m+1})``); like torchvision's
    DefaultBoxGenerator, 1.0 is appended. With one map the scales are ``[min_ratio, max_ratio]``.

    >>> [round(s, 4) for s in ssd_scales(6)]
    [0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.0]
    """
    if num_maps < 1:
        raise ValueError("need at least one feature map")
    if num_maps == 1:
        return [min_ratio, max_ratio]
    return [min_ratio + (max_ratio - min_ratio) * k / (num_maps - 1) for k in range(num_maps)] + [1.0]


def ssd_boxes_per_cell(aspect_ratios: Sequence[Sequence[float]] = SSD300_ASPECT_RATIOS) -> list[int]:
    """Default boxes per cell of each map: 2 square boxes plus 2 per extra aspect ratio (``a`` and ``1/a``).

    >>> ssd_boxes_per_cell()
    [4, 6, 6, 6, 4, 4]
    """
    return [2 + 2 * len(ars) for ars in aspect_ratios]


def _ssd_wh(scales: Sequence[float], aspect_ratios: Sequence[Sequence[float]], k: int) -> list[tuple[float, float]]:
    s, s_next = scales[k], scales[k + 1]
    s_prime = math.sqrt(s * s_next)
    wh = [(s, s), (s_prime, s_prime)]
    for ar in aspect_ratios[k]:
        r = math.sqrt(ar)
        wh += [(s * r, s / r), (s / r, s * r)]
    return wh


def ssd_default_boxes(
    feature_sizes: Sequence[int | tuple[int, int]] = SSD300_FEATURE_SIZES,
    aspect_ratios: Sequence[Sequence[float]] = SSD300_ASPECT_RATIOS,
    min_ratio: float = 0.2,
    max_ratio: float = 0.9,
    steps: Sequence[float] | None = None,
    clip: bool = True,
    image_size: int | tuple[int, int] = 300,
    scales: Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """SSD default boxes, [sum_k H_k W_k n_k, 4] in ``(cx, cy, w, h)`` relative to the image.

    Follows Liu et al. 2016, Sec. 2.2 ("Choosing scales and aspect ratios for default boxes") with the
    exact conventions of torchvision's ``DefaultBoxGenerator``:

    * Scales: ``scales`` if given (m + 1 values), else :func:`ssd_scales` (Eq. 4 with min_ratio and
      max_ratio, then 1.0 appended). The defaults (0.2, 0.9) are the paper's; torchvision's SSD300
      uses the explicit :data:`SSD300_SCALES` instead (see :func:`ssd300_default_boxes`).
    * Boxes of one cell of map k, in this order: ``(s_k, s_k)``, ``(s'_k, s'_k)`` with
      ``s'_k = sqrt(s_k s_{k+1})``, then for each extra aspect ratio a: ``(s_k sqrt(a), s_k / sqrt(a))``
      and ``(s_k / sqrt(a), s_k sqrt(a))``, as (w, h).
    * Centres (torchvision's step convention): cell (i, j) (row i, column j) of an H x W map has
      ``cx = (j + 0.5) / f_x`` and ``cy = (i + 0.5) / f_y`` where ``f = image_size / step`` when
      ``steps`` is given, else ``f = (W, H)``, the map's own size (the paper's ``(j + 0.5) / |f_k|``).
    * ``clip``: w and h (not the centres) are clamped to [0, 1], as torchvision does.
    * Order: for each map, for each cell in row-major order (y, then x), for each box of the cell.

    ``feature_sizes`` and ``image_size`` entries are ints (square) or ``(height, width)`` pairs.
    With the defaults: 5776 + 2166 + 600 + 150 + 36 + 4 = 8732 boxes.
    """
    m = len(feature_sizes)
    if len(aspect_ratios) != m:
        raise ValueError(f"{m} feature maps but {len(aspect_ratios)} aspect-ratio lists")
    scales = list(scales) if scales is not None else ssd_scales(m, min_ratio, max_ratio)
    if len(scales) != m + 1:
        raise ValueError(f"{m} feature maps need {m + 1} scales, got {len(scales)}")
    if steps is not None and len(steps) != m:
        raise ValueError(f"{m} feature maps but {len(steps)} steps")
    img_h, img_w = _pair(image_size, "image_size")
    out = []
    for k, size in enumerate(feature_sizes):
        h, w = _pair(size, "feature size")
        if steps is not None:
            step_h, step_w = _pair(steps[k], "step")
            f_y, f_x = img_h / step_h, img_w / step_w
        else:
            f_y, f_x = h, w
        cy = (torch.arange(h, dtype=torch.float64) + 0.5) / f_y
        cx = (torch.arange(w, dtype=torch.float64) + 0.5) / f_x
        gy, gx = torch.meshgrid(cy, cx, indexing="ij")
        centres = torch.stack((gx.reshape(-1), gy.reshape(-1)), dim=-1)  # [H*W, 2], row-major
        wh = torch.tensor(_ssd_wh(scales, aspect_ratios, k), dtype=torch.float64)  # [n_k, 2]
        if clip:
            wh = wh.clamp(0, 1)
        n_cells, n_boxes = centres.shape[0], wh.shape[0]
        boxes = torch.cat(
            (centres[:, None, :].expand(n_cells, n_boxes, 2), wh[None, :, :].expand(n_cells, n_boxes, 2)), dim=-1
        )
        out.append(boxes.reshape(-1, 4))
    return torch.cat(out).to(dtype)


def ssd300_default_boxes(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 8732 default boxes of torchvision's ``ssd300_vgg16``: :data:`SSD300_SCALES` and
    :data:`SSD300_STEPS` on a 300 x 300 input (first box: centre (4/300, 4/300), size 0.07)."""
    return ssd_default_boxes(
        SSD300_FEATURE_SIZES,
        SSD300_ASPECT_RATIOS,
        steps=SSD300_STEPS,
        scales=SSD300_SCALES,
        image_size=300,
        clip=True,
        dtype=dtype,
    )


# ---------------------------------------------------------------------------------------- RPN anchors
def rpn_anchors(
    feature_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 16,
    sizes: Sequence[float] = (128, 256, 512),
    ratios: Sequence[float] = (0.5, 1, 2),
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Faster R-CNN RPN anchors (Ren et al. 2015, Sec. 3.1.1), [H * W * len(ratios) * len(sizes), 4]
    xyxy in input-image pixels. The default 3 sizes x 3 ratios give k = 9 anchors per position.

    Conventions (torchvision's ``AnchorGenerator``):

    * ratio = height / width; an anchor of size s and ratio r has ``w = s / sqrt(r)``, ``h = s sqrt(r)``
      (area s^2).
    * Anchors per position, in this order: for each ratio, for each size (ratio-major, as in both
      torchvision and the original py-faster-rcnn ``generate_anchors``).
    * The base anchors ``(-w/2, -h/2, w/2, h/2)`` are rounded to integers (torch.round, half to even),
      then shifted by ``(x * stride_x, y * stride_y)`` for feature cell (y, x): an anchor of cell
      (0, 0) is centred on pixel (0, 0).
    * Order: for each cell in row-major order (y, then x), for each anchor of the cell.

    ``feature_size`` and ``stride`` are ints (square) or ``(height, width)`` pairs.
    """
    fh, fw = _pair(feature_size, "feature_size")
    sy, sx = _pair(stride, "stride")
    r = torch.as_tensor(ratios, dtype=torch.float64)
    s = torch.as_tensor(sizes, dtype=torch.float64)
    h_ratio = r.sqrt()
    w_ratio = 1 / h_ratio
    ws = (w_ratio[:, None] * s[None, :]).reshape(-1)
    hs = (h_ratio[:, None] * s[None, :]).reshape(-1)
    base = (torch.stack((-ws, -hs, ws, hs), dim=1) / 2).round()  # [A, 4]
    gy, gx = torch.meshgrid(
        torch.arange(fh, dtype=torch.float64) * sy, torch.arange(fw, dtype=torch.float64) * sx, indexing="ij"
    )
    gx, gy = gx.reshape(-1), gy.reshape(-1)
    shifts = torch.stack((gx, gy, gx, gy), dim=1)  # [H*W, 4]
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4).to(dtype)
