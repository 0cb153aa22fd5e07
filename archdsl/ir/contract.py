"""The input contract: the input sizes at which a network compiled at its spec's size is still the network
the analysis describes.

A compiled model reads every size it needs from its tensors at run time (crop boxes, resize targets,
head reshapes), so it takes other inputs as torchvision's models do. What it cannot change is its
modules: a ``Linear`` after a flatten was built for the declared map size, a residual projection for
the stride the declared sizes gave it. The contract is therefore the set of input sizes where

- every op's shape rule holds (the network is well formed), and
- every op compiles to the very module it was compiled to at the declared size,

found by running the ops' own rules on symbolic sizes (archdsl/ir/symbolic/), one axis at a time
(the other at its declared size): each condition then has one unknown and is solved exactly into an
eventually periodic set of sizes (``H ≡ 12 (mod 16), H >= 188``). A second run with both sizes
symbolic checks that the conditions do not tie height and width together; where they do, the
contract keeps only the product of what is proven per axis and what holds jointly, or, failing a
proof, the declared size alone, and says so.

Pure Python like the analysis: no torch here. The compiled model checks the contract at the start of
``forward`` with :class:`archdsl.backend.layers.InputCheck`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from .analysis import Analysis
    from .graph import Graph


import hashlib
from dataclasses import dataclass

from .. import cache
from ..errors import ArchError
from .sizes import SizeSet


@dataclass(frozen=True)
class InputContract:
    """The inputs a compiled network accepts: ``shape``'s channels, and a height in ``height`` and a
    width in ``width`` (None for an input that is not CxHxW: exactly ``shape``)."""

    network: str
    shape: tuple[int, ...]  # the spec's input shape (CxHxW)
    height: SizeSet | None
    width: SizeSet | None
    note: str = ""  # why the contract is narrower than the analysis alone would say, if it is

    def admits(self, shape: tuple[int, ...]) -> bool:
        """Whether a per-sample shape (CxHxW) is accepted."""
        shape = tuple(shape)
        if self.height is None:
            return shape == self.shape
        return len(shape) == 3 and shape[0] == self.shape[0] and shape[1] in self.height and shape[2] in self.width

    @property
    def fixed(self) -> bool:
        """Only the declared size is accepted."""
        return self.height is None or (self.height.single and self.width.single)

    def conditions(self) -> str:
        """``H >= 32, W >= 32``; ``H ≡ 12 (mod 16), H >= 188; W ≡ 12 (mod 16), W >= 188``."""
        if self.height is None:
            return "exactly this shape"
        if self.height == self.width:
            return _same(self.height)
        return "; ".join(s.describe(n) for n, s in (("H", self.height), ("W", self.width)))

    def describe(self) -> str:
        """One line for reports: ``3xHxW with H >= 32, W >= 32``."""
        if self.height is None:
            return "x".join(map(str, self.shape)) + " only"
        return f"{self.shape[0]}xHxW with {self.conditions()}" + (f" ({self.note})" if self.note else "")

    def module_args(self) -> tuple:
        """The arguments of :class:`archdsl.backend.layers.InputCheck` (plain ints, lists and strings)."""
        if self.height is None:  # a vector input: the rank and the size decide, the sets are never read
            sets = [_set_data(SizeSet.none())] * 2
        else:
            sets = [_set_data(self.height), _set_data(self.width)]
        rank = len(self.shape)
        return (self.network, rank, self.shape[0], *sets, self.describe())


def _same(s: SizeSet) -> str:
    h, w = s.describe("H"), s.describe("W")
    return f"{h}; {w}" if " or " in h else f"{h}, {w}"


def _set_data(s: SizeSet) -> list:
    return [int(s.period), int(s.start), sorted(int(r) for r in s.residues), sorted(int(n) for n in s.small)]


def _axis_set(result) -> tuple[SizeSet, bool]:
    """The sizes of one symbolic axis where a run is well formed, and whether every condition was solved."""
    sym = result.symbols[0]
    found, solved = SizeSet.none(), True
    for regime in result.regimes:
        if regime.region.raw:
            solved = False
            continue
        found = found | regime.region.get(sym)
    return found, solved


def input_contract(g: Graph, analysis: Analysis) -> InputContract:
    """The contract of ``g`` compiled at ``analysis``'s (the declared) sizes; kept in the per-user cache
    (archdsl/cache.py) under a digest of the graph, so that reading it again needs no sympy."""
    data = cache.cached("contract", (graph_digest(g),), lambda: _to_data(solve_contract(g, analysis)))
    contract = _from_data(data)
    return contract if contract is not None else solve_contract(g, analysis)


def graph_digest(g: Graph) -> str:
    """A digest of everything the contract depends on: every node's name, op, settings and inputs, in order."""
    h = hashlib.sha256(g.graph["name"].encode())
    for name in g:
        data = g.nodes[name]
        h.update(repr((name, data.op.name, data.op.p, data.inputs)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _to_data(c: InputContract) -> tuple:
    """The contract as plain ints, lists and strings: what the cache keeps."""
    return (c.network, tuple(c.shape), *[None if s is None else _set_data(s) for s in (c.height, c.width)], c.note)


def _from_data(data) -> InputContract | None:
    """The contract a cache entry holds, or None for an entry that is not one (then it is worked out again)."""
    try:
        network, shape, h, w, note = data
        ok = (
            isinstance(network, str)
            and isinstance(note, str)
            and all(type(d) is int for d in shape)
            and all(
                x is None
                or (
                    type(x[0]) is int
                    and type(x[1]) is int
                    and x[0] >= 1
                    and all(type(n) is int for n in (*x[2], *x[3]))
                )
                for x in (h, w)
            )
        )
        sets = [None if x is None else SizeSet.listing(x[0], x[1], frozenset(x[2]), x[3]) for x in (h, w)]
        return InputContract(network, tuple(shape), sets[0], sets[1], note) if ok else None
    except (TypeError, ValueError):
        return None


def solve_contract(g: Graph, analysis: Analysis) -> InputContract:
    """The contract worked out on symbolic sizes (see the module's docstring)."""
    shape = analysis.input_shape
    if len(shape) != 3:
        return InputContract(analysis.name, shape, None, None)
    shapes = {layer.name: layer for layer in analysis.layers}
    fixed = {}
    for name in g:
        data = g.nodes[name]
        ins = [shapes[i].output_shape for i in data.inputs]
        spec = data.op.torch(ins, shapes[name].output_shape) if data.inputs else None
        if spec is not None:
            fixed[name] = spec
    from .symbolic.walk import _walk

    c, h0, w0 = shape
    try:
        height, ok_h = _axis_set(_walk(g, *_symbolic(f"{c}xHx{w0}"), fixed))
        width, ok_w = _axis_set(_walk(g, *_symbolic(f"{c}x{h0}xW"), fixed))
        product = _product_region(_walk(g, *_symbolic(f"{c}xHxW")))
    except ArchError as err:  # a rule that cannot run on symbolic sizes, or too many regimes
        return _declared_only(analysis, f"its other sizes could not be worked out: {err.message}")
    except (ArithmeticError, NotImplementedError, RecursionError, TypeError, ValueError) as err:
        # sympy could not solve a relation (``3*H*W - 8*floor(3*H*W/8)``): nothing is proven beyond the
        # declared size, which the analysis itself checked
        return _declared_only(analysis, f"its other sizes could not be worked out ({type(err).__name__})")
    if product is None:
        return _declared_only(analysis, "its size conditions tie height and width together")
    note = "" if ok_h and ok_w else "some conditions could not be solved: only the sizes proven are admitted"
    height, width = height & product[0], width & product[1]
    if h0 not in height or w0 not in width:  # the analysis checked the declared size itself: a solver's slip
        return _declared_only(analysis, "its other sizes could not be worked out exactly")
    return InputContract(analysis.name, shape, height, width, note)


def _declared_only(analysis, why: str) -> InputContract:
    _, h0, w0 = analysis.input_shape
    return InputContract(
        analysis.name,
        analysis.input_shape,
        SizeSet.only(h0),
        SizeSet.only(w0),
        f"{why}: only the declared size is admitted",
    )


def _symbolic(text: str) -> tuple[tuple, tuple]:
    """``"3xHx224"`` → the shape with its named sizes as sympy symbols, and those symbols."""
    from .symbolic.walk import parse_input

    shape = parse_input(text)
    return shape, tuple(d for d in shape if not isinstance(d, int))


def _product_region(result) -> tuple[SizeSet, SizeSet] | None:
    """The joint run's well-formed sizes as (heights, widths) when they are such a product, else None."""
    if len(result.regimes) != 1 or result.regimes[0].region.raw:
        return None
    region = result.regimes[0].region
    h, w = result.symbols
    return region.get(h), region.get(w)


def shapes_at(g: Graph, shape: tuple[int, ...]) -> dict[str, tuple] | None:
    """Every node's output shape for another input shape (None where a rule refuses it): the graph does
    not depend on the input size, so the ops' shape rules are simply run again."""
    from ..ops.base import OpProblem

    out: dict[str, tuple] = {}
    for name in g:
        data = g.nodes[name]
        try:
            out[name] = tuple(shape) if not data.inputs else data.op.infer([out[i] for i in data.inputs])
        except OpProblem:
            return None
    return out


def traceable_from(g: Graph, contract: InputContract, axis: int) -> int | None:
    """The smallest admitted size along ``axis`` (1: height, 2: width; the other at its declared size) from
    which every feature map is at least 2 wide along it, and so are all larger admitted sizes of the same
    progression: torch.export specialises a size that may be 1 (broadcasting), so a dynamic export starts
    there. None when the axis does not have one progression of sizes (n ≡ r mod p from some n on)."""
    s = contract.height if axis == 1 else contract.width
    if s is None or len(s.residues) != 1:
        return None
    step, low = s.period, s._lowest()

    def at(n: int) -> dict[str, tuple] | None:
        shape = list(contract.shape)
        shape[axis] = n
        return shapes_at(g, tuple(shape))

    declared, far = at(contract.shape[axis]), at(contract.shape[axis] * 4 + step * 8)
    if declared is None or far is None:
        return None
    # the sizes that follow the input (a global pool's 1x1 does not; after a permute H is not axis 1)
    varying = [(n, i) for n, v in declared.items() for i, d in enumerate(v) if len(far[n]) == len(v) and far[n][i] != d]

    def wide(n: int) -> bool:
        shapes = at(n)
        return shapes is not None and all(shapes[name][i] >= 2 for name, i in varying)

    k_lo, k_hi = 0, 1
    while not wide(low + k_hi * step):  # the sizes only grow with the input: search by doubling, then halving
        k_lo, k_hi = k_hi, k_hi * 2
        if k_hi > 1 << 20:
            return None
    if wide(low):
        return low
    while k_hi - k_lo > 1:
        mid = (k_lo + k_hi) // 2
        k_lo, k_hi = (k_lo, mid) if wide(low + mid * step) else (mid, k_hi)
    return low + k_hi * step
