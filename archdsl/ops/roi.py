"""Region ops of two-stage detectors: RoI pooling (Fast R-CNN), RoI Align (Mask R-CNN) and the RPN's proposals
(Faster R-CNN). Their outputs have one row per region: ``rows`` is R, the regions per image.

The boxes are in input-image pixels. A RoI op maps them onto its feature map with the map's stride, which the
analysis knows (the receptive field's jump: 16 after VGG-16's four pools), so the spatial scale (1/16) is never
typed by hand. The run-time work is :mod:`archdsl.backend.roi` and :mod:`archdsl.backend.proposals`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import RF, Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape, pair, show_kernel, spatial
from .schema import Field, model_validator

if TYPE_CHECKING:
    from torch import fx

IntPair = int | tuple[int, int]
_BOXES = (
    "boxes come from an `input boxes (R, 4)` line (x1, y1, x2, y2 per box, R per image) or from a proposals op "
    "(one row per region)"
)


class RoIParams(Params):
    boxes: str  # the node with the boxes (written ``roi_pool(@proposals)``)
    size: IntPair = Field(default=7)  # output bins: h or (h, w)
    scale: float | None = Field(default=None, gt=0)  # boxes → map; None: 1 / the map's stride (the analysis')

    @model_validator(mode="after")
    def _check(self):
        if min(pair(self.size)) <= 0:
            raise ValueError("output size must be positive")
        return self


class _RoI(Op):
    """A RoI op: the feature map flows in through the chain, the boxes through a reference."""

    family = "pool"
    positional = ("boxes", "size")
    refs = ("boxes",)
    ref_data = 1  # the boxes are data: the output has a row per box
    boxes_field = "boxes"
    min_inputs = max_inputs = 2
    resizes = True
    module: str  # the torch module (archdsl/backend/layers.py)

    def infer(self, ins: list[Shape]) -> Shape:
        spatial(ins[0])
        self._regions(ins[1], 1)
        return (ins[0][0], *pair(self.p.size))

    def _regions(self, boxes: Shape, rows: int) -> int:
        """R: the boxes of one image, as the boxes' node holds them."""
        if len(boxes) == 2 and boxes[1] == 4 and rows == 1:
            return boxes[0]
        if boxes == (5,):
            return rows
        raise OpProblem(
            f"{self.name}(@{self.p.boxes}) needs boxes, got {fmt_shape(boxes)}"
            + (f" with {rows:,} rows per image" if rows > 1 else ""),
            _BOXES,
            "boxes",
        )

    def rows(self, rows: list[int], ins: list[Shape]) -> int:
        if rows[0] != 1:
            raise OpProblem(
                f"it pools an image's feature map, not per-region rows ({rows[0]:,} per image)",
                "give it the backbone's map: @backbone - roi_pool(@proposals, 7)",
            )
        return self._regions(ins[1], rows[1])

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        """The map's field: a bin's own reach depends on its box. The map's stride must be the same down and
        across, since one spatial scale maps the boxes onto it."""
        jump = rfs[0].jump
        if self.p.scale is not None and jump != (1, 1):
            raise OpProblem(
                f"scale={self.p.scale:g} is given, but the map's stride is known: {jump[0]}, so its scale is "
                f"1/{jump[0]}",
                "leave scale out; it is for a map that is the network's input, whose stride to the image is not known",
                "scale",
            )
        if jump[0] != jump[1]:
            raise OpProblem(
                f"the feature map's stride is {jump[0]} down but {jump[1]} across: one spatial scale cannot map "
                "the boxes onto it",
                "pool a map whose stride is the same along both axes",
            )
        return rfs[0]

    def spatial_scale(self, g: Emitter) -> float:
        return self.p.scale if self.p.scale is not None else 1.0 / g.stride(g.inputs[0])[0]

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.module(ModuleSpec(self.module, (pair(self.p.size), self.spatial_scale(g), *self._more())), args)

    def _more(self) -> tuple:
        return ()

    def describe(self) -> str:
        scale = f", scale={self.p.scale:g}" if self.p.scale is not None else ""
        return f"{self.name}(@{self.p.boxes}, {show_kernel(self.p.size)}{scale})"

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"{cls.name.replace('_', ' ')} {show_kernel(args['size'])}"


class RoIPool(_RoI):
    """Fast R-CNN's RoI max pooling: each box, mapped onto the feature map, is split into h x w bins and each bin
    max-pooled (torchvision.ops.roi_pool's rounding; archdsl.detect.roi_pool)."""

    name = "roi_pool"
    aliases = ("roipool", "roi_max_pool", "roi_pooling")
    reference = (
        "`boxes` (a reference `@label`), `size`=7 (a number or a pair), `scale`=1/the map's stride",
        "`boxes, size`",
        "RoI max pooling of the map over each box, at the map's stride (Fast R-CNN); one row per box",
    )
    Params = RoIParams
    module = "RoIPool"


class RoIAlignParams(RoIParams):
    sampling_ratio: int = -1  # samples per bin along each axis; <= 0: adaptive, ceil(box / size)
    aligned: bool = False  # shift the boxes by half a pixel (Detectron2); False: the Mask R-CNN paper's code


class RoIAlign(_RoI):
    """Mask R-CNN's RoI Align: each bin the average of bilinear samples, no rounding (torchvision.ops.roi_align;
    archdsl.detect.roi_align)."""

    name = "roi_align"
    aliases = ("roialign",)
    reference = (
        "`boxes` (a reference `@label`), `size`=7, `sampling_ratio`=-1 (adaptive), `aligned`=false, "
        "`scale`=1/the map's stride",
        "`boxes, size`",
        "RoI Align: bilinear samples averaged per bin, at the map's stride (Mask R-CNN); one row per box",
    )
    Params = RoIAlignParams
    module = "RoIAlign"

    def _more(self) -> tuple:
        return (self.p.sampling_ratio, self.p.aligned)

    def describe(self) -> str:
        scale = f", scale={self.p.scale:g}" if self.p.scale is not None else ""
        return (
            f"roi_align(@{self.p.boxes}, {show_kernel(self.p.size)}, sampling_ratio={self.p.sampling_ratio}, "
            f"aligned={'true' if self.p.aligned else 'false'}{scale})"
        )


class ProposalsParams(Params):
    deltas: str  # the RPN's box deltas, 4A x H x W (written ``proposals(@bbox_pred)``)
    image: str  # the input image, for its size (the network's input unless given)
    sizes: tuple[int, ...] = (128, 256, 512)  # anchor sizes, pixels (square root of the area)
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # anchor aspect ratios, height / width
    pre_nms: int = Field(default=1000, gt=0)  # the highest-scoring anchors decoded per image
    post_nms: int = Field(default=1000, gt=0)  # the most proposals kept per image after NMS: R
    iou: float = Field(default=0.7, gt=0, le=1)  # NMS threshold
    min_size: float = Field(default=1e-3, ge=0)  # boxes with a side below it (pixels) are dropped
    score: float = Field(default=0.0, ge=0, le=1)  # proposals scoring below it are dropped

    @model_validator(mode="after")
    def _check(self):
        if not self.sizes or not self.ratios or min(self.sizes) <= 0 or min(self.ratios) <= 0:
            raise ValueError("anchor sizes and ratios must be positive, at least one of each")
        return self


class Proposals(Op):
    """Faster R-CNN's region proposals from its RPN: anchors at the map's stride, the top ``pre_nms`` objectness
    logits decoded by their deltas, clipped to the image, small boxes dropped, NMS, the first ``post_nms`` kept
    (torchvision's RegionProposalNetwork at inference, one feature level; archdsl.detect.proposals). The output
    has one row per proposal: (batch index, x1, y1, x2, y2), in image pixels, at most ``post_nms`` per image."""

    name = "proposals"
    aliases = ("rpn_proposals", "region_proposals")
    reference = (
        "`deltas` (a reference to the RPN's box deltas), `image`=the input, `sizes`=(128, 256, 512), "
        "`ratios`=(0.5, 1, 2), `pre_nms`=1000, `post_nms`=1000, `iou`=0.7, `min_size`=0.001, `score`=0",
        "`deltas`",
        "the RPN's objectness and deltas → boxes: decode, clip, NMS; one row per region, at most `post_nms`",
    )
    family = "io"
    Params = ProposalsParams
    positional = ("deltas",)
    refs = ("deltas", "image")
    ref_data = 1  # the deltas are data; the image lends its size
    ref_defaults = {"image": "input"}
    min_inputs = max_inputs = 3

    @property
    def anchors(self) -> int:
        """A: anchors per map position."""
        return len(self.p.sizes) * len(self.p.ratios)

    def infer(self, ins: list[Shape]) -> Shape:
        logits, deltas, image = ins
        a = self.anchors
        if len(logits) != 3 or logits[0] != a:
            raise OpProblem(
                f"needs objectness logits of {a} x H x W ({len(self.p.sizes)} sizes x {len(self.p.ratios)} ratios), "
                f"got {fmt_shape(logits)}",
                "feed it the RPN's cls_logits, one channel per anchor (conv1-{k})",
            )
        if deltas != (4 * a, *logits[1:]):
            raise OpProblem(
                f"needs box deltas of {4 * a}x{logits[1]}x{logits[2]} beside its {fmt_shape(logits)} objectness, "
                f"got {fmt_shape(deltas)} from @{self.p.deltas}",
                "the deltas are the RPN's bbox_pred: four per anchor (conv1-{4 * k})",
                "deltas",
            )
        spatial(image)
        return (5,)

    def rows(self, rows: list[int], ins: list[Shape]) -> int:
        if any(r != 1 for r in rows):
            raise OpProblem(
                "it proposes regions from an image's maps, not from per-region rows",
                "feed it the RPN's objectness and deltas, which come before any roi_pool",
            )
        return self.p.post_nms

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return RF.merge(rfs[:2])

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        p = self.p
        settings = (tuple(p.sizes), tuple(float(r) for r in p.ratios), p.pre_nms, p.post_nms, p.iou, p.min_size)
        return g.module(ModuleSpec("Proposals", (*settings, p.score)), args)

    def describe(self) -> str:
        p = self.p
        return (
            f"proposals(@{p.deltas}, sizes={p.sizes}, ratios={p.ratios}, pre_nms={p.pre_nms}, "
            f"post_nms={p.post_nms}, iou={p.iou})"
        ).replace(",)", ")")

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"proposals ≤{args['post_nms']}"
