"""Pooling: max and average (incl. ceil mode), global and adaptive average pooling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .activation import Identity
from .base import (
    RF,
    Emitter,
    ModuleSpec,
    Op,
    OpProblem,
    Params,
    Shape,
    fmt_shape,
    numel,
    pair,
    show_kernel,
    show_stride,
    spatial,
)
from .schema import Field, model_validator

if TYPE_CHECKING:
    from torch import fx

IntPair = int | tuple[int, int]


class PoolParams(Params):
    k: IntPair = 2
    s: IntPair | None = None  # None → the kernel size, as in torch
    p: IntPair = 0
    ceil: bool = False

    @model_validator(mode="after")
    def _check(self):
        if min(pair(self.k)) <= 0 or (self.s is not None and min(pair(self.s)) <= 0):
            raise ValueError("kernel and stride must be positive")
        if min(pair(self.p)) < 0:
            raise ValueError("padding must be >= 0")
        if any(2 * p > k for p, k in zip(pair(self.p), pair(self.k))):
            raise ValueError("padding must be at most half the kernel size")
        if self.s is None:
            object.__setattr__(self, "s", self.k)
        return self

    def stride(self) -> tuple[int, int]:
        return pair(self.s)


def pool_size(n: int, k: int, s: int, p: int, ceil: bool, d: int = 1) -> int:
    """torch's pooling output size, including the ceil-mode rule that a window must start inside."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


class _Pool(Op):
    Params = PoolParams
    positional = ("k", "s", "p")
    slash, shorthand = "s", "k"

    def infer(self, ins: list[Shape]) -> Shape:
        hw = spatial(ins[0])
        out = tuple(
            pool_size(n, k, s, p, self.p.ceil)
            for n, k, s, p in zip(hw, pair(self.p.k), self.p.stride(), pair(self.p.p))
        )
        if any(n < 1 for n in out):  # per axis: also decides symbolic sizes (archdsl.ir.symbolic)
            raise OpProblem(
                f"input {fmt_shape(ins[0])} is smaller than the {fmt_shape(pair(self.p.k))} window: "
                f"the output would be {fmt_shape(out)}",
                "use a larger input or remove a downsampling layer before it",
                small=True,
            )
        return (ins[0][0], *out)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0].window(pair(self.p.k), self.p.stride())

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(ins[0])  # one comparison or add per input element

    def _kw(self):
        return dict(kernel_size=pair(self.p.k), stride=self.p.stride(), padding=pair(self.p.p), ceil_mode=self.p.ceil)

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"{cls.name} {show_kernel(args['k'])}{show_stride(args.get('s'))}"


class MaxPoolParams(PoolParams):
    indices: bool = False  # keep the argmax positions for a later unpool(@this) (DeconvNet, SegNet)


class MaxPool(_Pool):
    """Max pooling; ``POOL``, ``maxpool`` = 2x2 stride 2; ``maxpool(3, s=2)``; ``pool3/2``.
    ``maxpool(indices=true)`` also keeps where each maximum came from, for ``unpool(@label)``."""

    name = "maxpool"
    reference = (
        "`k`=2, `s`=auto (=k), `p`=0, `ceil`=false, `indices`=false (keep the argmax positions for `unpool`)",
        "`maxpoolN` → k; `/N` → s; `k, s, p`",
        "max pooling",
    )
    family = "pool"
    aliases = ("pool", "max_pool", "maxpool2d", "mpool")
    Params = MaxPoolParams
    saves = "input"

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("MaxPool2d", (), self._kw() | ({"return_indices": True} if self.p.indices else {}))

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        y = g.module(self.torch(ins, out), args)
        if not self.p.indices:
            return y
        g.keep(g.current, "indices", g.getitem(y, 1))  # for unpool(@this)
        return g.getitem(y, 0)


class UnpoolParams(Params):
    ref: str  # the max-pool whose indices say where each value goes (``unpool(@pool5)``)


class Unpool(Op):
    """Max unpooling (Zeiler & Fergus; Noh et al.'s DeconvNet): each value goes back to the position
    its max-pool ``@label`` (written ``maxpool(indices=true)``) took it from; the rest are zeros. The
    output has the size of that pool's input."""

    name = "unpool"
    reference = (
        "`ref` (a reference to a `maxpool(indices=true)`)",
        "`ref`",
        "max unpooling: each value goes back where its pool took it from; output = the pool's input size (DeconvNet)",
    )
    upsampling = True
    resizes = True
    family = "upsampling"
    aliases = ("maxunpool", "max_unpool", "unpooling")
    Params = UnpoolParams
    positional = ("ref",)
    refs = ("ref",)
    ref_source = True
    min_inputs = max_inputs = 3  # the map, the pool (for its indices), the pool's input (for its size)

    def infer(self, ins: list[Shape]) -> Shape:
        x, pooled, before = ins
        if x != pooled:
            raise OpProblem(
                f"unpool(@{self.p.ref}) needs a map of the pool's output shape {fmt_shape(pooled)}, got {fmt_shape(x)}",
                "unpool mirrors its pool: put it where the decoder has the pool's channels and size",
            )
        return (x[0], *before[1:])

    def check_ref(self, field: str, target: Op) -> None:
        if target.name != "maxpool" or not target.p.indices:
            raise OpProblem(
                f"unpool(@{self.p.ref}) needs a max-pool that keeps its indices, not a {target.name}",
                "write the pool as maxpool(indices=true)",
                field,
            )

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0]

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        pool = g.inputs[1]
        indices = g.kept(pool, "indices")
        if indices is None:
            raise RuntimeError(f"unpool(@{self.p.ref}): the pool was not written maxpool(indices=true)")
        op = g.op_of(pool)
        spec = ModuleSpec("MaxUnpool2d", (), dict(kernel_size=pair(op.p.k), stride=op.p.stride(), padding=pair(op.p.p)))
        return g.module(spec, [args[0], indices, g.spatial_size(args[2])])  # the pool's input size, at run time

    def describe(self) -> str:
        return f"unpool(@{self.p.ref})"


class AvgPoolParams(PoolParams):
    count_include_pad: bool = True


class AvgPool(_Pool):
    """Average pooling (LeNet's subsampling)."""

    name = "avgpool"
    reference = (
        "`k`=2, `s`=auto (=k), `p`=0, `ceil`=false, `count_include_pad`=true",
        "`avgpoolN` → k; `/N` → s; `k, s, p`",
        "average pooling (LeNet's subsampling)",
    )
    family = "pool"
    aliases = ("avg_pool", "avgpool2d", "apool", "subsample")
    Params = AvgPoolParams

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("AvgPool2d", (), self._kw() | {"count_include_pad": self.p.count_include_pad})


class AdaptiveParams(Params):
    size: IntPair = Field(default=1)

    @model_validator(mode="after")
    def _check(self):
        if min(pair(self.size)) <= 0:
            raise ValueError("output size must be positive")
        return self


class AdaptiveAvgPool(Op):
    """Adaptive average pooling to a fixed output size (torchvision's ``avgpool`` before the classifier)."""

    name = "adaptive_avgpool"
    reference = (
        "`size`=1 (a number or a pair)",
        "`size`",
        "average pooling to a fixed output size",
    )
    resizes = True
    family = "pool"
    aliases = ("adaptiveavgpool", "adaptive_avg_pool", "adaptive_pool")
    Params = AdaptiveParams
    positional = ("size",)

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(ins[0])

    def infer(self, ins: list[Shape]) -> Shape:
        spatial(ins[0])
        return (ins[0][0], *pair(self.p.size))

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        (h, w), (oh, ow) = ins[0][1:], out[1:]
        # each output cell averages ceil(n / m) inputs at most, spaced n / m apart
        k = (-(-h // oh), -(-w // ow))
        s = (max(1, h // oh), max(1, w // ow))
        return rfs[0].window(k, s)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("AdaptiveAvgPool2d", (pair(self.p.size),))

    def convolutional(
        self, ins: list[Shape], out: Shape, kernel: tuple[int, int] | None
    ) -> tuple[Op | None, tuple[int, int] | None]:
        """Gone where it does nothing at the training size; elsewhere it has no sliding-window form."""
        if out != ins[0]:
            raise OpProblem(
                f"it pools {fmt_shape(ins[0])} to {fmt_shape(out)}; only an adaptive pool that does "
                "nothing at the training size can go"
            )
        return Identity.make({}), None

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"adaptive avgpool {show_kernel(args['size'])}"


class GlobalAvgPool(Op):
    """Global average pooling: CxHxW → Cx1x1."""

    name = "gap"
    reference = (
        "—",
        "—",
        "global average pooling: CxHxW → Cx1x1",
    )
    resizes = True
    family = "pool"
    aliases = ("global_avgpool", "globalavgpool", "global_avg_pool", "global_pool")

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(ins[0])

    def infer(self, ins: list[Shape]) -> Shape:
        spatial(ins[0])
        return (ins[0][0], 1, 1)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0].window(ins[0][1:], ins[0][1:])

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("AdaptiveAvgPool2d", ((1, 1),))

    def convolutional(
        self, ins: list[Shape], out: Shape, kernel: tuple[int, int] | None
    ) -> tuple[Op | None, tuple[int, int] | None]:
        """An average pool over the training size's window, stride 1."""
        return AvgPool.make({"k": tuple(ins[0][1:]), "s": 1}), None

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return "global avgpool"
