"""The AST: small immutable nodes that keep their source span."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span


@dataclass(frozen=True)
class Num:
    value: int | float
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Var:
    name: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / %, a comparison (== != < <= > >=), and, or
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Cond:
    """``a if cond else b``."""

    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Call:
    """A built-in function: ``range(1, n + 1)``, ``min(a, b)``, ``max(...)``, ``len(t)``."""

    name: str
    args: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Index:
    """``t[i]``: an item of a tuple (or a string)."""

    target: Expr
    index: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Tuple:
    items: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Ref:
    """``@label`` or ``@group.label``: the output of an earlier labelled element; ``@"pool{s}"``
    builds the path from expressions (``template``) when the reference is resolved."""

    path: str
    span: Span = field(compare=False)
    template: Template | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Template:
    """A quoted label with ``{expr}`` parts: ``"denselayer{i}"``."""

    parts: tuple[str | Expr, ...]
    span: Span = field(compare=False)


Expr = Num | Str | Var | BinOp | Neg | Not | Cond | Call | Index | Tuple | Ref


@dataclass(frozen=True)
class Kwarg:
    name: str
    value: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Body:
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True)
class OpCall:
    """``conv3-64/2``, ``conv(96, k=11)``, ``inception(64, 96, ...)``, ``features { ... }``."""

    name: str
    span: Span = field(compare=False)
    dash: Expr | None = None  # the -64 of conv3-64
    slash: Expr | None = None  # the /2 of conv7-64/2
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Kwarg, ...] = ()
    body: Body | None = None
    shortcut: Body | None = None
    has_call: bool = False  # written with parentheses


@dataclass(frozen=True)
class Repeat:
    chain: Chain
    count: Expr | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Labeled:
    label: str | Template
    unit: Element
    span: Span = field(compare=False)


@dataclass(frozen=True)
class If:
    """``if cond { ... } else { ... }``: one body runs, in place (no naming level of its own)."""

    cond: Expr
    then: Body
    otherwise: Body | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class For:
    """``for c in (64, 128) { ... }``: the body runs once per item, in place."""

    names: tuple[str, ...]
    items: Expr
    body: Body
    span: Span = field(compare=False)


Element = OpCall | Repeat | Labeled | Ref | If | For


@dataclass(frozen=True)
class Chain:
    elements: tuple[Element, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class InputStmt:
    dims: tuple[Expr, ...]
    span: Span = field(compare=False)
    name: str | None = None  # a named input (``input boxes (R, 4)``): the compiled forward's argument


@dataclass(frozen=True)
class OutputItem:
    path: str
    alias: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class OutputStmt:
    items: tuple[OutputItem, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Assign:
    name: str
    value: Expr
    span: Span = field(compare=False)


Stmt = InputStmt | OutputStmt | Assign | Chain


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: Body
    span: Span = field(compare=False)


@dataclass(frozen=True)
class NetworkDef:
    name: str
    body: Body
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Import:
    target: str  # a library name or a quoted path
    is_path: bool
    alias: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class SpecFile:
    """One parsed ``.arch`` text: imports, blocks, networks and top-level statements."""

    path: str
    source: str
    imports: tuple[Import, ...]
    blocks: tuple[BlockDef, ...]
    networks: tuple[NetworkDef, ...]
    top: Body  # statements outside any network: variables and the implicit network
