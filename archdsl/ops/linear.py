"""Fully connected layers and shape changes: fc (auto-flatten), flatten, reshape."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Any

from .activation import Identity
from .base import RF, Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape, numel
from .schema import Field, field_validator

if TYPE_CHECKING:
    from torch import fx
from .conv import Conv


def _whole(rf: RF, shape: Shape) -> RF:
    """After a layer that sees the whole map, the receptive field covers all of it."""
    if len(shape) != 3:
        return rf
    return rf.window(shape[1:], shape[1:])


class FcParams(Params):
    out: int = Field(gt=0)
    bias: bool = True
    flatten: bool = True  # false: a linear layer over the last dimension at every position (channels-last)


class Fc(Op):
    """Fully connected layer; a CxHxW input is flattened first (``FC-4096``). ``flatten=false`` applies it
    at every position over the last dimension instead (``nn.Linear`` on a channels-last HxWxC map:
    ConvNeXt's pointwise layers), keeping the other dimensions."""

    name = "fc"
    reference = (
        "`out` (= `hidden`, or `classes` before an output, when omitted), `bias`=true, `flatten`=true",
        "`-N` → out; `out`",
        "fully connected; flattens a CxHxW input (`flatten=false`: over the last dimension at each position)",
    )
    family = "classifier"
    classes_field = "out"
    aliases = ("linear", "dense", "fully_connected")
    Params = FcParams
    positional = ("out",)
    dash = "out"
    var_defaults = {"out": "hidden"}
    learnable = True
    saves = "input"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) if self.p.bias else 0

    def _features(self, shape: Shape) -> int:
        """What one output value reads: the whole input, or (``flatten=false``) its last dimension."""
        return prod(shape) if self.p.flatten else shape[-1]

    def infer(self, ins: list[Shape]) -> Shape:
        return (self.p.out,) if self.p.flatten else (*ins[0][:-1], self.p.out)

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        w = {"weight": (self.p.out, self._features(ins[0]))}
        return w | ({"bias": (self.p.out,)} if self.p.bias else {})

    def macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * self._features(ins[0])

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return _whole(rfs[0], ins[0]) if self.p.flatten else rfs[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("Linear", (self._features(ins[0]), self.p.out), {"bias": self.p.bias})

    def convolutional(
        self, ins: list[Shape], out: Shape, kernel: tuple[int, int] | None
    ) -> tuple[Op | None, tuple[int, int] | None]:
        """The conv it already is: over the whole map it flattens (an HxW kernel), or a 1x1 over the
        vector a convolution made. Per position (``flatten=false``) it works on any size as it is."""
        if not self.p.flatten:
            if len(ins[0]) == 1:
                raise OpProblem("it works on a vector here (flatten=false), and has no convolutional form")
            return None, None
        if len(ins[0]) == 3:
            kernel = ins[0][1:]
        elif kernel is None:
            raise OpProblem("its input is a vector that no convolution made")
        return Conv.make({"out": self.p.out, "k": tuple(kernel), "p": 0, "bias": self.p.bias}), (1, 1)

    def convolutional_state(self, state: dict[str, Any], new: Op) -> dict[str, Any]:
        return {**state, "weight": state["weight"].reshape(new.p.out, -1, *new.p.k)}

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        x = args[0] if len(ins[0]) == 1 or not self.p.flatten else g.function("flatten", [args[0], 1])
        return g.module(self.torch(ins, out), [x])

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"fc {args['out']}" + ("" if args.get("flatten", True) else " per position")


class Flatten(Op):
    """CxHxW → (C*H*W)."""

    name = "flatten"
    reference = (
        "—",
        "—",
        "CxHxW → C·H·W",
    )
    minor = True
    family = "reshape"

    def infer(self, ins: list[Shape]) -> Shape:
        return (prod(ins[0]),)

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.function("flatten", [args[0], 1])

    def convolutional(
        self, ins: list[Shape], out: Shape, kernel: tuple[int, int] | None
    ) -> tuple[Op | None, tuple[int, int] | None]:
        """Gone: the fc after it takes the map's HxW as its kernel."""
        return Identity.make({}), tuple(ins[0][1:])


class DimsParams(Params):
    """A list of dimensions (reshape's sizes, permute's order); one positional number is a list of one."""

    dims: tuple[int, ...] = Field(min_length=1)

    @field_validator("dims", mode="before")
    @classmethod
    def _one(cls, v: Any) -> Any:
        return (v,) if isinstance(v, int) else v


class Reshape(Op):
    """Per-sample reshape; one dimension may be -1 (``reshape(7, 7, 30)``)."""

    name = "reshape"
    reference = (
        "`dims` (all positional arguments; one may be -1)",
        "`dims...`",
        "per-sample reshape, `reshape(7, 7, 30)`",
    )
    minor = True
    family = "reshape"
    aliases = ("view",)
    Params = DimsParams
    positional = ("dims",)
    variadic = True

    def infer(self, ins: list[Shape]) -> Shape:
        total = prod(ins[0])
        dims = list(self.p.dims)
        if dims.count(-1) > 1 or any(d == 0 or d < -1 for d in dims):
            raise OpProblem(f"bad reshape target {tuple(dims)}", "sizes are positive; at most one may be -1")
        known = prod(d for d in dims if d != -1)
        if -1 in dims:
            if total % known:
                raise OpProblem(f"cannot reshape {fmt_shape(ins[0])} ({total} values) to {tuple(dims)}")
            dims[dims.index(-1)] = total // known
        if prod(dims) != total:
            raise OpProblem(
                f"cannot reshape {fmt_shape(ins[0])} ({total} values) into "
                f"{fmt_shape(tuple(dims))} ({prod(dims)} values)"
            )
        return tuple(dims)

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        # the spec's own dimensions, not the ones the analysis derived at the declared size: with a -1
        # in them the batch is read from the tensor (reshape(-1, 4) of a head is N x ? x 4 at any size)
        dims = self.p.dims
        return g.method("reshape", [args[0], g.size(args[0], 0) if -1 in dims else -1, *dims])

    def describe(self) -> str:
        return f"reshape({', '.join(map(str, self.p.dims))})"

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        dims = args.get("dims")
        return "reshape " + "x".join(str(d) for d in dims) if isinstance(dims, (list, tuple)) else "reshape"


class Permute(Op):
    """Reorder the per-sample dimensions: ``permute(1, 2, 0)`` turns CxHxW into HxWxC (detection
    heads, before ``reshape(-1, 4)``)."""

    name = "permute"
    reference = (
        "`dims` (all positional arguments)",
        "`dims...`",
        "reorder the per-sample dimensions, `permute(1, 2, 0)`: CxHxW → HxWxC",
    )
    minor = True
    family = "reshape"
    aliases = ("transpose_dims",)
    Params = DimsParams
    positional = ("dims",)
    variadic = True

    def infer(self, ins: list[Shape]) -> Shape:
        if sorted(self.p.dims) != list(range(len(ins[0]))):
            raise OpProblem(
                f"permute{tuple(self.p.dims)} is not an order of the {len(ins[0])} dimensions of {fmt_shape(ins[0])}",
                f"list each of 0..{len(ins[0]) - 1} once",
            )
        return tuple(ins[0][d] for d in self.p.dims)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0]

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.method("permute", [args[0], 0, *(d + 1 for d in self.p.dims)])

    def describe(self) -> str:
        return f"permute({', '.join(map(str, self.p.dims))})"


class InputParams(Params):
    shape: tuple[int, ...] = Field(min_length=1)


class Input(Op):
    """The network's input (``input 3x224x224``: CxHxW, the batch is implicit)."""

    name = "input"
    reference = (
        "`shape`",
        "—",
        "made by the `input` line, not written in a chain",
    )
    is_input = True
    family = "io"
    Params = InputParams
    min_inputs, max_inputs = 0, 0

    def infer(self, ins: list[Shape]) -> Shape:
        return self.p.shape

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return RF()

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.placeholder()

    def describe(self) -> str:
        return f"input({fmt_shape(self.p.shape)})"
