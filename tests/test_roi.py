"""archdsl.detect.roi_pool / roi_align against brute-force references: torchvision's CPU kernels written out
as plain Python loops over boxes, bins, channels and samples (in float64, as Python floats), checked
themselves on hand-computed values."""

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
import torch

from archdsl import detect
from archdsl.backend import roi
from archdsl.detect import roi_align, roi_pool

F64 = torch.float64
FLT_MAX = 3.4028234663852886e38


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------------- the references
def c_round(v: float) -> int:
    """C's round(): halves away from zero (Decimal's ROUND_HALF_UP rounds ties away from zero)."""
    return int(Decimal(v).to_integral_value(rounding=ROUND_HALF_UP))


def ref_roi_pool(x: torch.Tensor, rois: list, ph: int, pw: int, scale: float, grad_out: torch.Tensor):
    """The forward kernel's loops; the backward adds grad_out to each bin's argmax."""
    X = x.tolist()
    G = grad_out.tolist()
    N, C, H, W = x.shape
    out = [[[[0.0] * pw for _ in range(ph)] for _ in range(C)] for _ in rois]
    grad = [[[[0.0] * W for _ in range(H)] for _ in range(C)] for _ in range(N)]
    for k, (bidx, x1, y1, x2, y2) in enumerate(rois):
        b = int(bidx)
        sw, sh, ew, eh = c_round(x1 * scale), c_round(y1 * scale), c_round(x2 * scale), c_round(y2 * scale)
        rw, rh = max(ew - sw + 1, 1), max(eh - sh + 1, 1)
        bh, bw = rh / ph, rw / pw
        for i in range(ph):
            for j in range(pw):
                h0 = min(max(math.floor(i * bh) + sh, 0), H)
                h1 = min(max(math.ceil((i + 1) * bh) + sh, 0), H)
                w0 = min(max(math.floor(j * bw) + sw, 0), W)
                w1 = min(max(math.ceil((j + 1) * bw) + sw, 0), W)
                empty = h1 <= h0 or w1 <= w0
                for c in range(C):
                    best, arg = (0.0 if empty else -FLT_MAX), None
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if X[b][c][h][w] > best:
                                best, arg = X[b][c][h][w], (h, w)
                    out[k][c][i][j] = best
                    if arg is not None:
                        grad[b][c][arg[0]][arg[1]] += G[k][c][i][j]
    return torch.tensor(out, dtype=F64).reshape(len(rois), C, ph, pw), torch.tensor(grad, dtype=F64)


def bilinear(H: int, W: int, y: float, x: float):
    """The kernel's bilinear_interpolate: [(weight, h, w)] x 4, or [] for a sample off the map."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return []
    y, x = max(y, 0.0), max(x, 0.0)
    y_lo, x_lo = int(y), int(x)
    if y_lo >= H - 1:
        y_hi = y_lo = H - 1
        y = float(y_lo)
    else:
        y_hi = y_lo + 1
    if x_lo >= W - 1:
        x_hi = x_lo = W - 1
        x = float(x_lo)
    else:
        x_hi = x_lo + 1
    ly, lx = y - y_lo, x - x_lo
    hy, hx = 1.0 - ly, 1.0 - lx
    return [(hy * hx, y_lo, x_lo), (hy * lx, y_lo, x_hi), (ly * hx, y_hi, x_lo), (ly * lx, y_hi, x_hi)]


def ref_roi_align(x, rois, ph, pw, scale, sampling_ratio, aligned, grad_out):
    """The forward kernel's loops; the backward spreads grad_out / count over each sample's four pixels."""
    X = x.tolist()
    G = grad_out.tolist()
    N, C, H, W = x.shape
    out = [[[[0.0] * pw for _ in range(ph)] for _ in range(C)] for _ in rois]
    grad = [[[[0.0] * W for _ in range(H)] for _ in range(C)] for _ in range(N)]
    for k, (bidx, x1, y1, x2, y2) in enumerate(rois):
        b = int(bidx)
        off = 0.5 if aligned else 0.0
        sw, sh, ew, eh = x1 * scale - off, y1 * scale - off, x2 * scale - off, y2 * scale - off
        rw, rh = ew - sw, eh - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for i in range(ph):
            for j in range(pw):
                for c in range(C):
                    total = 0.0
                    for iy in range(gh):
                        y = sh + i * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            xx = sw + j * bw + (ix + 0.5) * bw / gw
                            for wgt, h, w in bilinear(H, W, y, xx):
                                total += wgt * X[b][c][h][w]
                                grad[b][c][h][w] += G[k][c][i][j] * wgt / count
                    out[k][c][i][j] = total / count
    return torch.tensor(out, dtype=F64).reshape(len(rois), C, ph, pw), torch.tensor(grad, dtype=F64)


# ------------------------------------------------------------------------------------- the fixtures
def feature_map() -> torch.Tensor:
    """2 images x 2 channels x 5 x 7: image 0 is arange (channel 1 negated), image 1 a fixed shuffle."""
    x = torch.arange(2 * 2 * 5 * 7, dtype=F64).reshape(2, 2, 5, 7)
    x[0, 1] = -x[0, 1]
    g = torch.Generator().manual_seed(0)
    x[1] = x[1].flatten()[torch.randperm(70, generator=g)].reshape(2, 5, 7) - 30.0
    return x


# (batch, x1, y1, x2, y2) on the map, in map pixels
MAP_BOXES = [
    [0, 1.0, 1.0, 4.0, 3.0],  # inside
    [1, 0.6, 0.4, 5.2, 3.7],  # inside, fractional
    [0, 0.0, 0.0, 6.0, 4.0],  # the last pixel's index
    [1, 0.0, 0.0, 7.0, 5.0],  # the map's far edge
    [0, -2.0, -1.5, 3.0, 2.0],  # partly outside, top-left
    [1, 4.5, 2.5, 9.0, 8.0],  # partly outside, bottom-right
    [0, -1.2, -0.8, -0.3, 0.2],  # in the [-1, 0] border band
    [0, 8.0, 6.0, 12.0, 9.0],  # wholly outside, bottom-right
    [1, -5.0, -4.0, -2.0, -3.0],  # wholly outside, top-left
    [0, 3.0, 2.0, 1.0, 1.0],  # degenerate: x2 < x1, y2 < y1
    [1, 2.5, 2.5, 2.5, 2.5],  # a point
    [0, 0.5, 1.5, 2.5, 3.5],  # halves: C's round goes away from zero
    [1, -0.5, -1.5, 1.5, 0.5],  # negative halves
    [1.0, 6.4, 4.4, 6.9, 4.9],  # the last pixel, a float batch index
    [0.9, 6.0, 4.0, 8.0, 6.0],  # batch index truncated (to 0); samples exactly at x = W, y = H
    [1, -2.0, -2.0, 0.0, 0.0],  # samples exactly at -1
]


def boxes_for(scale: float) -> torch.Tensor:
    """MAP_BOXES in image coordinates for ``scale`` (x / scale, so that x * scale lands back on the map,
    give or take rounding: 1/16 and 0.5 are exact powers of two)."""
    b = torch.tensor(MAP_BOXES, dtype=F64)
    b[:, 1:] /= scale
    return b


SCALES = [1.0, 0.5, 1 / 16]
SIZES = [1, 2, (2, 3)]


def pair(size):
    return (size, size) if isinstance(size, int) else size


# ------------------------------------------------------------------------------ the hand-made values
def test_the_references_on_hand_computed_values():
    x = torch.arange(16, dtype=F64).reshape(1, 1, 4, 4)  # x[h, w] = 4 h + w
    g = torch.ones(1, 1, 2, 2, dtype=F64)
    # a 4 x 4 roi (both corners count) in 2 x 2 bins of 2 x 2 pixels: each bin's bottom-right pixel
    out, grad = ref_roi_pool(x, [[0, 0.0, 0.0, 3.0, 3.0]], 2, 2, 1.0, g)
    assert out.flatten().tolist() == [5.0, 7.0, 13.0, 15.0]
    assert grad.flatten().nonzero().flatten().tolist() == [5, 7, 13, 15]
    one = torch.ones(1, 1, 1, 1, dtype=F64)
    # x1 = 0.5 rounds to 1 and x2 = 2.5 to 3 (torch.round would give 0 and 2, and the maximum 10)
    assert ref_roi_pool(x, [[0, 0.5, 0.5, 2.5, 2.5]], 1, 1, 1.0, one)[0].item() == 15.0
    # degenerate in x (x2 < x1: one column, x = 3), rows 1..2
    assert ref_roi_pool(x, [[0, 3.0, 1.0, 1.0, 2.0]], 1, 1, 1.0, one)[0].item() == 11.0
    # off the map: an empty bin is 0
    assert ref_roi_pool(x, [[0, 5.0, 5.0, 8.0, 8.0]], 1, 1, 1.0, one)[0].item() == 0.0
    # bilinear on a linear map is exact: one sample at the box's centre
    assert ref_roi_align(x, [[0, 1.0, 1.0, 2.0, 2.0]], 1, 1, 1.0, 1, False, one)[0].item() == 4 * 1.5 + 1.5
    assert ref_roi_align(x, [[0, 1.0, 1.0, 2.0, 2.0]], 1, 1, 1.0, 1, True, one)[0].item() == 4 * 1.0 + 1.0
    # a 2 x 2 grid over (0, 0, 2, 2): samples at 0.5 and 1.5, averaging to the centre's 5
    assert ref_roi_align(x, [[0, 0.0, 0.0, 2.0, 2.0]], 1, 1, 1.0, 2, False, one)[0].item() == 5.0
    # adaptive grid: ceil(2 / 1) = 2 per axis, the same samples
    assert ref_roi_align(x, [[0, 0.0, 0.0, 2.0, 2.0]], 1, 1, 1.0, -1, False, one)[0].item() == 5.0
    # a sample at (3.5, 3.5) is within [-1, H] and clamps to the last pixel; one at (5, 5) is off the map
    assert ref_roi_align(x, [[0, 3.0, 3.0, 4.0, 4.0]], 1, 1, 1.0, 1, False, one)[0].item() == 15.0
    assert ref_roi_align(x, [[0, 4.0, 4.0, 6.0, 6.0]], 1, 1, 1.0, 1, False, one)[0].item() == 0.0
    # exactly at y = H, x = W and at -1 the sample is still on the map
    assert ref_roi_align(x, [[0, 3.0, 3.0, 5.0, 5.0]], 1, 1, 1.0, 1, False, one)[0].item() == 15.0
    assert ref_roi_align(x + 1, [[0, -2.0, -2.0, 0.0, 0.0]], 1, 1, 1.0, 1, False, one)[0].item() == 1.0
    # a sample at (-0.5, -0.5) clamps to pixel (0, 0); x at 1.5 mixes columns 1 and 2 half and half
    assert ref_roi_align(x + 1, [[0, -1.0, -1.0, 0.0, 0.0]], 1, 1, 1.0, 1, False, one)[0].item() == 1.0
    assert ref_roi_align(x, [[0, 1.0, -1.0, 2.0, 0.0]], 1, 1, 1.0, 1, False, one)[0].item() == 1.5


def test_hand_computed_values():
    x = torch.arange(16, dtype=F64).reshape(1, 1, 4, 4)
    assert roi_pool(x, torch.tensor([[0, 0.0, 0.0, 3.0, 3.0]], dtype=F64), 2).flatten().tolist() == [5, 7, 13, 15]
    assert roi_pool(x, torch.tensor([[0, 0.5, 0.5, 2.5, 2.5]], dtype=F64), 1).item() == 15.0
    assert roi_pool(x, torch.tensor([[0, 3.0, 1.0, 1.0, 2.0]], dtype=F64), 1).item() == 11.0
    assert roi_pool(x, torch.tensor([[0, 5.0, 5.0, 8.0, 8.0]], dtype=F64), 1).item() == 0.0
    box = torch.tensor([[0, 1.0, 1.0, 2.0, 2.0]], dtype=F64)
    assert roi_align(x, box, 1, sampling_ratio=1).item() == 7.5
    assert roi_align(x, box, 1, sampling_ratio=1, aligned=True).item() == 5.0
    assert roi_align(x, torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]], dtype=F64), 1).item() == 5.0
    assert roi_align(x, torch.tensor([[0, 3.0, 3.0, 4.0, 4.0]], dtype=F64), 1, sampling_ratio=1).item() == 15.0
    assert roi_align(x, torch.tensor([[0, 4.0, 4.0, 6.0, 6.0]], dtype=F64), 1, sampling_ratio=1).item() == 0.0
    assert roi_align(x, torch.tensor([[0, 1.0, -1.0, 2.0, 0.0]], dtype=F64), 1, sampling_ratio=1).item() == 1.5
    assert roi_align(x, torch.tensor([[0, 3.0, 3.0, 5.0, 5.0]], dtype=F64), 1, sampling_ratio=1).item() == 15.0
    assert roi_align(x + 1, torch.tensor([[0, -2.0, -2.0, 0.0, 0.0]], dtype=F64), 1, sampling_ratio=1).item() == 1.0
    # the batch index is truncated, as C's int cast does: 0.9 is image 0
    two = torch.stack([x[0], x[0] + 100])
    assert roi_pool(two, torch.tensor([[0.9, 0.0, 0.0, 3.0, 3.0]], dtype=F64), 1).item() == 15.0


# ---------------------------------------------------------------------------- against the references
@pytest.mark.parametrize("scale", SCALES, ids=["1", "1/2", "1/16"])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_roi_pool_matches_the_reference(scale: float, size):
    x = feature_map().requires_grad_()
    boxes = boxes_for(scale)
    ph, pw = pair(size)
    grad_out = torch.linspace(-1, 2, len(boxes) * 2 * ph * pw, dtype=F64).reshape(len(boxes), 2, ph, pw)
    want, want_grad = ref_roi_pool(x.detach(), boxes.tolist(), ph, pw, scale, grad_out)
    got = roi_pool(x, boxes, size, spatial_scale=scale)
    assert got.shape == (len(boxes), 2, ph, pw) and got.dtype == F64
    close(got, want)
    got.backward(grad_out)
    close(x.grad, want_grad)


@pytest.mark.parametrize("aligned", [False, True], ids=["legacy", "aligned"])
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
@pytest.mark.parametrize("scale", SCALES, ids=["1", "1/2", "1/16"])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_roi_align_matches_the_reference(size, scale: float, sampling_ratio: int, aligned: bool):
    x = feature_map().requires_grad_()
    boxes = boxes_for(scale)
    ph, pw = pair(size)
    grad_out = torch.linspace(-1, 2, len(boxes) * 2 * ph * pw, dtype=F64).reshape(len(boxes), 2, ph, pw)
    want, want_grad = ref_roi_align(x.detach(), boxes.tolist(), ph, pw, scale, sampling_ratio, aligned, grad_out)
    got = roi_align(x, boxes, size, spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
    assert got.shape == (len(boxes), 2, ph, pw) and got.dtype == F64
    close(got, want)
    got.backward(grad_out)
    close(x.grad, want_grad)


def test_aligned_keeps_negative_rois_and_they_give_zero():
    """aligned=True skips the minimum size of 1: a box with x2 < x1 has a negative grid and gives 0."""
    x = feature_map()
    boxes = torch.tensor([[0, 3.0, 2.0, 1.0, 1.0], [1, 4.0, 1.0, 2.0, 3.0]], dtype=F64)
    assert roi_align(x, boxes, 2, aligned=True).abs().sum().item() == 0.0
    assert roi_align(x, boxes, 2, aligned=False).abs().sum().item() > 0.0
    want, _ = ref_roi_align(x, boxes.tolist(), 2, 2, 1.0, 2, True, torch.zeros(2, 2, 2, 2, dtype=F64))
    close(roi_align(x, boxes, 2, sampling_ratio=2, aligned=True), want)  # a fixed grid samples backwards


def test_a_list_of_per_image_boxes_is_the_k_by_5_tensor():
    x = feature_map()
    boxes = boxes_for(0.5)
    per_image = [boxes[boxes[:, 0] == i, 1:] for i in range(2)]
    in_order = torch.cat(
        [torch.cat([torch.full((len(b), 1), float(i), dtype=F64), b], 1) for i, b in enumerate(per_image)]
    )
    close(roi_pool(x, per_image, (2, 3), 0.5), roi_pool(x, in_order, (2, 3), 0.5))
    close(roi_align(x, per_image, (2, 3), 0.5, 2, True), roi_align(x, in_order, (2, 3), 0.5, 2, True))
    # an image without boxes (0 x 4) takes no rows; a tuple works as a list
    empty_first = (torch.zeros(0, 4, dtype=F64), per_image[1])
    close(roi_align(x, empty_first, 2), roi_align(x, in_order[in_order[:, 0] == 1], 2))


@pytest.mark.parametrize("fn", [roi_pool, roi_align], ids=["pool", "align"])
def test_no_boxes_give_an_empty_result_that_backpropagates(fn):
    x = feature_map().requires_grad_()
    out = fn(x, torch.zeros(0, 5, dtype=F64), (2, 3))
    assert out.shape == (0, 2, 2, 3) and out.dtype == F64
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum().item() == 0.0
    assert fn(x, [torch.zeros(0, 4, dtype=F64), torch.zeros(0, 4, dtype=F64)], 2).shape == (0, 2, 2, 2)


def test_float32_runs_in_float32_and_agrees():
    x = feature_map()
    boxes = boxes_for(1 / 16)
    for fn, kw in ((roi_pool, {}), (roi_align, {"sampling_ratio": -1, "aligned": True})):
        got = fn(x.float(), boxes.float(), (2, 3), 1 / 16, **kw)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), fn(x, boxes, (2, 3), 1 / 16, **kw), atol=1e-4, rtol=1e-5)
    # float64 boxes with a float32 map are converted to the map's dtype, as the kernels need them to be
    assert roi_align(x.float(), boxes, 2, 1 / 16).dtype == torch.float32


def test_gradcheck():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 2, 4, 5, dtype=F64, generator=g).requires_grad_()
    boxes = torch.tensor([[0, 0.3, 0.2, 3.1, 2.7], [1, -0.8, 1.1, 5.6, 4.4], [1, 2.0, 2.0, 1.0, 1.0]], dtype=F64)
    for aligned in (False, True):
        assert torch.autograd.gradcheck(lambda t, a=aligned: roi_align(t, boxes, (2, 3), 1.0, -1, a), (x,))
    assert torch.autograd.gradcheck(lambda t: roi_align(t, boxes, 2, 1.0, 2), (x,))
    assert torch.autograd.gradcheck(lambda t: roi_pool(t, boxes, 2), (x,))  # distinct values: a clear argmax


def test_roi_pool_ties_and_the_kernels_starting_maximum():
    """Ties send the gradient to the first pixel (row-major); NaNs are skipped; a bin of -inf gives -FLT_MAX."""
    x = torch.ones(1, 1, 3, 3, dtype=F64, requires_grad=True)
    roi_pool(x, torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]], dtype=F64), 1).sum().backward()
    assert x.grad.flatten().tolist() == [1.0] + [0.0] * 8
    y = torch.tensor([[[[float("nan"), 2.0], [-float("inf"), 1.0]]]], dtype=F64)
    assert roi_pool(y, torch.tensor([[0, 0.0, 0.0, 1.0, 1.0]], dtype=F64), 1).item() == 2.0
    z = torch.full((1, 1, 2, 2), -float("inf"), dtype=F64, requires_grad=True)
    out = roi_pool(z, torch.tensor([[0, 0.0, 0.0, 1.0, 1.0], [0, 5.0, 5.0, 6.0, 6.0]], dtype=F64), 1)
    assert out.flatten().tolist() == [-FLT_MAX, 0.0]
    out.sum().backward()
    assert z.grad.abs().sum().item() == 0.0


def test_roi_align_off_the_map_samples_read_pixel_0_0_with_weight_0():
    """As the kernel's precomputation: 0 * x[0, 0], so an infinity there turns an off-the-map sample into NaN."""
    x = torch.zeros(1, 1, 4, 4, dtype=F64)
    x[0, 0, 0, 0] = float("inf")
    boxes = torch.tensor([[0, 10.0, 10.0, 12.0, 12.0], [0, 1.0, 10.0, 2.0, 12.0], [0, 1.0, 1.0, 2.0, 2.0]], dtype=F64)
    out = roi_align(x, boxes, 1, sampling_ratio=1).flatten()
    assert out[:2].isnan().all() and out[2].item() == 0.0


def test_bad_arguments_are_value_errors():
    x = feature_map()
    for fn in (roi_pool, roi_align):
        with pytest.raises(ValueError, match="K x 5"):
            fn(x, torch.zeros(3, 4, dtype=F64), 2)
        with pytest.raises(ValueError, match="K_i x 4"):
            fn(x, [torch.zeros(3, 5, dtype=F64)], 2)
        with pytest.raises(ValueError, match="outside the batch"):
            fn(x, torch.tensor([[2, 0.0, 0.0, 1.0, 1.0]], dtype=F64), 2)
        with pytest.raises(ValueError, match="outside the batch"):
            fn(x, torch.tensor([[-1, 0.0, 0.0, 1.0, 1.0]], dtype=F64), 2)
        with pytest.raises(ValueError, match="output_size"):
            fn(x, torch.zeros(1, 5, dtype=F64), (1, 2, 3))
        with pytest.raises(ValueError, match="output_size"):
            fn(x, torch.zeros(1, 5, dtype=F64), 2.0)
        with pytest.raises(ValueError, match="N x C x H x W"):
            fn(x[0], torch.zeros(1, 5, dtype=F64), 2)


def test_archdsl_detect_exports_them():
    assert detect.roi_pool is roi.roi_pool and detect.roi_align is roi.roi_align
    assert {"roi_pool", "roi_align"} <= set(detect.__all__)


@pytest.mark.parametrize("op", ["pool", "align"])
def test_boxes_in_parts_give_the_same_values_and_gradients(op, monkeypatch):
    """The boxes are gathered in parts of at most CHUNK_VALUES values: one box at a time gives what all at once
    gives, forward and backward."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 12, 10, generator=gen, dtype=torch.float64)
    boxes = torch.tensor([[0, 0.0, 0, 9, 11], [1, 2.5, 1, 7, 6], [0, 3.0, 4, 3.5, 4.2], [1, -2.0, 5, 14, 20]])

    def run():
        xx = x.clone().requires_grad_()
        f = roi.roi_pool(xx, boxes, (3, 2), 0.5) if op == "pool" else roi.roi_align(xx, boxes, 3, 0.5, -1, True)
        f.sum().backward()
        return f.detach(), xx.grad

    whole = run()
    monkeypatch.setattr(roi, "CHUNK_VALUES", 1)
    parts = run()
    if op == "pool":  # maxima: the same values
        assert torch.equal(whole[0], parts[0]) and torch.equal(whole[1], parts[1])
    else:  # a part pads its grid to its own largest box: sums of other lengths, equal to rounding
        torch.testing.assert_close(parts, whole, rtol=1e-13, atol=1e-13)
