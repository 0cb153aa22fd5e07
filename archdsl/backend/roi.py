"""RoI pooling (Fast R-CNN) and RoI Align (Mask R-CNN) in plain torch, with torchvision's signatures and
semantics: :func:`roi_pool` and :func:`roi_align` give what ``torchvision.ops.roi_pool`` /
``torchvision.ops.roi_align`` give (their CPU kernels), so that either can be swapped in for the other.
Both are vectorised over boxes, bins and samples (index arithmetic and gathers, no Python loop), work for
every floating dtype on any device, and backpropagate into ``input`` through autograd.

Arguments, as torchvision's:

* ``input`` is ``N x C x H x W``; pixel ``(h, w)`` covers the square ``[w, w + 1) x [h, h + 1)``.
* ``boxes`` is a ``K x 5`` tensor of rows ``(batch index, x1, y1, x2, y2)``, or a list of ``K_i x 4``
  tensors ``(x1, y1, x2, y2)``, one per image (turned into ``K x 5`` with the list position as the batch
  index, as torchvision's ``convert_boxes_to_roi_format`` does). Boxes are in image coordinates and
  multiplied by ``spatial_scale`` to land on the map (1/16 for a stride-16 map). The batch index is
  truncated towards zero (C's ``int`` cast); one outside ``[0, N)`` raises ``ValueError`` (torchvision
  reads out of bounds). The boxes are converted to ``input``'s dtype and device, and all arithmetic below
  is done in that dtype, in the kernels' order of operations. The boxes get no gradient (as in
  torchvision's kernels).
* ``output_size`` is ``h`` (square) or ``(h, w)``: the number of bins down and across; the result is
  ``K x C x h x w``. ``K = 0`` (or any zero size) gives an empty result.

**roi_pool** (max over whole pixels). Per box, with ``s = spatial_scale``:

* corners are rounded to pixels, halves away from zero (C's ``round``, *not* ``torch.round``):
  ``x1' = round(x1 s)``, ``y1' = round(y1 s)``, ``x2' = round(x2 s)``, ``y2' = round(y2 s)``;
* the roi is ``roi_w = max(x2' - x1' + 1, 1)`` pixels wide (both corners included; a degenerate box,
  ``x2 < x1``, becomes one pixel wide) and likewise ``roi_h`` high; ``bin_w = roi_w / w``,
  ``bin_h = roi_h / h`` (fractional);
* bin ``(i, j)`` covers rows ``[y1' + floor(i bin_h), y1' + ceil((i + 1) bin_h))`` and columns
  ``[x1' + floor(j bin_w), x1' + ceil((j + 1) bin_w))``, each clipped to ``[0, H)`` / ``[0, W)``:
  neighbouring bins may share a row or column;
* the output is the bin's maximum; an empty bin (after clipping: the box partly or wholly off the map)
  gives 0. As in the kernel, the running maximum starts at ``-FLT_MAX`` and takes a pixel only when it is
  strictly greater, so NaNs are skipped and a non-empty bin whose pixels are all ``-inf`` (or NaN, or
  below ``-FLT_MAX`` in float64) gives ``-FLT_MAX`` (``-3.4028234663852886e38``);
* the gradient goes to the first pixel (row-major) holding the maximum, the kernel's argmax; none for
  an empty or all-``-inf`` bin.

**roi_align** (average of bilinear samples). Per box:

* no rounding: ``x1' = x1 s - o``, ..., with ``o = 0.5`` when ``aligned`` (pixel centres then sit at
  integer coordinates, Detectron2's convention) and ``o = 0`` otherwise (the legacy Mask R-CNN code);
* ``roi_w = x2' - x1'``, ``roi_h = y2' - y1'``; when not ``aligned`` each is raised to at least 1 (a
  degenerate box becomes 1 x 1); when ``aligned`` they are kept as they are, even negative;
  ``bin_w = roi_w / w``, ``bin_h = roi_h / h``;
* each bin is sampled on a ``g_h x g_w`` grid: ``g_h = g_w = sampling_ratio`` when it is positive, else
  adaptively ``g_h = ceil(roi_h / h)``, ``g_w = ceil(roi_w / w)`` (per box; 0 or less for an empty or
  negative aligned roi, which then gives 0);
* sample ``(iy, ix)`` of bin ``(i, j)`` sits at ``y = y1' + i bin_h + (iy + 0.5) bin_h / g_h`` and
  ``x = x1' + j bin_w + (ix + 0.5) bin_w / g_w`` (the centres of a regular grid over the bin);
* bilinear interpolation with torchvision's borders: a sample with ``y < -1`` or ``y > H`` or ``x < -1``
  or ``x > W`` (or a NaN coordinate) is 0 (it still counts in the average; like the kernel, it is computed
  as 0 times pixel ``(0, 0)``, so a non-finite value there makes it NaN); otherwise a coordinate
  below 0 is clamped to 0 and one at or past the last pixel (``floor(y) >= H - 1``) is clamped to ``H - 1``
  (likewise ``x``), and the four pixels around ``(y, x)`` are mixed with weights ``(1 - ly)(1 - lx)``,
  ``(1 - ly) lx``, ``ly (1 - lx)``, ``ly lx``, where ``ly = y - floor(y)``, ``lx = x - floor(x)``;
  so a sample in ``[-1, 0]`` reads row 0 and one in ``[H - 1, H]`` reads row ``H - 1``;
* the output is the sum of the samples divided by ``max(g_h g_w, 1)``.

Exactness: float64 results equal torchvision's to rounding (the sums run in torch's order, not the
kernel's left-to-right order, so float32 may differ in the last bit).

Memory: roi_pool gathers ``C x h x w`` times the largest bin's pixels per box, roi_align ``C x h x w x g_h x g_w``
samples (the largest adaptive grid): about ``C`` times a box's area in map pixels. The boxes are taken in
parts of at most ``CHUNK_VALUES`` (16.8 M) such values, so the peak does not grow with their number: all at
once, faster_rcnn_vgg16 on two 600x800 images (600 proposals on conv5_3) was killed for memory on a 24 GB
machine; in parts its forward peaks at 1.5 GB resident.

    >>> import torch
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> roi_pool(x, torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 2)[0, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> roi_align(x, [torch.tensor([[1.0, 1.0, 2.0, 2.0]])], 1, sampling_ratio=1).item()
    7.5
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch

__all__ = ["roi_align", "roi_pool"]

_FLT_MAX = 3.4028234663852886e38  # C's FLT_MAX: the kernel's starting maximum, in float and double alike
CHUNK_VALUES = 1 << 24  # the most values gathered at once (boxes x channels x bins x the largest bin's pixels)


# ------------------------------------------------------------------------------------------ arguments
def _output_size(output_size: int | Sequence[int]) -> tuple[int, int]:
    pair = tuple(output_size) if isinstance(output_size, Sequence) else (output_size, output_size)
    try:
        size = tuple(operator.index(s) for s in pair)  # ints, numpy ints; not floats
    except TypeError:
        size = ()
    if len(size) != 2 or min(size) < 0:
        raise ValueError(f"output_size must be an int or an (h, w) pair of ints >= 0, got {output_size!r}")
    return size[0], size[1]


def _rois(input: torch.Tensor, boxes: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """``boxes`` as a detached K x 5 tensor in ``input``'s dtype and device."""
    if input.dim() != 4:
        raise ValueError(f"input must be N x C x H x W, got shape {tuple(input.shape)}")
    if not input.is_floating_point():
        raise ValueError(f"input must be a floating-point tensor, got {input.dtype}")
    if isinstance(boxes, torch.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(f"a boxes tensor must be K x 5 (batch index, x1, y1, x2, y2), got {tuple(boxes.shape)}")
        rois = boxes
    elif isinstance(boxes, Sequence) and boxes and all(isinstance(b, torch.Tensor) for b in boxes):
        for b in boxes:
            if b.dim() != 2 or b.shape[1] != 4:
                raise ValueError(f"each image's boxes must be K_i x 4 (x1, y1, x2, y2), got {tuple(b.shape)}")
        flat = torch.cat([b.to(device=input.device, dtype=input.dtype) for b in boxes], dim=0)
        ids = torch.cat(
            [torch.full_like(b[:, :1], i, dtype=flat.dtype, device=flat.device) for i, b in enumerate(boxes)]
        )
        rois = torch.cat([ids, flat], dim=1)
    else:
        raise ValueError("boxes must be a K x 5 tensor or a non-empty list of K_i x 4 tensors, one per image")
    return rois.detach().to(device=input.device, dtype=input.dtype)


def _batch_index(rois: torch.Tensor, n: int) -> torch.Tensor:
    """The boxes' images, truncated towards zero as C's ``int`` cast does; checked against the batch."""
    b = rois[:, 0].long()
    bad = (b < 0) | (b >= n)
    if bool(bad.any()):
        shown = rois[bad, 0][:5].tolist()
        raise ValueError(f"{int(bad.sum())} box(es) with a batch index outside the batch of {n} image(s): {shown}")
    return b


def _empty(input: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """A result with no elements that is still part of ``input``'s graph (its gradient is zero)."""
    return input.flatten()[:0].reshape(shape)


def _start(
    input: torch.Tensor, boxes: torch.Tensor | Sequence[torch.Tensor], output_size: int | Sequence[int], scale: float
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]:
    """What both ops begin with: the arguments checked, then the result itself where there is nothing to pool
    (no box, no channel or no bin: empty; an empty map: zeros, as every bin is empty and torchvision's kernels
    would read out of bounds), else the K x 5 rois, their images, the scale in their dtype and (h, w)."""
    rois = _rois(input, boxes)
    ph, pw = _output_size(output_size)
    n, c, height, width = input.shape
    shape = (rois.shape[0], c, ph, pw)
    if rois.shape[0] * c * ph * pw == 0:
        return _empty(input, shape)
    if height == 0 or width == 0:
        return input.new_zeros(shape)
    b = _batch_index(rois, n)
    return rois, b, torch.tensor(scale, dtype=rois.dtype, device=rois.device), (ph, pw)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's ``round``: to the nearest integer, halves away from zero (``x - trunc(x)`` is exact)."""
    t = torch.trunc(x)
    return t + torch.where((x - t).abs() >= 0.5, torch.sign(x), torch.zeros_like(x))


# ------------------------------------------------------------------------------------------- roi_pool
def _pool_bins(
    start: torch.Tensor, end: torch.Tensor, pooled: int, length: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """One axis of roi_pool's bins: the first and one-past-last pixel of each, K x pooled, clipped to the map
    (``start``, ``end``: the rounded corners; the bin size is fractional, in ``dtype``)."""
    size = (end - start + 1).clamp(min=1)
    bin_size = size.to(dtype) / pooled
    p = torch.arange(pooled, device=start.device, dtype=dtype)
    lo = torch.floor(p * bin_size[:, None]).long() + start[:, None]
    hi = torch.ceil((p + 1) * bin_size[:, None]).long() + start[:, None]
    return lo.clamp(0, length), hi.clamp(0, length)


def _widest(lo: torch.Tensor, hi: torch.Tensor) -> int:
    """The most pixels of any bin (at least 1)."""
    return max(int((hi - lo).clamp(min=0).max()), 1) if lo.numel() else 1


def _chunks(t: torch.Tensor, per_box: int) -> tuple[torch.Tensor, ...]:
    """``t`` split along its boxes into parts of at most :data:`CHUNK_VALUES` gathered values each (``per_box``
    per box): the gathers below materialise a box's whole window at once, which for 600 boxes of a large map
    is gigabytes; in parts the peak stays near CHUNK_VALUES whatever the number of boxes."""
    return t.split(max(1, CHUNK_VALUES // max(per_box, 1)))


def _window(lo: torch.Tensor, hi: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel indices K x pooled x B over each bin (B the widest bin) and which of them are in the bin."""
    span = int((hi - lo).clamp(min=0).max()) if lo.numel() else 0
    idx = lo[..., None] + torch.arange(max(span, 1), device=lo.device)
    return idx.clamp(max=length - 1), idx < hi[..., None]


def roi_pool(
    input: torch.Tensor,
    boxes: torch.Tensor | Sequence[torch.Tensor],
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
) -> torch.Tensor:
    """Fast R-CNN's RoI max pooling, as ``torchvision.ops.roi_pool``: ``input`` N x C x H x W, ``boxes`` K x 5
    ``(batch index, x1, y1, x2, y2)`` or a list of per-image K_i x 4 -> K x C x h x w. The conventions (corner
    rounding, the ``+ 1``, floor/ceil bins, clipping, empty bins giving 0) are in the module's docstring."""
    start = _start(input, boxes, output_size, spatial_scale)
    if isinstance(start, torch.Tensor):
        return start
    rois, b, scale, (ph, pw) = start
    c, height, width = input.shape[1:]
    x1, y1, x2, y2 = _round_half_away(rois[:, 1:] * scale).long().unbind(1)
    hstart, hend = _pool_bins(y1, y2, ph, height, input.dtype)  # K x ph
    wstart, wend = _pool_bins(x1, x2, pw, width, input.dtype)  # K x pw
    per_box = c * ph * pw * _widest(hstart, hend) * _widest(wstart, wend)
    parts = zip(*(_chunks(t, per_box) for t in (b, hstart, hend, wstart, wend)))
    return torch.cat([_pool_part(input, *part) for part in parts])


def _pool_part(
    input: torch.Tensor,
    b: torch.Tensor,
    hstart: torch.Tensor,
    hend: torch.Tensor,
    wstart: torch.Tensor,
    wend: torch.Tensor,
) -> torch.Tensor:
    """roi_pool of some boxes, given their images and bins."""
    _, c, height, width = input.shape
    rows, row_in = _window(hstart, hend, height)  # K x ph x Bh
    cols, col_in = _window(wstart, wend, width)  # K x pw x Bw
    rows, row_in = rows[:, None, :, None, :, None], row_in[:, None, :, None, :, None]
    cols, col_in = cols[:, None, None, :, None, :], col_in[:, None, None, :, None, :]
    bi = b[:, None, None, None]
    ci = torch.arange(c, device=input.device)[None, :, None, None]
    with torch.no_grad():  # find each bin's argmax: the kernel's first strictly greater pixel, row-major
        v = input[bi[..., None, None], ci[..., None, None], rows, cols]  # K x C x ph x pw x Bh x Bw
        taken = row_in & col_in & (v > -_FLT_MAX)  # never NaN, -inf or below -FLT_MAX
        best = torch.where(taken, v, torch.full_like(v, -torch.inf)).amax(dim=(-2, -1), keepdim=True)
        key = rows * width + cols
        first = torch.where(taken & (v == best), key, height * width).amin(dim=(-2, -1))  # K x C x ph x pw
        found = first < height * width
        first = first.clamp(max=height * width - 1)
    out = input[bi, ci, first // width, first % width]  # the gradient goes to the argmax alone
    empty = ((hend <= hstart)[:, :, None] | (wend <= wstart)[:, None, :])[:, None]  # K x 1 x ph x pw
    fill = torch.full_like(out, -_FLT_MAX).masked_fill(empty, 0)
    return torch.where(found, out, fill)


# ------------------------------------------------------------------------------------------ roi_align
def _align_axis(
    start: torch.Tensor, size: torch.Tensor, pooled: int, sampling_ratio: int, length: int
) -> tuple[torch.Tensor, ...]:
    """One axis of roi_align's samples: the boxes' grids (K; ``sampling_ratio`` or ``ceil(bin size)``, which
    may be 0 or negative), then, each K x pooled x G (G the largest grid over the boxes), the lower and upper
    pixel, the coordinate's offset from the lower one (``l``; ``1 - l`` weighs the lower pixel), whether
    the sample is on the map (within ``[-1, length]``) and whether it exists (its index below the box's grid)."""
    dtype = start.dtype
    bin_size = size / pooled
    if sampling_ratio > 0:
        grid = torch.full_like(bin_size, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(bin_size).long()  # the kernel's ceil(roi_h / pooled_h): the same division
    g = max(int(grid.max()) if grid.numel() else 0, 1)
    grid_t = grid.clamp(min=1).to(dtype)[:, None, None]
    p = torch.arange(pooled, device=start.device, dtype=dtype)[None, :, None]
    i = torch.arange(g, device=start.device, dtype=dtype)[None, None, :]
    bin_size = bin_size[:, None, None]
    y = (start[:, None, None] + p * bin_size) + ((i + 0.5) * bin_size) / grid_t  # K x pooled x G
    exists = i < grid[:, None, None]
    on_map = (y >= -1) & (y <= length)  # False for NaN
    y = torch.where(on_map, y.clamp(min=0), torch.zeros_like(y))
    low = y.long()  # y >= 0: truncation is floor
    top = low >= length - 1
    low = torch.where(top, length - 1, low)
    high = torch.where(top, low, low + 1)
    y = torch.where(top, low.to(dtype), y)
    return grid, low, high, y - low.to(dtype), on_map, exists


def roi_align(
    input: torch.Tensor,
    boxes: torch.Tensor | Sequence[torch.Tensor],
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """Mask R-CNN's RoI Align, as ``torchvision.ops.roi_align``: ``input`` N x C x H x W, ``boxes`` K x 5
    ``(batch index, x1, y1, x2, y2)`` or a list of per-image K_i x 4 -> K x C x h x w, each bin the average of
    a grid of bilinear samples. The conventions (the ``aligned`` half-pixel shift, the minimum size of 1, the
    adaptive grid, the borders) are in the module's docstring."""
    start = _start(input, boxes, output_size, spatial_scale)
    if isinstance(start, torch.Tensor):
        return start
    rois, b, scale, (ph, pw) = start
    c = input.shape[1]
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * scale - offset).unbind(1)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    per_box = c * ph * pw * _grid(roi_h, ph, sampling_ratio) * _grid(roi_w, pw, sampling_ratio)
    parts = zip(*(_chunks(t, per_box) for t in (b, x1, y1, roi_w, roi_h)))
    return torch.cat([_align_part(input, *part, (ph, pw), sampling_ratio) for part in parts])


def _grid(size: torch.Tensor, pooled: int, sampling_ratio: int) -> int:
    """The most samples along an axis of any bin (at least 1)."""
    if sampling_ratio > 0:
        return sampling_ratio
    return max(int(torch.ceil(size / pooled).max()), 1) if size.numel() else 1


def _align_part(
    input: torch.Tensor,
    b: torch.Tensor,
    x1: torch.Tensor,
    y1: torch.Tensor,
    roi_w: torch.Tensor,
    roi_h: torch.Tensor,
    output_size: tuple[int, int],
    sampling_ratio: int,
) -> torch.Tensor:
    """roi_align of some boxes, given their images, corners and sizes on the map."""
    (ph, pw), (_, c, height, width) = output_size, input.shape
    g_h, ylo, yhi, ly, y_on, y_exists = _align_axis(y1, roi_h, ph, sampling_ratio, height)
    g_w, xlo, xhi, lx, x_on, x_exists = _align_axis(x1, roi_w, pw, sampling_ratio, width)

    # to K x 1 x ph x pw x Gh x Gw (x 1 broadcast over channels)
    def along_y(t: torch.Tensor) -> torch.Tensor:
        return t[:, None, :, None, :, None]

    def along_x(t: torch.Tensor) -> torch.Tensor:
        return t[:, None, None, :, None, :]

    on_map = along_y(y_on) & along_x(x_on)
    exists = along_y(y_exists) & along_x(x_exists)
    # a sample off the map reads pixel (0, 0) with weight 0, as the kernel's precomputation does
    ylo, yhi = (torch.where(on_map, along_y(t), 0) for t in (ylo, yhi))
    xlo, xhi = (torch.where(on_map, along_x(t), 0) for t in (xlo, xhi))
    ly, lx = along_y(ly), along_x(lx)
    hy, hx = 1.0 - ly, 1.0 - lx
    zero = torch.zeros((), dtype=input.dtype, device=input.device)
    w1, w2, w3, w4 = (torch.where(on_map, w, zero) for w in (hy * hx, hy * lx, ly * hx, ly * lx))
    bi = b[:, None, None, None, None, None]
    ci = torch.arange(c, device=input.device)[None, :, None, None, None, None]
    sample = (
        w1 * input[bi, ci, ylo, xlo]
        + w2 * input[bi, ci, ylo, xhi]
        + w3 * input[bi, ci, yhi, xlo]
        + w4 * input[bi, ci, yhi, xhi]
    )  # K x C x ph x pw x Gh x Gw
    total = torch.where(exists, sample, zero).sum(dim=(-2, -1))  # K x C x ph x pw
    count = (g_h * g_w).clamp(min=1).to(input.dtype)  # max(g_h g_w, 1); with g_h or g_w <= 0 the total is 0
    return total / count[:, None, None, None]
