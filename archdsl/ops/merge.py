"""Ops that join tensors: concat, add, mul (a gate), mean, residual (add + automatic projection shortcut)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .activation import activation_function
from .base import REGISTRY, RF, Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape, numel, spatial
from .schema import Field, field_validator

if TYPE_CHECKING:
    from torch import fx


class BranchMismatch(OpProblem):
    """Two inputs of a merge disagree; carries which ones so the infer stage can name their producers."""

    def __init__(
        self, message: str, first: int, second: int, hint: str | None = None, names: tuple[str, str] | None = None
    ):
        super().__init__(message, hint)
        self.first, self.second = first, second
        self.names = names or (f"branch {first + 1}", f"branch {second + 1}")  # what the message calls them


def _one(size: object) -> bool:
    return isinstance(size, int) and size == 1


def _equal_shapes(ins: list[Shape], hint: str) -> Shape:
    """The shape of element-wise merges (add, residual, mean): every branch's, which must agree."""
    for i, shape in enumerate(ins[1:], start=2):
        if shape != ins[0]:
            raise BranchMismatch(f"branch {i} is {fmt_shape(shape)}, branch 1 is {fmt_shape(ins[0])}", 0, i - 1, hint)
    return ins[0]


class Concat(Op):
    """Concatenate branches along channels (Inception, DenseNet, UNet skips)."""

    name = "concat"
    reference = (
        "—",
        "body `{ branch per line }`",
        "concatenation along channels",
    )
    merge = True
    shows_inputs = True
    stacks_channels = True
    symbol = "C"
    aliases = ("cat", "concatenate", "filter_concat", "depthconcat")
    body = "branches"
    min_inputs, max_inputs = 2, None

    def infer(self, ins: list[Shape]) -> Shape:
        first = ins[0]
        for i, shape in enumerate(ins[1:], start=2):
            if len(shape) != len(first) or shape[1:] != first[1:]:
                raise BranchMismatch(
                    f"branch {i} is {fmt_shape(shape[1:] or shape)}, branch 1 is {fmt_shape(first[1:] or first)}",
                    0,
                    i - 1,
                    "concat joins along channels; every other size must agree (crop or pad)",
                )
        return (sum(s[0] for s in ins), *first[1:])

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.function("cat", [list(args), 1])


class AddParams(Params):
    act: str = "none"  # an activation after the sum: none, or any activation's name (relu, silu, ...)

    @field_validator("act")
    @classmethod
    def _activation(cls, v: str) -> str:
        return activation_function(v)


class Add(Op):
    """Element-wise sum of branches, optionally followed by an activation (``add(act=relu)``)."""

    name = "add"
    reference = (
        "`act`=none (or an activation)",
        "body `{ branch per line }`",
        "element-wise sum",
    )
    merge = True
    shortcuts = "shortest"
    symbol = "+"
    aliases = ("sum", "plus", "eltwise_sum")
    Params = AddParams
    body = "branches"
    min_inputs, max_inputs = 2, None

    @property
    def saves(self) -> str:  # a fused activation's backward needs what the activation itself saves
        return "none" if self.p.act == "none" else REGISTRY[self.p.act].saves

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * (len(ins) - 1) + (numel(out) if self.p.act != "none" else 0)

    def infer(self, ins: list[Shape]) -> Shape:
        return _equal_shapes(ins, "add needs equal shapes; a residual block projects automatically")

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        total = args[0]
        for other in args[1:]:
            total = g.function("add", [total, other])
        return total if self.p.act == "none" else g.function(REGISTRY[self.p.act].function, [total])

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return "+"


class Mul(Op):
    """Element-wise product of branches, a gate broadcasting over what it gates: squeeze-and-excitation's
    ``mul { identity ⏎ se { gap - conv1-16 - relu - conv1-64 - sigmoid } }`` multiplies a CxHxW map by a
    Cx1x1 gate. Each size of a branch equals the others' or is 1 (torch's broadcasting, per sample)."""

    name = "mul"
    reference = (
        "—",
        "body `{ branch per line }`",
        "element-wise product; a Cx1x1 gate broadcasts over CxHxW (squeeze-and-excitation)",
    )
    merge = True
    shortcuts = "shortest"
    symbol = "×"
    aliases = ("multiply", "prod", "eltwise_prod")
    body = "branches"
    min_inputs, max_inputs = 2, None
    saves = "input"  # each factor's gradient reads the others

    def infer(self, ins: list[Shape]) -> Shape:
        out = ins[0]
        for i, shape in enumerate(ins[1:], start=2):
            # a size broadcasts when it is the number 1 itself: a size that depends on the input (a symbolic
            # H) is never 1 by chance, so the rule does not fork over the sizes where it would be
            if len(shape) != len(out) or any(not _one(a) and not _one(b) and a != b for a, b in zip(out, shape)):
                raise BranchMismatch(
                    f"branch {i} is {fmt_shape(shape)}, branch 1 is {fmt_shape(ins[0])}",
                    0,
                    i - 1,
                    "mul multiplies equal shapes, or broadcasts a size of 1 (a Cx1x1 gate over a CxHxW map)",
                )
            out = tuple(b if _one(a) else a for a, b in zip(out, shape))
        return out

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * (len(ins) - 1)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        """Every branch's view counts in the size (a pooled gate sees the whole map), but a broadcast gate has
        no positions of its own: the jump between outputs is the full-size branches'."""
        full = [rf for rf, shape in zip(rfs, ins) if tuple(shape) == tuple(out)] or rfs
        return RF(RF.merge(rfs).size, RF.merge(full).jump)

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        total = args[0]
        for other in args[1:]:
            total = g.function("mul", [total, other])
        return total

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return "×"


class MeanParams(Params):
    drop: float = Field(default=0.0, ge=0, lt=1)


class Mean(Op):
    """Element-wise mean of branches: FractalNet's join; ``mean(drop=0.15) { ... }`` drops
    each branch in training with that probability (local drop-path), keeping at least one."""

    name = "mean"
    reference = (
        "`drop`=0.0",
        "body `{ branch per line }`",
        "element-wise mean (FractalNet's join); `drop` drops branches in training, keeping one",
    )
    merge = True
    aliases = ("join", "average", "avg_join")
    Params = MeanParams
    body = "branches"
    min_inputs, max_inputs = 2, None

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * len(ins)  # the sum and the division

    def infer(self, ins: list[Shape]) -> Shape:
        return _equal_shapes(ins, "mean needs equal shapes in every branch")

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        if self.p.drop == 0:
            return g.method("mean", [g.function("stack", [list(args)]), 0])
        # the join's own module (it holds no weights) sits beside its branches: `name.join`
        return g.module(ModuleSpec("MeanJoin", (self.p.drop,)), args, child="join")


class ResidualParams(AddParams):
    proj: Literal["conv_bn", "conv"] = "conv_bn"
    scale: float = 1.0  # body * scale + shortcut: Inception-ResNet's residual scaling


class Residual(Add):
    """``residual { body }``: body(x) + shortcut(x); the shortcut is the identity, or a 1x1 projection
    (conv + bn by default, ``proj=conv`` for conv alone) when the body changes the shape;
    ``residual { ... } shortcut { ... }`` gives the shortcut explicitly."""

    name = "residual"
    reference = (
        "`act`=none (or an activation), `proj`=conv_bn (or conv), `scale`=1.0 (body x scale, Inception-ResNet)",
        "body `{ ... }`, optional `shortcut { ... }`",
        "body + shortcut, automatic projection",
    )
    shortcuts = "after_first"
    aliases = ("res", "resblock")
    Params = ResidualParams
    body = "residual"

    def infer(self, ins: list[Shape]) -> Shape:
        body, shortcut = ins
        if body != shortcut:
            raise BranchMismatch(
                f"the shortcut gives {fmt_shape(shortcut)}, the body {fmt_shape(body)}",
                0,
                1,
                "make the shortcut give the body's shape (a strided conv1 for a strided body), "
                "or leave it out for the automatic projection",
                ("the body", "the shortcut"),
            )
        return body

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        body, shortcut = args
        if self.p.scale != 1.0:
            body = g.function("mul", [body, self.p.scale])
        return super().emit(g, [body, shortcut], ins, out)


class ProjectionParams(Params):
    bn: bool = True


class Projection(Op):
    """The automatic shortcut of a residual: identity when shapes agree, else a strided 1x1 conv
    (+ bn). Input 1 is the block input, input 2 the body output (read for its shape only)."""

    name = "projection"
    reference = (
        "`bn`=true",
        "—",
        "made by `residual` (its `downsample`), not written by hand",
    )
    shortcut = True
    data_inputs = 1
    family = "conv"
    aliases = ("auto_shortcut",)
    Params = ProjectionParams
    min_inputs = max_inputs = 2
    learnable = True

    def _stride(self, ins: list[Shape]) -> tuple[int, int] | None:
        x, y = ins
        if x == y:
            return None
        if len(x) != 3 or len(y) != 3:
            raise OpProblem(f"cannot project {fmt_shape(x)} onto {fmt_shape(y)}", "residual bodies keep CxHxW maps")
        (h, w), (oh, ow) = spatial(x), spatial(y)
        s = (-(-h // oh), -(-w // ow))
        if tuple((n - 1) // ss + 1 for n, ss in zip((h, w), s)) != (oh, ow):
            raise OpProblem(
                f"the body turns {fmt_shape(x)} into {fmt_shape(y)}: no strided 1x1 conv maps one onto the other",
                "give the shortcut explicitly: residual { ... } shortcut { ... }",
            )
        return s

    def infer(self, ins: list[Shape]) -> Shape:
        return ins[1] if self._stride(ins) else ins[0]

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        if not self._stride(ins):
            return {}
        w = (out[0], ins[0][0], 1, 1)
        if self.p.bn:
            return {"0.weight": w, "1.weight": (out[0],), "1.bias": (out[0],)}
        return {"weight": w, "bias": (out[0],)}

    def buffers(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        if not (self.p.bn and self._stride(ins)):
            return {}
        return {"1.running_mean": (out[0],), "1.running_var": (out[0],), "1.num_batches_tracked": ()}

    def macs(self, ins: list[Shape], out: Shape) -> int:
        return out[0] * out[1] * out[2] * ins[0][0] if self._stride(ins) else 0

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        s = self._stride(ins)
        return rfs[0].window((1, 1), s) if s else rfs[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        s = self._stride(ins)
        if not s:
            return None
        conv = ModuleSpec("Conv2d", (ins[0][0], out[0]), dict(kernel_size=(1, 1), stride=s, bias=not self.p.bn))
        return ModuleSpec("Sequential", (conv, ModuleSpec("BatchNorm2d", (out[0],)))) if self.p.bn else conv

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        spec = self.torch(ins, out)
        return args[0] if spec is None else g.module(spec, args[:1])  # input 2 only lends its shape

    def in_place(self, ins: list[Shape], out: Shape) -> bool:
        return not self._stride(ins)

    def describe_in(self, ins: list[Shape], out: Shape) -> str:
        s = self._stride(ins)
        if not s:
            return "projection(identity: shapes agree)"
        stride = s[0] if s[0] == s[1] else s
        return f"projection(conv1x1 {ins[0][0]}->{out[0]}, s={stride}{', bn' if self.p.bn else ''})"

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        """A real 1x1 conv (identities are drawn as edges): ``conv 1x1/2, 256``."""
        if ins and len(ins[0]) == 3 and len(out) == 3:
            s = -(-ins[0][1] // out[1])
            return f"conv 1x1{'/' + str(s) if s > 1 else ''}, {out[0]}"
        return "projection"


# words that name a way of joining branches (torch's functions, the papers' figures) that archdsl has no op
# for: a braced group so named would run its lines one after another, which is never what such a name means
NO_SUCH_MERGES = frozenset(
    {"max", "maximum", "min", "minimum", "sub", "subtract", "minus", "div", "divide", "matmul", "bmm", "einsum",
     "stack", "product", "multiply_add", "attention", "dot", "outer", "and", "or", "xor", "where", "select"}
)  # fmt: skip


def merges() -> list[str]:
    """The ops that take branches in braces."""
    return [name for name, cls in REGISTRY.items() if cls.body]
