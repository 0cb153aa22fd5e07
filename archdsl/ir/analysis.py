"""The Analysis: what the infer stage knows about every node, as dataclasses that pydantic serialises and
describes (the JSON, its schema).

archdsl's own code builds them (infer.py), so there is nothing to validate on the way in; pydantic is imported
only to write JSON, give the JSON schema or read an analysis back (``model_dump``, ``model_dump_json``,
``model_json_schema``, ``model_validate``, as pydantic's models name them), never by ``archdsl check`` or
``report`` (docs/design.md, "Start-up")."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import Any

from ..ops import REGISTRY, Op

SCHEMA_VERSION = 3  # 2: macs_all, saves; totals.macs_all, peak / saved / largest activations; 3: rows


class Model:
    """What the analysis' classes share: pydantic's model methods, through pydantic's ``TypeAdapter`` of the
    dataclass, imported on first use."""

    __slots__ = ()

    @classmethod
    def model_construct(cls, **values: Any) -> Any:
        """An instance from values archdsl made itself (nothing checked), as pydantic's ``model_construct``."""
        return cls(**values)

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        """An instance from plain data (a JSON report read back), checked by pydantic."""
        return _adapter(cls).validate_python(data)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return _adapter(cls).json_schema()

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The fields as plain values: dicts, lists in JSON ``mode``, tuples otherwise."""
        out = dataclasses.asdict(self)
        return json.loads(json.dumps(out)) if mode == "json" else out

    def model_dump_json(self, indent: int | None = None) -> str:
        """JSON as pydantic writes it: compact without ``indent``, non-ASCII text as it is."""
        separators = (",", ":") if indent is None else None
        return json.dumps(dataclasses.asdict(self), indent=indent, separators=separators, ensure_ascii=False)


@functools.cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


@dataclass(slots=True)
class ReceptiveField(Model):
    size: tuple[int, int]  # input pixels seen, (height, width)
    stride: tuple[float, float]  # input pixels between neighbouring outputs (the "jump")


@dataclass(frozen=True, kw_only=True, slots=True)
class Layer(Model):
    name: str  # hierarchical module name, e.g. layer1.0.conv1
    op: str  # canonical op name
    describe: str  # the op with every resolved argument
    args: dict[str, Any]
    inputs: list[str]
    output_shape: tuple[int, ...]  # per sample (per region where rows > 1): (C, H, W) or (N,)
    rows: int = 1  # per image: 1, or R, the regions of a per-region tensor (after RoI pooling: R x C x 7 x 7)
    params: int  # trainable parameters
    buffers: int  # non-trainable state (BN running statistics)
    param_shapes: dict[str, tuple[int, ...]]  # relative state_dict key → shape
    buffer_shapes: dict[str, tuple[int, ...]]
    macs: int  # multiply-accumulates per sample (conv, fc, transposed conv); R times a region's, per region
    macs_all: int  # macs plus what ``--count all`` adds: bias adds, BN, pooling, activations, sums
    activations: int  # output elements per sample (R times a region's, per region)
    elementwise: bool  # needs no memory of its own (in-place activation, identity): not in the activation total
    saves: str  # what its backward needs: "input", "output" or "none"
    receptive_field: ReceptiveField
    source: str  # file:line:column of the spec text that made it

    @property
    def kind(self) -> type[Op]:
        """The op's class: what the views ask of it (``layer.kind.pointwise``, its title, its family)."""
        return REGISTRY[self.op]


@dataclass(kw_only=True)
class Totals(Model):
    params: int
    trainable_params: int
    buffers: int
    macs: int
    flops: int  # 2 x MACs
    activations: int  # per sample; input and every non-elementwise layer's output
    macs_all: int  # with --count all's extra operations
    peak_activations: int  # inference: the most activation values alive at once (tensor lifetimes)
    saved_activations: int  # training: the values the forward pass keeps for backward
    largest_activation: int  # the largest single activation tensor
    largest_layer: str  # the layer that makes it


@dataclass(kw_only=True, repr=False)
class Analysis(Model):
    """``archdsl.load(...).analyze()``: shapes, counts and receptive fields, computed without torch."""

    schema_version: int = SCHEMA_VERSION
    name: str
    input_shape: tuple[int, ...]  # the (first) input's, per sample
    # every input by its name in the compiled forward (x: the first, unnamed)
    inputs: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    outputs: dict[str, tuple[int, ...]]
    # rows per image of each output: 1, or R for one row per region
    output_rows: dict[str, int] = dataclasses.field(default_factory=dict)
    totals: Totals
    layers: list[Layer]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def outputs_text(self) -> str:
        """The outputs and their shapes on one line: ``output 1000``, ``output 10, aux1 10``."""
        return ", ".join(
            f"{k} {self.rows_text(self.output_rows.get(k, 1))}{'x'.join(map(str, v))}" for k, v in self.outputs.items()
        )

    def rows_text(self, rows: int) -> str:
        """How a shape shows its rows: nothing per image, ``R×`` per region (``R×512x7x7``); where regions come
        in several counts, the count (``300×``)."""
        if rows == 1:
            return ""
        return "R×" if len(self.region_counts) == 1 else f"{rows}×"

    @property
    def region_counts(self) -> list[int]:
        """The counts of regions per image of the per-region layers (after RoI pooling), ascending; [] where
        there are none."""
        return sorted({x.rows for x in self.layers} - {1})

    @property
    def regions(self) -> int | None:
        """R, the regions per image of the per-region layers; None where there are none, the largest where
        they come in several counts."""
        return self.region_counts[-1] if self.region_counts else None

    def beyond_one_image(self) -> str | None:
        """What makes this more than one image in and per-image tensors out (``takes 2 inputs``, ``has
        per-region layers``), which a classifier's training or a traced export cannot follow; None if nothing."""
        if len(self.inputs) > 1:
            return f"takes {len(self.inputs)} inputs"
        return "has per-region layers (proposals, RoI ops)" if self.region_counts else None

    def summary(self) -> str:
        """``138,357,544 params, 15,470,264,320 MACs, 3x224x224 → output 1000``."""
        shape = "x".join(map(str, self.input_shape))
        if len(self.inputs) > 1:
            shape = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in self.inputs.items())
        return f"{self.totals.params:,} params, {self.totals.macs:,} MACs, {shape} → {self.outputs_text()}"

    def __repr__(self) -> str:
        """One line, not a dump of every layer."""
        return f"<Analysis {self.name}: {len(self.layers)} layers, {self.summary()}>"

    __str__ = __repr__

    def _repr_html_(self) -> str | None:
        """Jupyter shows an analysis as the report's table, drawn by the view that archdsl.pipeline
        sets in ``html_view`` (the IR imports no view); None (plain text) where none is set."""
        return html_view(self) if html_view is not None else None

    def state_dict_shapes(self) -> dict[str, tuple[int, ...]]:
        """The ``state_dict`` the compiled module will have: key → shape, in torch's order (module by
        module in the order they were attached: a module's parameters, its buffers, then its children).
        A parameter held by a node itself (key "", like SSD's ``backbone.scale_weight``) belongs to
        the module above it, so it comes before that module's children."""
        root = _Module()
        for layer in self.layers:
            for kind, shapes in (("params", layer.param_shapes), ("buffers", layer.buffer_shapes)):
                for key, shape in shapes.items():
                    full = f"{layer.name}.{key}" if key else layer.name
                    path, _, leaf = full.rpartition(".")
                    getattr(root.at(path), kind).append((full, tuple(shape)))
        return dict(root.walk())


# how a notebook shows an Analysis as HTML: set by archdsl.pipeline to the views' table
html_view: Callable[[Analysis], str] | None = None


def total(layers: list[Layer], outputs: list[str]) -> Totals:
    from .memory import peak_inference, saved_for_backward

    macs = sum(x.macs for x in layers)
    params = sum(x.params for x in layers)
    largest = max(layers, key=lambda x: x.activations)
    return Totals.model_construct(
        params=params,
        trainable_params=params,
        buffers=sum(x.buffers for x in layers),
        macs=macs,
        flops=2 * macs,
        activations=sum(x.activations for x in layers if not x.elementwise),
        macs_all=sum(x.macs_all for x in layers),
        peak_activations=peak_inference(layers, outputs),
        saved_activations=saved_for_backward(layers),
        largest_activation=largest.activations,
        largest_layer=largest.name,
    )


def count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(prod(s) for s in shapes.values())


class _Module:
    """A module of the compiled tree, as far as its state_dict goes."""

    def __init__(self):
        self.params: list[tuple[str, tuple[int, ...]]] = []
        self.buffers: list[tuple[str, tuple[int, ...]]] = []
        self.children: dict[str, _Module] = {}

    def at(self, path: str) -> _Module:
        node = self
        for part in path.split(".") if path else ():
            node = node.children.setdefault(part, _Module())
        return node

    def walk(self):
        yield from self.params
        yield from self.buffers
        for child in self.children.values():
            yield from child.walk()
