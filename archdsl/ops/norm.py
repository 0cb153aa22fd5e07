"""Normalisation and regularisation: batch norm (and frozen), layer and group norm, layer scale, local
response norm, dropout, drop path, L2 norm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .base import Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape, numel, show_number
from .schema import Field

if TYPE_CHECKING:
    from torch import fx


class BnParams(Params):
    eps: float = Field(default=1e-5, gt=0)
    momentum: float = Field(default=0.1, ge=0, le=1)
    affine: bool = True


class _Normalisation(Op):
    """What batch, layer and group normalisation share: the values normalised, then (``affine``) each of the
    ``_size`` features scaled and shifted by a learnable weight and bias."""

    pointwise = True
    learnable = True
    saves = "input"

    def _size(self, shape: Shape) -> int:
        """How many features the weight and bias have: the channels."""
        return shape[0]

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * (2 if self.p.affine else 1)  # normalise, then scale and shift

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        n = self._size(ins[0])
        return {"weight": (n,), "bias": (n,)} if self.p.affine else {}


class BatchNorm(_Normalisation):
    """Batch normalisation over channels (BatchNorm2d on maps, BatchNorm1d after fc)."""

    name = "bn"
    reference = (
        "`eps`=1e-05, `momentum`=0.1, `affine`=true",
        "—",
        "batch normalisation (2-d on maps, 1-d after fc)",
    )
    aliases = ("batchnorm", "batch_norm", "batchnorm2d")
    Params = BnParams

    def infer(self, ins: list[Shape]) -> Shape:
        if len(ins[0]) > 3:  # BatchNorm1d / 2d take (N, C), (N, C, L) and (N, C, H, W)
            raise OpProblem(
                f"normalises a vector, a CxL sequence or a CxHxW map, got {fmt_shape(ins[0])}", "reshape to CxHxW first"
            )
        return ins[0]

    def buffers(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        c = ins[0][0]
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        cls = "BatchNorm2d" if len(ins[0]) == 3 else "BatchNorm1d"
        return ModuleSpec(cls, (ins[0][0],), dict(eps=self.p.eps, momentum=self.p.momentum, affine=self.p.affine))


class EpsParams(Params):
    eps: float = Field(default=1e-5, gt=0)


class FrozenBatchNorm(Op):
    """Batch normalisation with fixed statistics and affine parameters, all four buffers (torchvision's
    FrozenBatchNorm2d in its detection backbones): nothing to learn, no ``num_batches_tracked``."""

    name = "frozen_bn"
    reference = (
        "`eps`=1e-05",
        "—",
        "batch normalisation with fixed statistics: four buffers, no parameters (detection backbones)",
    )
    pointwise = True
    aliases = ("frozenbn", "frozen_batchnorm", "frozenbatchnorm2d")
    Params = EpsParams
    saves = "none"  # a fixed affine map: its gradient needs nothing saved

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) * 2  # scale and shift

    def buffers(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        c = ins[0][0]
        return {"weight": (c,), "bias": (c,), "running_mean": (c,), "running_var": (c,)}

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("FrozenBatchNorm2d", (ins[0][0],), {"eps": self.p.eps})


class LayerNormParams(EpsParams):
    over: Literal["channels", "last"] = "channels"
    affine: bool = True


class LayerNorm(_Normalisation):
    """Layer normalisation: every position's values normalised, then scaled and shifted. ``over=channels``
    (the default) normalises the C values at each position of a CxHxW map (ConvNeXt's LayerNorm2d);
    ``over=last`` the last dimension, as ``nn.LayerNorm`` does (a channels-last HxWxC map, a vector)."""

    name = "layernorm"
    reference = (
        "`over`=channels (or last), `eps`=1e-05, `affine`=true",
        "—",
        "layer normalisation over the channels of a map, or over the last dimension (`over=last`)",
    )
    aliases = ("layer_norm", "ln", "layernorm2d")
    Params = LayerNormParams

    def _size(self, shape: Shape) -> int:
        return shape[0] if self.p.over == "channels" else shape[-1]

    def infer(self, ins: list[Shape]) -> Shape:
        if self.p.over == "channels" and len(ins[0]) not in (1, 3):
            raise OpProblem(
                f"normalises the channels of a CxHxW map or a vector, got {fmt_shape(ins[0])}",
                "over=last normalises the last dimension",
            )
        return ins[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        cls = "LayerNorm2d" if self.p.over == "channels" and len(ins[0]) == 3 else "LayerNorm"
        return ModuleSpec(cls, (self._size(ins[0]),), {"eps": self.p.eps, "elementwise_affine": self.p.affine})


class GroupNormParams(EpsParams):
    groups: int = Field(gt=0)
    affine: bool = True


class GroupNorm(_Normalisation):
    """Group normalisation: the channels split into ``groups``, each normalised over its channels and
    positions, then every channel scaled and shifted (Wu & He 2018)."""

    name = "groupnorm"
    reference = (
        "`groups`, `eps`=1e-05, `affine`=true",
        "`groups`",
        "group normalisation over `groups` groups of channels",
    )
    aliases = ("group_norm", "gn")
    Params = GroupNormParams
    positional = ("groups",)

    def infer(self, ins: list[Shape]) -> Shape:
        c = ins[0][0]
        if c % self.p.groups:
            raise OpProblem(
                f"{c} channels do not split into {self.p.groups} groups", "the channels must be a multiple of groups"
            )
        return ins[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("GroupNorm", (self.p.groups, ins[0][0]), {"eps": self.p.eps, "affine": self.p.affine})


class ScaleParams(Params):
    init: float = 1e-6  # every channel's scale at first (ConvNeXt's layer scale: 1e-6)


class Scale(Op):
    """A learnable scale per channel (ConvNeXt's layer scale), held by the node itself: ``layer_scale:
    scale(1e-6)`` in a block named ``features.1.0`` has the key ``features.1.0.layer_scale``, shape Cx1x1."""

    name = "scale"
    reference = (
        "`init`=1e-06",
        "`init`",
        "a learnable scale per channel held by the node itself (ConvNeXt's layer scale)",
    )
    pointwise = True
    aliases = ("layer_scale", "layerscale")
    Params = ScaleParams
    positional = ("init",)
    learnable = True
    saves = "input"

    def _shape(self, shape: Shape) -> Shape:
        return (shape[0], *([1] * (len(shape) - 1)))

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out)

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        return {"": self._shape(ins[0])}

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.function("mul", [g.parameter(self._shape(ins[0]), self.p.init), args[0]])


class LrnParams(Params):
    size: int = Field(default=5, gt=0)
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0


class Lrn(Op):
    """Local response normalisation across channels; defaults are AlexNet's (n=5, α=1e-4, β=0.75, k=2)."""

    name = "lrn"
    reference = (
        "`size`=5, `alpha`=0.0001, `beta`=0.75, `k`=2.0",
        "`-N` → size; `size`",
        "local response normalisation (AlexNet)",
    )
    aliases = ("norm", "local_response_norm", "localresponsenorm")
    Params = LrnParams
    positional = ("size",)
    dash = "size"
    saves = "input"

    def infer(self, ins: list[Shape]) -> Shape:
        if len(ins[0]) < 2:  # torch normalises across channels at each position: (N, C, ...) with a position
            raise OpProblem(
                f"needs a CxHxW feature map, got a flat vector of {ins[0][0]} values",
                "put it before any fc/flatten, or reshape back to CxHxW",
            )
        return ins[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("LocalResponseNorm", (self.p.size,), dict(alpha=self.p.alpha, beta=self.p.beta, k=self.p.k))


class DropoutParams(Params):
    p: float = Field(default=0.5, ge=0, le=1)


class _Drop(Op):
    """What dropout and drop_path share: a drop probability ``p``, shown in a diagram's box even when folded."""

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"{cls.name.replace('_', ' ')} {show_number(args['p'])}"

    @classmethod
    def note(cls, args: dict[str, Any]) -> str:
        return cls.title(args, [], ())


class Dropout(_Drop):
    """Dropout with drop probability p (default 0.5); identity at eval."""

    elementwise = True

    name = "dropout"
    reference = (
        "`p`=0.5",
        "`p`",
        "dropout with drop probability `p`",
    )
    pointwise = True
    aliases = ("drop",)
    Params = DropoutParams
    positional = ("p",)
    saves = "output"  # its mask, one per element

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("Dropout", (), {"p": self.p.p})


class DropPathParams(Params):
    p: float = Field(default=0.0, ge=0, lt=1)


class DropPath(_Drop):
    """Stochastic depth (Huang et al. 2016): in training drops the whole input of a sample with
    probability p (survivors scaled by 1/(1-p)); the identity at eval. Put it at the end of a
    residual body: ``residual { ... - drop_path(0.1) }``."""

    elementwise = True

    name = "drop_path"
    reference = (
        "`p`=0.0",
        "`p`",
        "stochastic depth: drops a whole sample's input in training (survivors scaled by 1/(1-p)); identity at eval",
    )
    pointwise = True
    aliases = ("droppath", "stochastic_depth")
    Params = DropPathParams
    positional = ("p",)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("DropPath", (self.p.p,))


class L2NormParams(Params):
    scale: float = 20.0  # the learnable per-channel scale's initial value (SSD: 20)


class L2Norm(Op):
    """Normalise every position's channel vector to unit L2 norm, then scale each channel by a
    learnable weight (ParseNet; SSD's conv4_3). The weight is held by the node itself, so a node
    named ``backbone.scale_weight`` has the state_dict key torchvision's SSD300 has."""

    name = "l2norm"
    reference = (
        "`scale`=20.0",
        "`scale`",
        "unit L2 norm over channels times a learnable per-channel weight held by the node itself (SSD's conv4_3)",
    )
    aliases = ("l2_norm", "l2normalize")
    Params = L2NormParams
    positional = ("scale",)
    learnable = True
    saves = "input"

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        return {"": (ins[0][0],)}

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        weight = g.parameter((ins[0][0],), self.p.scale)
        unit = g.function("normalize", [args[0]], {"dim": 1})
        return g.function("mul", [unit, g.method("view", [weight, 1, -1, *([1] * (len(ins[0]) - 1))])])
