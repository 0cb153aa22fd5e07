"""The input contract: the input sizes at which a network compiled at its spec's size is still the network
the analysis describes.

A compiled model reads every size it needs from its tensors at run time (crop boxes, resize targets,
head reshapes), so it takes other inputs as torchvision's models do. What it cannot change is its
modules: a ``Linear`` after a flatten was built for the declared map size, a residual projection for
the stride the declared sizes gave it. The contract is therefore the set of input sizes where

- every op's shape rule holds (the network is well formed), and
- every op compiles to the very module it was compiled to at the declared size,

found by running the ops' own rules on symbolic sizes (archdsl/symbolic.py), one axis at a time
(the other at its declared size): each condition then has one unknown and is solved exactly into an
eventually periodic set of sizes (``H ≡ 12 (mod 16), H >= 188``). A second run with both sizes
symbolic checks that the conditions do not tie height and width together; where they do, the
contract keeps only the product of what is proven per axis and what holds jointly, or, failing a
proof, the declared size alone, and says so.

Pure Python like the analysis: no torch here. The compiled model checks the contract at the start of
``forward`` with :class:`archdsl.layers.InputCheck`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ArchError
from .symbolic import SizeSet, _walk, parse_input


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
    def any_size(self) -> bool:
        return self.height is not None and self.height.full and self.width.full

    @property
    def fixed(self) -> bool:
        """Only the declared size is accepted."""
        return self.height is None or (_single(self.height) and _single(self.width))

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

    def nearest(self, h: int, w: int) -> list[tuple[int, int]]:
        """The accepted sizes closest to h x w: below and above on each axis (at most four)."""
        hs, ws = _around(self.height, h), _around(self.width, w)
        return sorted({(a, b) for a in hs for b in ws}, key=lambda s: (abs(s[0] - h) + abs(s[1] - w), s))[:4]

    def module_args(self) -> tuple:
        """The arguments of :class:`archdsl.layers.InputCheck` (plain ints, lists and strings)."""
        if self.height is None:
            sets = [_fixed_set(n) for n in self.shape[1:3]] if len(self.shape) == 3 else [[1, 1, [], []]] * 2
        else:
            sets = [_set_data(self.height), _set_data(self.width)]
        rank = len(self.shape)
        return (self.network, rank, self.shape[0], *sets, self.describe())


def _single(s: SizeSet) -> bool:
    return not s.residues and len(s.small) == 1


def _same(s: SizeSet) -> str:
    h, w = s.describe("H"), s.describe("W")
    return f"{h}; {w}" if " or " in h else f"{h}, {w}"


def _around(s: SizeSet, n: int) -> list[int]:
    """The largest member <= n and the smallest >= n (n itself when it is one)."""
    if n in s:
        return [n]
    below = next((m for m in range(n - 1, 0, -1) if m in s), None)
    limit = max(n, s.start) + s.period + 1
    above = next((m for m in range(n + 1, limit + 1) if m in s), None)
    return [m for m in (below, above) if m is not None]


def _set_data(s: SizeSet) -> list:
    return [int(s.period), int(s.start), sorted(int(r) for r in s.residues), sorted(int(n) for n in s.small)]


def _fixed_set(n: int) -> list:
    return [1, n + 1, [], [n]]


def _axis_set(result, axis: int) -> tuple[SizeSet, bool]:
    """The sizes of one symbolic axis where a run is well formed, and whether every condition was solved."""
    sym = result.symbols[0]
    found, solved = SizeSet.none(), True
    for regime in result.regimes:
        if regime.region.raw:
            solved = False
            continue
        found = found | regime.region.get(sym)
    return found, solved


def input_contract(g, analysis) -> InputContract:
    """The contract of ``g`` compiled at ``analysis``'s (the declared) sizes."""
    shape = analysis.input_shape
    if len(shape) != 3:
        return InputContract(analysis.name, shape, None, None)
    shapes = {layer.name: layer for layer in analysis.layers}
    fixed = {}
    for name in g:
        data = g.nodes[name]
        ins = [shapes[i].output_shape for i in data["inputs"]]
        spec = data["op"].torch(ins, shapes[name].output_shape) if data["inputs"] else None
        if spec is not None:
            fixed[name] = spec
    c, h0, w0 = shape
    try:
        height, ok_h = _axis_set(_walk(g, parse_input(f"{c}xHx{w0}"), _symbols(f"{c}xHx{w0}"), fixed), 0)
        width, ok_w = _axis_set(_walk(g, parse_input(f"{c}x{h0}xW"), _symbols(f"{c}x{h0}xW"), fixed), 1)
        product = _product_region(_walk(g, parse_input(f"{c}xHxW"), _symbols(f"{c}xHxW")))
    except ArchError as err:  # a rule that cannot run on symbolic sizes, or too many regimes
        return _declared_only(analysis, f"its other sizes could not be worked out: {err.message}")
    if product is None:
        return _declared_only(analysis, "its size conditions tie height and width together")
    note = "" if ok_h and ok_w else "some conditions could not be solved: only the sizes proven are admitted"
    return InputContract(analysis.name, shape, height & product[0], width & product[1], note)


def _declared_only(analysis, why: str) -> InputContract:
    _, h0, w0 = analysis.input_shape
    return InputContract(analysis.name, analysis.input_shape, SizeSet(1, h0 + 1, frozenset(), frozenset({h0})),
                         SizeSet(1, w0 + 1, frozenset(), frozenset({w0})), f"{why}: only the declared size is admitted")


def _symbols(text: str) -> tuple:
    return tuple(d for d in parse_input(text) if not isinstance(d, int))


def _product_region(result) -> tuple[SizeSet, SizeSet] | None:
    """The joint run's well-formed sizes as (heights, widths) when they are such a product, else None."""
    if len(result.regimes) != 1 or result.regimes[0].region.raw:
        return None
    region = result.regimes[0].region
    h, w = result.symbols
    return region.get(h), region.get(w)
