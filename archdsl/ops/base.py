"""The op protocol and its registry.

An op is one class that holds everything about a layer type, side by side:
its parameter schema (declared as a pydantic model: archdsl/ops/schema.py), names and shorthands, shape rule,
parameter/buffer shapes, MACs, receptive-field rule and torch builder.
Nothing else in archdsl switches on op names: what the other stages ask of an op (its title in a
diagram, whether it folds, merges or upsamples, its fully convolutional form, ...) is a property or a
method here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from math import prod
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, get_args, get_origin

from .schema import Params

if TYPE_CHECKING:  # the compile stage builds torch.fx graphs; an op only says what to add
    from torch import fx

Shape = tuple[int, ...]  # per-sample shape: (C, H, W) or (N,)

REGISTRY: dict[str, type[Op]] = {}  # canonical name → class
ALIASES: dict[str, type[Op]] = {}  # lower-case alias → class
# keyword spellings users know from torch and the papers, mapped to our short field names
KWARG_ALIASES = {
    "kernel": "k",
    "kernel_size": "k",
    "stride": "s",
    "padding": "p",
    "dilation": "d",
    "out_channels": "out",
    "channels": "out",
    "filters": "out",
    "out_features": "out",
    "units": "out",
    "g": "groups",
    "ceil_mode": "ceil",
    "negative_slope": "slope",
    "scale_factor": "scale",
    "output_size": "size",
    "rate": "p",
}


class NoParams(Params):
    pass


class OpProblem(Exception):
    """Raised by an op's rules; the infer stage adds the node name and source span."""

    def __init__(self, message: str, hint: str | None = None, field: str | None = None, small: bool = False):
        super().__init__(message)
        self.message, self.hint = message, hint
        self.field = field  # the argument at fault, so the error can point at it
        self.small = small  # the map became too small: a larger network input may cure it (infer says which)


@dataclass(frozen=True)
class RF:
    """Receptive field per axis (height, width): size in input pixels and jump (effective stride)."""

    size: tuple[int, int] = (1, 1)
    jump: tuple[Fraction, Fraction] = (Fraction(1), Fraction(1))

    def window(self, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int] = (1, 1)) -> RF:
        size = tuple(int(r + (kk - 1) * dd * j) for r, kk, dd, j in zip(self.size, k, d, self.jump))
        return RF(size, tuple(j * ss for j, ss in zip(self.jump, s)))

    @staticmethod
    def merge(fields: list[RF]) -> RF:
        return RF(
            tuple(max(f.size[i] for f in fields) for i in range(2)),
            tuple(max(f.jump[i] for f in fields) for i in range(2)),
        )


@dataclass(frozen=True)
class ModuleSpec:
    """A torch module described as data: ``nn.<cls>(*args, **kwargs)``.

    The compile stage instantiates it; the code generator prints it. Arguments may be
    nested ModuleSpecs (``nn.Sequential``)."""

    cls: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def spatial(shape: Shape) -> tuple[int, int]:
    if len(shape) != 3:
        got = f"a flat vector of {shape[0]} values" if len(shape) == 1 else fmt_shape(shape)
        raise OpProblem(
            f"needs a CxHxW feature map, got {got}", "put it before any fc/flatten, or reshape back to CxHxW"
        )
    return shape[1], shape[2]


def pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


# the pieces of a title
def show_kernel(v: Any) -> str:
    """``3`` → ``3x3``; ``(1, 7)`` → ``1x7``."""
    h, w = pair(v)
    return f"{h}x{w}"


def show_stride(v: Any) -> str:
    """``2`` → ``/2``; ``(2, 1)`` → ``/2x1``; none or 1 → nothing."""
    if v is None or pair(v) == (1, 1):
        return ""
    h, w = pair(v)
    return f"/{h}" if h == w else f"/{h}x{w}"


def show_number(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class Emitter(Protocol):
    """What an op's ``emit`` may ask of the compile stage (``archdsl.backend.compile.Emitter``): fx nodes
    for a module, a function, a method, an item or a size, a learnable parameter, and values kept per node."""

    def module(self, spec: ModuleSpec, args: list, child: str | None = None) -> fx.Node: ...
    def function(self, name: str, args: list, kwargs: dict | None = None) -> fx.Node: ...
    def method(self, name: str, args: list) -> fx.Node: ...
    def getitem(self, x: fx.Node, index: Any) -> fx.Node: ...
    def size(self, x: fx.Node, dim: int) -> fx.Node: ...
    def spatial_size(self, x: fx.Node) -> fx.Node: ...
    def arith(self, name: str, a: Any, b: Any) -> fx.Node: ...
    def parameter(self, shape: tuple[int, ...], fill: float) -> fx.Node: ...
    def placeholder(self) -> fx.Node: ...
    def stride(self, node: str) -> tuple[float, float]: ...
    def keep(self, node: str, key: str, value: Any) -> None: ...
    def kept(self, node: str, key: str) -> Any: ...
    def op_of(self, node: str) -> Op: ...


class Op:
    """One layer type. Subclasses set the class attributes and override the rules they need."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    # an activation's torch function (FUNCTIONS of the compile stage), for a merge's ``act=``; None: not one
    function: ClassVar[str | None] = None
    Params: ClassVar[type[Params]] = NoParams
    positional: ClassVar[tuple[str, ...]] = ()  # order of positional arguments
    dash: ClassVar[str | None] = None  # the field the -N of ``conv3-64`` fills
    slash: ClassVar[str | None] = None  # the field the /N of ``conv7-64/2`` fills
    shorthand: ClassVar[str | None] = None  # the field the digits of ``conv3`` / ``pool2`` fill
    var_defaults: ClassVar[dict[str, str]] = {}  # field → spec variable used when the field is omitted
    body: ClassVar[str | None] = None  # None, "branches" (concat/add) or "residual"
    learnable: ClassVar[bool] = False  # has parameters (used for the bare-FC → classes rule)
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    refs: ClassVar[tuple[str, ...]] = ()  # fields that name another node (crop's reference)
    ref_source: ClassVar[bool] = False  # also take the referenced node's own input (unpool: the size before pooling)
    ref_data: ClassVar[int] = 0  # how many of its refs (the first ones) flow into it as data (roi_pool's boxes), not
    #                              only lend it a size
    boxes_field: ClassVar[str | None] = None  # the ref field that names boxes (x1, y1, x2, y2; roi_pool's): an
    #                                           input it names is made of valid boxes by Net.example_inputs
    ref_defaults: ClassVar[dict[str, str]] = {}  # ref field → the node it names when omitted (proposals' image: the
    #                                              network's input)
    variadic: ClassVar[bool] = False  # all positional arguments fill the first positional field
    elementwise: ClassVar[bool] = False  # output may overwrite its input (not counted in activation totals)
    saves: ClassVar[str] = "none"  # what backward needs of it: "input" (conv, fc, bn, max-pool), "output"
    #                                (relu, tanh, sigmoid, softmax) or "none" (sums, concat, average pools)
    # what the other stages ask of it (diagrams, transforms, the symbolic report), so that none of them
    # keeps a list of op names
    pointwise: ClassVar[bool] = False  # acts on each value (or channel) alone and keeps the shape: folded into
    #                                    the box before it in a diagram; the same on a vector as on a map
    minor: ClassVar[bool] = False  # only moves, pads, crops or resizes values: a branch of such layers alone is
    #                                no path of layers (a diagram's skip connections)
    merge: ClassVar[bool] = False  # joins branches: a diagram's merge node
    upsampling: ClassVar[bool] = False  # makes a map larger: the way back up of a U-shaped diagram
    resizes: ClassVar[bool] = False  # sets a map's size other than by a strided window: a key layer of the
    #                                  symbolic report
    shortcut: ClassVar[bool] = False  # a residual's shortcut: drawn as an edge where it has no weights
    family: ClassVar[str | None] = None  # the diagram's colour: conv, dwconv, upsampling, pool, classifier, spatial,
    #                                      reshape, io (None: the plain one)
    is_input: ClassVar[bool] = False  # the network's input: nothing comes before it
    data_inputs: ClassVar[int | None] = None  # of its inputs, how many flow into it (None: all but its refs); the
    #                                           rest only lend it a size (a projection's second input)
    shortcuts: ClassVar[str | None] = None  # which inputs of a merge a diagram draws as a shortcut: "after_first"
    #                                         (residual), "shortest" (an add whose short branch beside a long one is
    #                                         a residual written out)
    passes_through: ClassVar[bool] = False  # returns its input as it is (identity): a branch of it alone is the
    #                                         block's input (DenseNet's concat { identity; H })
    stacks_channels: ClassVar[bool] = False  # joins its inputs along the channels (concat): a dense block is a
    #                                          chain of them
    shows_inputs: ClassVar[bool] = False  # a diagram labels the edges into it with their shapes (a concat's parts)
    symbol: ClassVar[str | None] = None  # a merge drawn as a circle with this sign (TikZ); None: its title
    # its row in docs/language.md's table of ops (ops.reference_table): arguments with defaults, shorthands and
    # positional order, what it is; ``written_also``: other spellings the grammar reads as this op
    reference: ClassVar[tuple[str, str, str]] = ("—", "—", "")
    written_also: ClassVar[tuple[str, ...]] = ()
    classes_field: ClassVar[str | None] = None  # written bare (``FC``) as the last learnable layer before an
    #                                             output, this field takes the spec's ``classes``

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "name" not in cls.__dict__:
            return
        if cls.name in REGISTRY:
            raise RuntimeError(f"op '{cls.name}' registered twice")
        REGISTRY[cls.name] = cls
        for alias in (cls.name, *cls.aliases):
            key = alias.lower()
            if key in ALIASES and ALIASES[key] is not cls:
                raise RuntimeError(f"op alias '{alias}' registered twice")
            ALIASES[key] = cls

    def __init__(self, params: Params):
        self.p = params

    @classmethod
    def make(cls, values: dict[str, Any]) -> Op:
        """Validate keyword values against the schema; raise OpProblem on a bad one."""
        fields = ", ".join(cls.Params.model_fields) or "none"
        for key, v in values.items():  # pydantic would quietly read true as 1
            field = cls.Params.model_fields.get(key)
            if isinstance(v, bool) and field is not None and _takes_number(field.annotation):
                raise OpProblem(
                    f"{cls.name}: '{key}' takes a number, not {_shown(v)}", f"its arguments are: {fields}", key
                )
        try:
            return cls(cls.Params(**values))
        except Exception as err:  # pydantic's ValidationError: pydantic is imported only when a value needs it
            from pydantic import ValidationError

            if not isinstance(err, ValidationError):
                raise
            first = err.errors()[0]
            key = str(first["loc"][0]) if first["loc"] else None  # 'k', not pydantic's union branch 'k.int'
            loc = key or "arguments"
            if first["type"] == "extra_forbidden":
                from ..errors import did_you_mean

                guess = did_you_mean(loc, cls.Params.model_fields)
                raise OpProblem(
                    f"{cls.name} takes no argument '{loc}'",
                    f"did you mean '{guess}'?" if guess else f"its arguments are: {fields}",
                    key,
                ) from None
            got = first.get("input")
            union = sum(1 for e in err.errors() if e["loc"] and str(e["loc"][0]) == key) > 1
            if union and key in cls.Params.model_fields:  # every alternative failed: say what it takes
                raise OpProblem(
                    f"{cls.name}: bad value {_shown(got)} for "
                    f"'{loc}': expected "
                    f"{_expects(cls.Params.model_fields[key].annotation)}",
                    f"its arguments are: {fields}",
                    key,
                ) from None
            if first["type"] == "value_error":
                raise OpProblem(
                    f"{cls.name}: {first['msg'].removeprefix('Value error, ')}", f"its arguments are: {fields}", key
                ) from None
            if first["type"] == "missing":
                raise OpProblem(f"{cls.name} needs the argument '{loc}'", f"its arguments are: {fields}") from None
            raise OpProblem(
                f"{cls.name}: bad value {_shown(got)} for '{loc}': {first['msg'].lower()}",
                f"its arguments are: {fields}",
                key,
            ) from None

    def check_ref(self, field: str, target: Op) -> None:
        """Refuse a reference to the wrong kind of node (raise OpProblem); most ops take any."""

    # --- the rules; ``ins`` are the input shapes in order ---
    def infer(self, ins: list[Shape]) -> Shape:
        return ins[0]

    def rows(self, rows: list[int], ins: list[Shape]) -> int:
        """How many rows its output has per image: 1 for a per-image tensor, R for one row per region (after
        RoI pooling: R x C x 7 x 7). ``rows`` are its inputs'. Most ops keep their inputs' rows, which must agree:
        a per-region tensor meets a per-image one only in an op made for it (roi_pool)."""
        if len(set(rows)) > 1:
            raise OpProblem(
                f"it mixes per-image inputs with per-region ones ({' and '.join(map(_per, sorted(set(rows))))})",
                "regions meet the image's feature map only in roi_pool / roi_align",
            )
        return rows[0] if rows else 1

    def weights(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        return {}

    def buffers(self, ins: list[Shape], out: Shape) -> dict[str, Shape]:
        return {}

    def macs(self, ins: list[Shape], out: Shape) -> int:
        return 0

    def extra_macs(self, ins: list[Shape], out: Shape) -> int:
        """The operations ``--count all`` adds on top of ``macs`` (ptflops' rules: bias adds, BN,
        pooling, activations, element-wise sums); 0 for ops that do no arithmetic."""
        return 0

    def receptive_field(self, rfs: list[RF], ins: list[Shape], out: Shape) -> RF:
        return RF.merge(rfs)

    def torch(self, ins: list[Shape], out: Shape) -> ModuleSpec | None:
        """The module this op compiles to, or None for a purely functional op (see ``emit``)."""
        return None

    def emit(self, g: Emitter, args: list, ins: list[Shape], out: Shape) -> fx.Node:
        """Add this op to a torch.fx graph through the compile stage's emitter ``g``."""
        spec = self.torch(ins, out)
        if spec is None:
            return args[0]
        return g.module(spec, args)

    @classmethod
    def split_inputs(cls, n: int) -> tuple[int, int]:
        """Of ``n`` inputs, how many carry data, and how many after them are references (``crop(@x)``'s ``@x``
        lends only its size; an unpool's reference also brings the pool's input); a residual's projection
        reads the body's output for its shape only. What a diagram draws as data and reference edges."""
        if cls.refs:
            extra = len(cls.refs) * (2 if cls.ref_source else 1)
            return n - extra + cls.ref_data, len(cls.refs) - cls.ref_data
        return (cls.data_inputs, 0) if cls.data_inputs is not None else (n, 0)

    # --- transforms ---
    def convolutional(
        self, ins: list[Shape], out: Shape, kernel: tuple[int, int] | None
    ) -> tuple[Op | None, tuple[int, int] | None]:
        """OverFeat's sliding window (archdsl.ir.transform): the op that replaces this one in the fully
        convolutional network (None: itself), and the kernel an fc reading its output becomes (None: its
        output is a map). ``kernel`` is what its first input, a vector that became a map, stands for (None
        where the input is a map or no convolution made it). Raises OpProblem where it has no such form."""
        if not any(len(s) == 1 for s in ins):
            return None, None
        if self.pointwise and kernel is not None:
            return None, kernel
        raise OpProblem(f"{self.name} works on vectors here, and has no convolutional form")

    def convolutional_state(self, state: dict[str, Any], new: Op) -> dict[str, Any]:
        """This layer's tensors (by their names in the layer) for ``new``, the op :meth:`convolutional`
        made of it; the same tensors by default."""
        return state

    # --- presentation ---
    @classmethod
    def title(cls, args: dict[str, Any], ins: list[Shape], out: Shape) -> str:
        """The op in a few characters, as the papers' figures write it (a diagram's box, the report's op
        column): ``conv 3x3/2, 64``, ``maxpool 3x3/2``, ``fc 4096``, ``+``. ``args`` as the analysis keeps them."""
        return cls.name.replace("_", " ")

    @classmethod
    def note(cls, args: dict[str, Any]) -> str:
        """The op in a word, where it is folded into the box of the layer before it: ``bn``, ``dropout 0.5``."""
        return cls.name.replace("_", " ")

    def in_place(self, ins: list[Shape], out: Shape) -> bool:
        """Whether the output needs no memory of its own (an in-place activation, an identity)."""
        return self.elementwise

    def describe_in(self, ins: list[Shape], out: Shape) -> str:
        """``describe`` for this node's shapes; ops whose meaning depends on them override it."""
        return self.describe()

    def describe(self) -> str:
        """``conv(64, k=3, s=1, p=1, d=1, groups=1, bias=true)``: every resolved argument."""
        parts = [f"{k}={_fmt(v)}" for k, v in self.p.model_dump().items() if k not in self.refs]
        return f"{self.name}({', '.join(parts)})"

    def args_dict(self) -> dict[str, Any]:
        return self.p.model_dump()


def _per(rows: int) -> str:
    return "per image" if rows == 1 else f"{rows:,} regions per image"


def _fmt(v: Any) -> str:
    """A value as the language writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _shown(v: Any, depth: int = 0) -> str:
    """A value as an error message shows it: as the language writes it, shortened to 8 items of a tuple,
    3 levels and 60 characters of text (a range(100000) was 689 kB of message)."""
    if isinstance(v, (tuple, list)):
        if depth >= 3:
            return "(...)"
        return "(" + ", ".join([_shown(x, depth + 1) for x in v[:8]] + ["..."] * (len(v) > 8)) + ")"
    if isinstance(v, str):
        return repr(v) if len(v) <= 60 else repr(v[:57]) + "..."
    text = _fmt(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _expects(tp: Any) -> str:
    """A field type in words: ``int | tuple[int, int]`` → 'an integer or a pair (height, width)'."""
    parts = _alternatives(tp)
    from ..errors import listed

    return listed(parts, "or") or str(tp)


def _alternatives(tp: Any) -> list[str]:
    args = get_args(tp)
    if tp in _WORDS:
        return [_WORDS[tp]] if _WORDS[tp] else []
    if get_origin(tp) is Literal:
        return [repr(a) for a in args]
    if get_origin(tp) is tuple:
        return ["a pair (height, width)" if len(args) == 2 else f"{len(args)} integers in parentheses"]
    return [p for a in args for p in _alternatives(a)]


_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a word", type(None): ""}


def _takes_number(tp: Any) -> bool:
    """Whether a field's type accepts a number (so a bool would pass as 0/1)."""
    return tp in (int, float) or any(_takes_number(a) for a in get_args(tp))


SHORTHAND = re.compile(r"^([A-Za-z_]+?)(\d+)$")  # conv3, pool2: an op name and a size


def lookup(name: str) -> tuple[type[Op], dict[str, int]] | None:
    """Resolve an op name, including shorthands like ``conv3`` (kernel 3) or ``pool2``."""
    key = name.lower()
    if key in ALIASES:
        return ALIASES[key], {}
    m = SHORTHAND.match(key)
    if m and m.group(1) in ALIASES and ALIASES[m.group(1)].shorthand:
        cls = ALIASES[m.group(1)]
        return cls, {cls.shorthand: int(m.group(2))}
    return None


def numel(shape: Shape) -> int:
    return prod(shape)
