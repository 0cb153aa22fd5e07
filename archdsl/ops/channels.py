"""Ops on the channels alone: a part of them (``chunk``, ``split``) and ShuffleNet's ``channel_shuffle``.

A node has one output, so a split is written as one node per part, each taking the part it names:
ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)`` is the two branches ``chunk(2, 0)`` and ``chunk(2, 1) - ...``
of a concat; label a part to refer to it elsewhere (``left: chunk(2, 0)``, then ``@left``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Emitter, ModuleSpec, Op, OpProblem, Params, Shape, fmt_shape
from .schema import Field, model_validator

if TYPE_CHECKING:
    from torch import fx


def _channels(shape: Shape, what: str) -> int:
    if len(shape) not in (1, 3):
        raise OpProblem(f"{what} the channels of a CxHxW map or a vector, got {fmt_shape(shape)}")
    return shape[0]


class ChunkParams(Params):
    chunks: int = Field(gt=0)
    part: int = Field(ge=0)

    @model_validator(mode="after")
    def _part_of_chunks(self) -> ChunkParams:
        if self.part >= self.chunks:
            raise ValueError(f"part {self.part} of {self.chunks} chunks: parts are numbered 0 to {self.chunks - 1}")
        return self


class Chunk(Op):
    """Part ``part`` (from 0) of the channels cut into ``chunks`` equal parts (``torch.chunk`` along the
    channels): ``chunk(2, 1)`` is the second half."""

    name = "chunk"
    reference = (
        "`chunks`, `part`",
        "`chunks, part`",
        "one of `chunks` equal parts of the channels (ShuffleNetV2's channel split)",
    )
    aliases = ("channel_chunk",)
    Params = ChunkParams
    positional = ("chunks", "part")

    def infer(self, ins: list[Shape]) -> Shape:
        c = _channels(ins[0], "chunk cuts")
        if c % self.p.chunks:
            raise OpProblem(
                f"{c} channels do not cut into {self.p.chunks} equal chunks",
                "split(sizes..., part=k) cuts unequal parts",
            )
        return (c // self.p.chunks, *ins[0][1:])

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.getitem(g.method("chunk", [args[0], self.p.chunks, 1]), self.p.part)

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"chunk {args['part'] + 1}/{args['chunks']}"


class SplitParams(Params):
    sizes: tuple[int, ...] = Field(min_length=1)
    part: int = Field(ge=0)

    @model_validator(mode="after")
    def _part_of_sizes(self) -> SplitParams:
        if any(n < 1 for n in self.sizes):
            raise ValueError(f"split sizes must be at least 1, got {self.sizes}")
        if self.part >= len(self.sizes):
            raise ValueError(
                f"part {self.part} of {len(self.sizes)} sizes: parts are numbered 0 to {len(self.sizes) - 1}"
            )
        return self


class Split(Op):
    """Part ``part`` (from 0) of the channels cut into parts of the given sizes (``torch.split`` along
    the channels): ``split(16, 48, part=1)`` is channels 16 to 63."""

    name = "split"
    reference = (
        "`sizes`, `part`",
        "`sizes...` (positional), `part` by keyword",
        "one part of the channels cut into the given sizes",
    )
    aliases = ("channel_split",)
    Params = SplitParams
    positional = ("sizes",)
    variadic = True

    def infer(self, ins: list[Shape]) -> Shape:
        c = _channels(ins[0], "split cuts")
        if sum(self.p.sizes) != c:
            raise OpProblem(
                f"the sizes {', '.join(map(str, self.p.sizes))} add up to {sum(self.p.sizes)}, not the {c} channels",
                "the parts' sizes must add up to the channels",
            )
        return (self.p.sizes[self.p.part], *ins[0][1:])

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        return g.getitem(g.method("split", [args[0], list(self.p.sizes), 1]), self.p.part)

    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        return f"split {args['part'] + 1}/{len(args['sizes'])}"


class ShuffleParams(Params):
    groups: int = Field(gt=0)


class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: the channels as ``groups`` x (C / groups), transposed, so that the next
    grouped layer sees channels from every group."""

    name = "channel_shuffle"
    reference = ("`groups`", "`groups`", "ShuffleNet's channel shuffle across `groups` groups")
    aliases = ("shuffle", "channelshuffle")
    Params = ShuffleParams
    positional = ("groups",)
    pointwise = True

    def infer(self, ins: list[Shape]) -> Shape:
        c = _channels(ins[0], "channel_shuffle shuffles")
        if len(ins[0]) != 3:
            raise OpProblem(f"shuffles the channels of a CxHxW map, got {fmt_shape(ins[0])}")
        if c % self.p.groups:
            raise OpProblem(
                f"{c} channels do not split into {self.p.groups} groups", "the channels must be a multiple of groups"
            )
        return ins[0]

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        return ModuleSpec("ChannelShuffle", (self.p.groups,))
