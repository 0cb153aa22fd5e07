"""Spatial resizing: crop and resize to a reference, upsampling, zero padding, subsampling; channel padding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .base import RF, Emitter, ModuleSpec, Op, OpProblem, Params, Shape, numel, show_number, show_stride, spatial
from .schema import Field, model_validator

if TYPE_CHECKING:
    from torch import fx


class CropParams(Params):
    ref: str  # the node whose spatial size to crop to (written ``crop(@label)``)
    offset: int | tuple[int, int] | None = None  # top-left corner (FCN's Caffe crops); None: centred


class Crop(Op):
    """Center crop to the height and width of another node (UNet's copy-and-crop, FCN's fuse)."""

    name = "crop"
    reference = (
        "`ref` (a reference `@label`), `offset`=centred (or the top-left corner, a number or a pair: "
        "FCN's Caffe crops)",
        "`ref`",
        "center crop to the height and width of `@label`",
    )
    minor = True
    resizes = True
    family = "spatial"
    aliases = ("center_crop", "crop_to")
    Params = CropParams
    positional = ("ref",)
    refs = ("ref",)
    min_inputs = max_inputs = 2

    def _box(self, ins: list[Shape]) -> tuple[int, int, int, int]:
        (h, w), (th, tw) = spatial(ins[0]), spatial(ins[1])
        if th > h or tw > w:
            raise OpProblem(
                f"cannot crop {h}x{w} to the larger {th}x{tw} of @{self.p.ref}",
                "crop the larger map to the smaller one",
            )
        if self.p.offset is None:
            return (h - th) // 2, (w - tw) // 2, th, tw
        top, left = self._offset(0), self._offset(1)
        if top < 0 or left < 0 or top + th > h or left + tw > w:
            raise OpProblem(
                f"a {th}x{tw} crop at offset ({top}, {left}) does not fit in {h}x{w}",
                f"offsets run from 0 to ({h - th}, {w - tw}) here",
            )
        return top, left, th, tw

    def infer(self, ins: list[Shape]) -> Shape:
        top, left, th, tw = self._box(ins)
        return (ins[0][0], th, tw)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0]

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        # the box is computed from the tensors' sizes at run time, so the model is right at every size
        # its input contract admits (the analysis checked that the crop fits at each of them)
        x, ref = args
        for dim, offset in ((2, self._offset(0)), (3, self._offset(1))):
            size = g.size(ref, dim)
            start = offset if offset is not None else g.arith("floordiv", g.arith("sub", g.size(x, dim), size), 2)
            x = g.method("narrow", [x, dim, start, size])
        return x

    def _offset(self, axis: int) -> int | None:
        """The fixed offset along an axis (0: height, 1: width), or None for a centred crop."""
        if self.p.offset is None:
            return None
        return self.p.offset if isinstance(self.p.offset, int) else self.p.offset[axis]

    def describe(self) -> str:
        return f"crop(@{self.p.ref})" if self.p.offset is None else f"crop(@{self.p.ref}, offset={self.p.offset})"


class UpsampleParams(Params):
    scale: int = Field(default=2, gt=0)
    mode: Literal["nearest", "bilinear"] = "nearest"


class Upsample(Op):
    """Upsample by an integer factor (nearest or bilinear)."""

    name = "upsample"
    reference = (
        "`scale`=2, `mode`=nearest (or bilinear)",
        "`upN` → scale; `scale, mode`",
        "upsampling by an integer factor",
    )
    upsampling = True
    resizes = True
    family = "upsampling"
    aliases = ("up", "unpool_nearest", "resize")
    Params = UpsampleParams
    positional = ("scale", "mode")
    shorthand = "scale"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def infer(self, ins: list[Shape]) -> Shape:
        h, w = spatial(ins[0])
        return (ins[0][0], h * self.p.scale, w * self.p.scale)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return RF(rfs[0].size, tuple(j / self.p.scale for j in rfs[0].jump))

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        kw = {"scale_factor": float(self.p.scale), "mode": self.p.mode}
        return ModuleSpec("Upsample", (), kw | ({"align_corners": False} if self.p.mode == "bilinear" else {}))

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"upsample x{args['scale']}" + (" (bilinear)" if args.get("mode") == "bilinear" else "")


class ResizeToParams(Params):
    ref: str  # the node whose height and width to take (``resize_to(@input)``)
    mode: Literal["nearest", "bilinear"] = "bilinear"


class ResizeTo(Op):
    """Interpolate to the height and width of another node: torchvision's segmentation heads
    end in ``F.interpolate(x, size=input_size, mode="bilinear", align_corners=False)``."""

    name = "resize_to"
    reference = (
        "`ref` (a reference `@label`), `mode`=bilinear (or nearest)",
        "`ref, mode`",
        "interpolate to the height and width of `@label` (torchvision's segmentation heads)",
    )
    minor = True
    upsampling = True
    resizes = True
    family = "upsampling"
    aliases = ("interpolate_to", "upsample_to", "upsample_like")
    Params = ResizeToParams
    positional = ("ref", "mode")
    refs = ("ref",)
    min_inputs = max_inputs = 2

    def infer(self, ins: list[Shape]) -> Shape:
        spatial(ins[0])
        return (ins[0][0], *spatial(ins[1]))

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        (h, w), (oh, ow) = spatial(ins[0]), spatial(out)
        return RF(rfs[0].size, (rfs[0].jump[0] * h / oh, rfs[0].jump[1] * w / ow))

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        kw = {"size": g.spatial_size(args[1]), "mode": self.p.mode}
        if self.p.mode == "bilinear":
            kw["align_corners"] = False
        return g.function("interpolate", [args[0]], kw)

    def describe(self) -> str:
        return f"resize_to(@{self.p.ref}, mode={self.p.mode})"

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return "resize"


class PadParams(Params):
    p: int | tuple[int, int, int, int] = 1  # all sides, or (left, right, top, bottom) as in torch

    @model_validator(mode="after")
    def _check(self):
        if min(self.sides()) < 0:
            raise ValueError("padding must be >= 0")
        return self

    def sides(self) -> tuple[int, int, int, int]:
        return (self.p,) * 4 if isinstance(self.p, int) else tuple(self.p)


class ZeroPad(Op):
    """Zero padding around the map."""

    name = "zeropad"
    reference = (
        "`p`=1 (all sides, or `(left, right, top, bottom)`)",
        "`p...`",
        "zero padding",
    )
    minor = True
    resizes = True
    family = "spatial"
    aliases = ("pad", "zero_pad", "zeropad2d")
    Params = PadParams
    positional = ("p",)
    variadic = True

    def infer(self, ins: list[Shape]) -> Shape:
        h, w = spatial(ins[0])
        left, right, top, bottom = self.p.sides()
        return (ins[0][0], h + top + bottom, w + left + right)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("ZeroPad2d", (self.p.sides(),))

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"zeropad {show_number(args['p'])}" if not isinstance(args["p"], (list, tuple)) else "zeropad"


class DecimateParams(Params):
    s: int = Field(default=2, gt=0)


class Decimate(Op):
    """Keep every s-th row and column, ``x[:, :, ::s, ::s]``: the parameter-free shortcut of the
    CIFAR ResNets (option A, with ``pad_channels``). (``subsample`` is LeNet's average pooling.)"""

    name = "decimate"
    reference = (
        "`s`=2",
        "`/N` → s; `s`",
        "keeps every s-th row and column, `x[:, :, ::s, ::s]` (CIFAR ResNet shortcut, option A)",
    )
    minor = True
    resizes = True
    family = "spatial"
    aliases = ("slice_stride", "every")
    Params = DecimateParams
    positional = ("s",)
    slash = "s"

    def infer(self, ins: list[Shape]) -> Shape:
        h, w = spatial(ins[0])
        return (ins[0][0], (h - 1) // self.p.s + 1, (w - 1) // self.p.s + 1)  # ceil(n / s), as a 1x1 window

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0].window((1, 1), (self.p.s, self.p.s))

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        s = self.p.s
        return (
            args[0]
            if s == 1
            else g.getitem(args[0], (slice(None), slice(None), slice(None, None, s), slice(None, None, s)))
        )

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"decimate{show_stride(args['s'])}"


class PadChannelsParams(Params):
    out: int = Field(gt=0)


class PadChannels(Op):
    """Zero channels appended evenly on both sides up to ``out`` channels (CIFAR ResNet option A:
    "the shortcut still performs identity mapping, with extra zero entries padded")."""

    name = "pad_channels"
    reference = (
        "`out`",
        "`-N` → out; `out`",
        "zero channels added evenly on both sides up to `out` (option A)",
    )
    minor = True
    family = "spatial"
    aliases = ("channel_pad", "padc", "zeropad_channels")
    Params = PadChannelsParams
    positional = ("out",)
    dash = "out"

    def _sides(self, ins: list[Shape]) -> tuple[int, int]:
        extra = self.p.out - ins[0][0]
        if extra < 0:
            raise OpProblem(f"cannot pad {ins[0][0]} channels down to {self.p.out}", "pad_channels only adds channels")
        return extra // 2, extra - extra // 2

    def infer(self, ins: list[Shape]) -> Shape:
        self._sides(ins)
        spatial(ins[0])
        return (self.p.out, *ins[0][1:])

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        before, after = self._sides(ins)
        return args[0] if before == after == 0 else g.function("pad", [args[0], (0, 0, 0, 0, before, after)])

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"pad channels to {args['out']}"
