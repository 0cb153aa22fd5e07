"""Element-wise activations and softmax; shape-preserving, parameter-free."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .base import Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape, numel

if TYPE_CHECKING:
    from torch import fx


class InplaceParams(Params):
    inplace: bool = False


class Relu(Op):
    elementwise = True

    name = "relu"
    reference = (
        "`inplace`=false",
        "—",
        "ReLU",
    )
    pointwise = True
    aliases = ("rectify",)
    Params = InplaceParams
    saves = "output"
    module = "ReLU"  # torch.nn's class
    function = "relu"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec(self.module, (), {"inplace": True} if self.p.inplace else {})


class Relu6(Relu):
    """min(max(x, 0), 6): MobileNet's activation."""

    name = "relu6"
    reference = (
        "`inplace`=false",
        "—",
        "min(max(x, 0), 6): MobileNet's activation",
    )
    pointwise = True
    aliases = ()
    module = "ReLU6"
    function = "relu6"


class LeakyParams(Params):
    slope: float = 0.01
    inplace: bool = False


class LeakyRelu(Op):
    """Leaky ReLU; ``leaky(0.1)`` is YOLO's."""

    elementwise = True
    name = "leaky_relu"
    reference = (
        "`slope`=0.01, `inplace`=false",
        "`slope`",
        "leaky ReLU; `leaky(0.1)` is YOLO's",
    )
    pointwise = True
    aliases = ("leaky", "leakyrelu", "lrelu")
    Params = LeakyParams
    positional = ("slope",)
    saves = "output"
    function = "leaky_relu"  # at its default slope, as a merge's act=

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("LeakyReLU", (self.p.slope,), {"inplace": True} if self.p.inplace else {})


class Tanh(Op):
    elementwise = True
    name = "tanh"
    reference = (
        "—",
        "—",
        "tanh",
    )
    pointwise = True
    saves = "output"
    function = "tanh"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("Tanh")


class Sigmoid(Op):
    elementwise = True

    name = "sigmoid"
    reference = (
        "—",
        "—",
        "logistic sigmoid",
    )
    pointwise = True
    aliases = ("logistic",)
    saves = "output"
    function = "sigmoid"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("Sigmoid")


class Silu(Op):
    """x * sigmoid(x) (SiLU, Swish; EfficientNet, YOLOv5): one op per element, like the other activations."""

    elementwise = True
    name = "silu"
    aliases = ("swish",)
    reference = ("`inplace`=false", "—", "x · sigmoid(x): SiLU / Swish (EfficientNet, MobileNetV3's h-less form)")
    pointwise = True
    Params = InplaceParams
    saves = "input"  # its gradient reads x
    function = "silu"
    module = "SiLU"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec(self.module, (), {"inplace": True} if self.p.inplace else {})


class Hardswish(Silu):
    """x · relu6(x + 3) / 6: MobileNetV3's cheap swish."""

    name = "hardswish"
    aliases = ("hswish", "hard_swish", "h_swish")
    reference = ("`inplace`=false", "—", "x · relu6(x + 3) / 6: MobileNetV3's cheap swish")
    function = "hardswish"
    module = "Hardswish"


class Hardsigmoid(Silu):
    """relu6(x + 3) / 6: MobileNetV3's gate in its squeeze-and-excitation blocks."""

    name = "hardsigmoid"
    aliases = ("hsigmoid", "hard_sigmoid", "h_sigmoid")
    reference = ("`inplace`=false", "—", "relu6(x + 3) / 6: MobileNetV3's squeeze-and-excitation gate")
    function = "hardsigmoid"
    module = "Hardsigmoid"


class GeluParams(Params):
    approximate: Literal["none", "tanh"] = "none"


class Gelu(Op):
    """x · Φ(x), the Gaussian error linear unit (ConvNeXt, transformers); ``approximate=tanh`` for the
    tanh form."""

    elementwise = True
    name = "gelu"
    reference = ("`approximate`=none (or tanh)", "—", "x · Φ(x), the Gaussian error linear unit (ConvNeXt)")
    pointwise = True
    Params = GeluParams
    saves = "input"
    function = "gelu"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("GELU", (), {"approximate": "tanh"} if self.p.approximate == "tanh" else {})


def activation_function(name: str) -> str:
    """The torch function of the activation ``name`` (an op's name or alias) that a merge's ``act=`` calls;
    ValueError (said as a merge's bad argument) for a name that is none."""
    from .base import ALIASES

    cls = ALIASES.get(name.lower())
    if name == "none" or (cls is not None and cls.function is not None):
        return "none" if name == "none" else cls.name
    from .base import REGISTRY

    acts = sorted(c.name for c in REGISTRY.values() if c.function is not None)
    raise ValueError(f"act takes none or an activation ({', '.join(acts)}), not {name!r}")


class SoftmaxParams(Params):
    dim: int = 1


class Softmax(Op):
    """Softmax over the channel/class dimension (dim 1 of the batched tensor)."""

    name = "softmax"
    reference = (
        "`dim`=1",
        "—",
        "softmax over the channels / classes",
    )
    written_also = ("soft-max",)  # the grammar reads this spelling as softmax too
    pointwise = True
    family = "classifier"
    aliases = ("soft_max",)
    Params = SoftmaxParams
    saves = "output"

    def infer(self, ins: list[Shape]) -> Shape:
        rank = len(ins[0]) + 1  # the batched tensor's dimensions
        if not -rank <= self.p.dim < rank:
            raise OpProblem(
                f"dim={self.p.dim} is not a dimension of the batched {fmt_shape(ins[0])} input",
                f"dims run from 0 (the batch) to {rank - 1}; 1 is the channels",
            )
        return ins[0]

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("Softmax", (), {"dim": self.p.dim})


class Identity(Op):
    elementwise = True

    """Passes its input through (a branch that is the block's input, a placeholder)."""

    name = "identity"
    reference = (
        "—",
        "—",
        "passes its input through (a branch that is the input)",
    )
    pointwise = True
    passes_through = True
    aliases = ("id", "skip")

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return args[0]
