"""Convolutions: conv (incl. grouped, dilated, `same` padding) and transposed conv."""

from __future__ import annotations

from typing import Any, Literal

from .base import (
    RF,
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

IntPair = int | tuple[int, int]
Pos = Field(gt=0)  # strictly positive


def _positive(v: IntPair, what: str) -> None:
    if any(x <= 0 for x in pair(v)):
        raise ValueError(f"{what} must be positive")


class ConvParams(Params):
    out: int = Field(gt=0)
    k: IntPair = 3
    s: IntPair = 1
    p: IntPair | Literal["same", "valid"] | None = None  # None → (k-1)//2*d: size-preserving at stride 1
    d: IntPair = 1
    groups: int = Field(default=1, gt=0)
    bias: bool = True

    @model_validator(mode="after")
    def _check(self):
        _positive(self.k, "kernel"), _positive(self.s, "stride"), _positive(self.d, "dilation")
        if self.p is not None and not isinstance(self.p, str) and min(pair(self.p)) < 0:
            raise ValueError("padding must be >= 0")
        if self.out % self.groups:
            raise ValueError(f"out channels {self.out} are not divisible by groups={self.groups}")
        if self.p is None:  # resolve the default so reports show the real padding
            pad = tuple((k - 1) // 2 * d for k, d in zip(pair(self.k), pair(self.d)))
            object.__setattr__(self, "p", pad[0] if pad[0] == pad[1] else pad)
        return self

    def padding(self) -> tuple[int, int] | str:
        return self.p if isinstance(self.p, str) else pair(self.p)


class Conv(Op):
    """2-D convolution. ``conv3-64`` = 3x3, 64 filters, stride 1, padding 1."""

    name = "conv"
    reference = (
        "`out` (= `filters` when omitted), `k`=3, `s`=1, `p`=auto, `d`=1, `groups`=1, `bias`=true",
        "`convN` → k; `-N` → out; `/N` → s; `out, k, s, p`",
        "2-D convolution; `p` also takes `same` / `valid`; `k`, `s`, `p`, `d` take pairs",
    )
    family = "conv"
    aliases = ("convolution", "conv2d")
    Params = ConvParams
    positional = ("out", "k", "s", "p")
    dash, slash, shorthand = "out", "s", "k"
    var_defaults = {"out": "filters"}
    learnable = True
    saves = "input"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) if self.p.bias else 0  # one add per output for the bias

    def _pad(self) -> tuple[int, int]:
        p, k, d = self.p.padding(), pair(self.p.k), pair(self.p.d)
        if p == "valid":
            return (0, 0)
        if p == "same":
            if pair(self.p.s) != (1, 1):
                raise OpProblem("padding='same' needs stride 1", "give the padding as a number")
            return tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d))  # only used for the RF rule
        return p

    def infer(self, ins: list[Shape]) -> Shape:
        cin = ins[0][0]
        hw = spatial(ins[0])
        if cin % self.p.groups:
            raise OpProblem(f"{cin} input channels are not divisible by groups={self.p.groups}")
        if self.p.padding() == "same":
            self._pad()
            return (self.p.out, *hw)
        out = tuple(
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, d, k, s in zip(hw, self._pad(), pair(self.p.d), pair(self.p.k), pair(self.p.s))
        )
        if any(n < 1 for n in out):  # per axis: also decides symbolic sizes (archdsl.ir.symbolic)
            raise OpProblem(
                f"input {fmt_shape(ins[0])} is too small for kernel {fmt_shape(pair(self.p.k))} "
                f"with padding {fmt_shape(self._pad())}: the output would be {fmt_shape(out)}",
                "use a larger input, more padding, or fewer downsampling layers before it",
                small=True,
            )
        return (self.p.out, *out)

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        w = {"weight": (self.p.out, ins[0][0] // self.p.groups, *pair(self.p.k))}
        return w | ({"bias": (self.p.out,)} if self.p.bias else {})

    def macs(self, ins: list[Shape], out: Shape) -> int:
        kh, kw = pair(self.p.k)
        return out[0] * out[1] * out[2] * (ins[0][0] // self.p.groups) * kh * kw

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return rfs[0].window(pair(self.p.k), pair(self.p.s), pair(self.p.d))

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        pad = self.p.padding()
        return ModuleSpec(
            "Conv2d",
            (ins[0][0], self.p.out),
            dict(
                kernel_size=pair(self.p.k),
                stride=pair(self.p.s),
                padding=pad,
                dilation=pair(self.p.d),
                groups=self.p.groups,
                bias=self.p.bias,
            ),
        )

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        text = f"conv {show_kernel(args['k'])}{show_stride(args['s'])}, {args['out']}"
        if args.get("groups", 1) != 1:
            text += f", groups {args['groups']}"
        d = pair(args.get("d", 1))
        if d != (1, 1):
            text += f", dilation {show_kernel(d) if d[0] != d[1] else d[0]}"
        return text


class DwConvParams(Params):
    k: IntPair = 3
    s: IntPair = 1
    p: IntPair | Literal["same", "valid"] | None = None
    d: IntPair = 1
    multiplier: int = Field(default=1, gt=0)  # output channels per input channel
    bias: bool = True

    @model_validator(mode="after")
    def _check(self):
        _positive(self.k, "kernel"), _positive(self.s, "stride"), _positive(self.d, "dilation")
        return self


class DwConv(Op):
    """Depthwise convolution: one k x k filter per input channel (a conv with groups = channels).
    ``dwconv3`` is MobileNet's "Conv dw 3x3", ``dwconv3/2`` the strided one."""

    name = "dwconv"
    reference = (
        "`k`=3, `s`=1, `p`=auto, `d`=1, `multiplier`=1, `bias`=true",
        "`dwconvN` → k; `/N` → s; `k, s, p`",
        'depthwise convolution: a conv with groups = input channels (MobileNet\'s "Conv dw")',
    )
    family = "dwconv"
    aliases = ("depthwise", "conv_dw", "dw", "depthwise_conv")
    Params = DwConvParams
    positional = ("k", "s", "p")
    slash, shorthand = "s", "k"
    learnable = True
    saves = "input"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) if self.p.bias else 0

    def conv(self, ins: list[Shape]) -> Conv:
        c = ins[0][0]
        return Conv(ConvParams(out=c * self.p.multiplier, groups=c, **self.p.model_dump(exclude={"multiplier"})))

    def infer(self, ins: list[Shape]) -> Shape:
        return self.conv(ins).infer(ins)

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        return self.conv(ins).weights(ins, out)

    def macs(self, ins: list[Shape], out: Shape) -> int:
        return self.conv(ins).macs(ins, out)

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return self.conv(ins).receptive_field(rfs, ins, out)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return self.conv(ins).torch(ins, out)

    def describe_in(self, ins: list[Shape], out: Shape) -> str:
        return self.conv(ins).describe().replace("conv(", "dwconv(", 1)

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        text = f"dwconv {show_kernel(args['k'])}{show_stride(args['s'])}"
        return text + (f", x{args['multiplier']}" if args.get("multiplier", 1) != 1 else "")


class UpConvParams(Params):
    out: int = Field(gt=0)
    k: IntPair = 2
    s: IntPair | None = None  # None → the kernel size (UNet's "up-conv 2x2")
    p: IntPair = 0
    output_padding: IntPair = 0
    d: IntPair = 1
    groups: int = Field(default=1, gt=0)
    bias: bool = True

    @model_validator(mode="after")
    def _check(self):
        _positive(self.k, "kernel"), _positive(self.d, "dilation")
        if self.s is not None:
            _positive(self.s, "stride")
        if min(pair(self.p)) < 0 or min(pair(self.output_padding)) < 0:
            raise ValueError("padding must be >= 0")
        if self.out % self.groups:
            raise ValueError(f"out channels {self.out} are not divisible by groups={self.groups}")
        if self.s is None:
            object.__setattr__(self, "s", self.k)
        return self

    def stride(self) -> tuple[int, int]:
        return pair(self.s)


class UpConv(Op):
    """Transposed convolution (a.k.a. deconvolution, up-convolution)."""

    name = "upconv"
    reference = (
        "`out`, `k`=2, `s`=auto (=k), `p`=0, `output_padding`=0, `d`=1, `groups`=1, `bias`=true",
        "`upconvN` → k; `-N` → out; `/N` → s; `out, k, s, p`",
        "transposed convolution (UNet's up-conv 2x2)",
    )
    upsampling = True
    resizes = True
    family = "upsampling"
    aliases = ("deconv", "convtranspose", "conv_transpose", "transposed_conv", "up_conv")
    Params = UpConvParams
    positional = ("out", "k", "s", "p")
    dash, slash, shorthand = "out", "s", "k"
    learnable = True
    saves = "input"

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        return numel(out) if self.p.bias else 0

    def infer(self, ins: list[Shape]) -> Shape:
        cin = ins[0][0]
        hw = spatial(ins[0])
        if cin % self.p.groups:
            raise OpProblem(f"{cin} input channels are not divisible by groups={self.p.groups}")
        out = tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            for n, s, p, d, k, op in zip(
                hw, self.p.stride(), pair(self.p.p), pair(self.p.d), pair(self.p.k), pair(self.p.output_padding)
            )
        )
        if any(n < 1 for n in out):  # per axis: also decides symbolic sizes (archdsl.ir.symbolic)
            raise OpProblem(f"output would be {fmt_shape(out)}", "reduce the padding", small=True)
        if any(op >= max(s, d) for op, s, d in zip(pair(self.p.output_padding), self.p.stride(), pair(self.p.d))):
            raise OpProblem("output_padding must be smaller than the stride or the dilation")
        return (self.p.out, *out)

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        w = {"weight": (ins[0][0], self.p.out // self.p.groups, *pair(self.p.k))}
        return w | ({"bias": (self.p.out,)} if self.p.bias else {})

    def macs(self, ins: list[Shape], out: Shape) -> int:
        kh, kw = pair(self.p.k)
        c, h, w = ins[0]
        return c * h * w * (self.p.out // self.p.groups) * kh * kw

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        s = self.p.stride()
        k = pair(self.p.k)
        rf = rfs[0]
        size = tuple(int(r + (-(-kk // ss) - 1) * j) for r, kk, ss, j in zip(rf.size, k, s, rf.jump))
        return RF(size, tuple(j / ss for j, ss in zip(rf.jump, s)))

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec(
            "ConvTranspose2d",
            (ins[0][0], self.p.out),
            dict(
                kernel_size=pair(self.p.k),
                stride=self.p.stride(),
                padding=pair(self.p.p),
                output_padding=pair(self.p.output_padding),
                groups=self.p.groups,
                bias=self.p.bias,
                dilation=pair(self.p.d),
            ),
        )

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        stride = args["s"] if args.get("s") is not None else args["k"]
        return f"upconv {show_kernel(args['k'])}{show_stride(stride)}, {args['out']}"
