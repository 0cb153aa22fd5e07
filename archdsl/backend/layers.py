"""The few torch modules that ``torch.nn`` lacks; compiled models use them and generated
source (``archdsl compile -o``) inlines them, so that source still needs only torch."""
import torch
from torch import nn

from .detect import rpn_anchors
from .proposals import proposals
from .roi import roi_align, roi_pool


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's input with probability p and scale the
    survivors by 1/(1-p); at eval the identity."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


class MeanJoin(nn.Module):
    """FractalNet's join: the element-wise mean of its inputs. In training each input is dropped
    with probability ``drop`` (local drop-path), keeping at least one; at eval all are averaged."""

    def __init__(self, drop: float = 0.0):
        super().__init__()
        self.drop = drop

    def forward(self, *xs):
        if not self.training or self.drop == 0.0:
            return torch.stack(xs).mean(0)
        # tensor ops only (no data-dependent Python branches), so torch.compile(fullgraph=True) traces it
        n = len(xs)
        keep = torch.rand(n, device=xs[0].device) >= self.drop
        pick = torch.nn.functional.one_hot(torch.randint(n, (), device=xs[0].device), n).bool()
        keep = keep | (pick & ~keep.any())  # none kept: keep one at random
        weights = keep.to(xs[0].dtype) / keep.sum()
        return (torch.stack(xs) * weights.view(n, *[1] * xs[0].dim())).sum(0)

    def extra_repr(self):
        return f"drop={self.drop}"


class InputSizeError(ValueError):
    """An input the compiled network does not take: its message names the network, the shape it got,
    the sizes it accepts and the nearest ones."""


class InputCheck(nn.Module):
    """The network's input contract, checked at the start of ``forward``: the
    rank, the channels, and a height and a width each in an eventually periodic set of sizes, given as
    [period, start, residues, small]: n < start is accepted when it is in small, n >= start when
    n % period is in residues. Costs a few integer tests per call; ``enabled = False`` turns it off.
    torch.export (and the ONNX exporter built on it) skips it: exported sizes are symbolic there."""

    h_residues: list[int]  # typed for TorchScript, which cannot tell an empty list's type
    h_small: list[int]
    w_residues: list[int]
    w_small: list[int]

    def __init__(self, network: str, rank: int, channels: int, height: list, width: list, text: str):
        super().__init__()
        self.network, self.rank, self.channels, self.text = network, rank, channels, text
        self.h_period, self.h_start, self.h_residues, self.h_small = height[0], height[1], height[2], height[3]
        self.w_period, self.w_start, self.w_residues, self.w_small = width[0], width[1], width[2], width[3]
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            if torch.compiler.is_exporting():
                return x
        if self.enabled and not self.admits(x):
            if not torch.jit.is_scripting():
                if torch.compiler.is_compiling():  # the graph cannot format sizes: the contract alone
                    raise InputSizeError(self.network + " takes N x " + self.text + "; got another input")
            raise InputSizeError(self.message(x))
        return x

    def admits(self, x: torch.Tensor) -> bool:
        if x.dim() != self.rank + 1 or x.shape[1] != self.channels:
            return False
        if self.rank != 3:
            return True
        return (self._member(x.shape[2], self.h_period, self.h_start, self.h_residues, self.h_small)
                and self._member(x.shape[3], self.w_period, self.w_start, self.w_residues, self.w_small))

    def message(self, x: torch.Tensor) -> str:
        got = "x".join([str(int(d)) for d in x.shape])
        text = f"{self.network} takes N x {self.text}; got an input of {got}"
        if self.rank == 3 and x.dim() == 4 and x.shape[1] == self.channels:
            hs = self._near(int(x.shape[2]), self.h_period, self.h_start, self.h_residues, self.h_small)
            ws = self._near(int(x.shape[3]), self.w_period, self.w_start, self.w_residues, self.w_small)
            sizes: list[str] = []
            for h in hs:
                for w in ws:
                    sizes.append(str(h) + "x" + str(w))
            if len(sizes) > 0:
                text = text + "; the nearest sizes that work: " + ", ".join(sizes)
        return text

    def _member(self, n: int, period: int, start: int, residues: list[int], small: list[int]) -> bool:
        if n < start:
            return n in small
        return n % period in residues

    def _near(self, n: int, period: int, start: int, residues: list[int], small: list[int]) -> list[int]:
        """The accepted sizes next to n: n itself, or the largest below and the smallest above."""
        if self._member(n, period, start, residues, small):
            return [n]
        out: list[int] = []
        periodic = len(residues) > 0 and n - period >= start  # a member lies within one period below
        top = n - 1 if periodic else min(n - 1, start + period)  # else none lies above start + period
        for m in range(top, n - period - 1 if periodic else 0, -1):
            if self._member(m, period, start, residues, small):
                out.append(m)
                break
        for m in range(n + 1, max(n, start) + period + 1):
            if self._member(m, period, start, residues, small):
                out.append(m)
                break
        return out

    def extra_repr(self) -> str:
        return f"{self.network}: N x {self.text}"



class LayerNorm2d(nn.LayerNorm):
    """Layer normalisation over the channels of an N x C x H x W map (ConvNeXt's, as torchvision writes
    it): each position's C values normalised, then scaled and shifted per channel."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class FrozenBatchNorm2d(nn.Module):
    """Batch normalisation with its statistics and affine parameters fixed (torchvision's detection
    backbones): four buffers, no parameters, no num_batches_tracked."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = self.weight.reshape(shape) * (self.running_var.reshape(shape) + self.eps).rsqrt()
        return x * scale + (self.bias.reshape(shape) - self.running_mean.reshape(shape) * scale)

    def extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"


def as_rois(boxes):
    """Boxes as the RoI functions take them: K x 5 rows (batch index, x1, y1, x2, y2) as they are; an
    N x R x 4 batch of R boxes per image (an ``input boxes (R, 4)``) as a list of R x 4 tensors, one per image."""
    return boxes if boxes.dim() == 2 else list(boxes.unbind(0))


class RoIPool(nn.Module):
    """Fast R-CNN's RoI max pooling (archdsl.detect.roi_pool): K x C x h x w, a row per box."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, x, boxes):
        return roi_pool(x, as_rois(boxes), self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(nn.Module):
    """Mask R-CNN's RoI Align (archdsl.detect.roi_align): K x C x h x w, a row per box."""

    def __init__(self, output_size, spatial_scale, sampling_ratio=-1, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, x, boxes):
        return roi_align(x, as_rois(boxes), self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")


class Proposals(nn.Module):
    """Faster R-CNN's proposals from the RPN's objectness logits (N x A x H x W) and box deltas (N x 4A x H x W)
    for the image batch ``image`` (for its size): K x 5 rows (batch index, x1, y1, x2, y2), at most
    ``post_nms_top_n`` per image, each image's in decreasing score (archdsl.detect.proposals). The anchors'
    stride is the image's size over the map's, per axis, as torchvision's AnchorGenerator takes it."""

    def __init__(self, sizes, ratios, pre_nms_top_n, post_nms_top_n, nms_thresh, min_size, score_thresh=0.0):
        super().__init__()
        self.sizes, self.ratios = sizes, ratios
        self.pre_nms_top_n, self.post_nms_top_n, self.nms_thresh = pre_nms_top_n, post_nms_top_n, nms_thresh
        self.min_size, self.score_thresh = min_size, score_thresh

    def forward(self, objectness, deltas, image):
        (h, w), (fh, fw) = image.shape[-2:], objectness.shape[-2:]
        anchors = rpn_anchors((fh, fw), (h // fh, w // fw), self.sizes, self.ratios, objectness.dtype)
        found = proposals(objectness, deltas, anchors.to(objectness.device), (h, w),
                          pre_nms_top_n=self.pre_nms_top_n, post_nms_top_n=self.post_nms_top_n,
                          nms_thresh=self.nms_thresh, score_thresh=self.score_thresh, min_size=self.min_size)
        rows = [torch.cat((torch.full_like(f["boxes"][:, :1], i), f["boxes"]), dim=1) for i, f in enumerate(found)]
        return torch.cat(rows, dim=0)

    def extra_repr(self):
        return (f"sizes={self.sizes}, ratios={self.ratios}, pre_nms_top_n={self.pre_nms_top_n}, "
                f"post_nms_top_n={self.post_nms_top_n}, nms_thresh={self.nms_thresh}")


CUSTOM = {"DropPath": DropPath, "MeanJoin": MeanJoin, "InputCheck": InputCheck, "LayerNorm2d": LayerNorm2d,
          "FrozenBatchNorm2d": FrozenBatchNorm2d, "RoIPool": RoIPool, "RoIAlign": RoIAlign, "Proposals": Proposals}
NEEDS = {"InputCheck": (InputSizeError,), "RoIPool": (as_rois,), "RoIAlign": (as_rois,)}  # what generated source
#                                                                                           must define before a class
# what generated source imports for a class: the region ops' work is archdsl.detect's (its only need beyond torch)
IMPORTS = {
    "RoIPool": "from archdsl.detect import roi_pool",
    "RoIAlign": "from archdsl.detect import roi_align",
    "Proposals": "from archdsl.detect import proposals, rpn_anchors",
}
