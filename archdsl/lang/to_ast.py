"""Lark's parse tree → archdsl's AST (:mod:`archdsl.lang.ast`): one method per grammar rule, every node
with its source span; quoted labels (``\"denselayer{i}\"``) parsed into templates."""

from __future__ import annotations

import re
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput

from ..errors import Span, SpecSyntaxError
from . import ast
from .syntax import span_of

_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")


def _template(tok: Token, file: str, text: str, parser: Lark) -> ast.Template:
    """``"denselayer{i}"`` → Template(("denselayer", Var(i))); each ``{...}`` is parsed as an expression."""
    raw, span = str(tok)[1:-1], span_of(file, text, tok)
    parts: list = []
    pos = 0
    for m in _TEMPLATE_PART.finditer(raw):
        parts.append(raw[pos : m.start()])
        try:
            # padded so that the expression's spans point into the label where it stands
            pad = "\n" * (tok.line - 1) + " " * (tok.column + m.start(1))
            tree = parser.parse(pad + m.group(1), start="expr")
        except UnexpectedInput:
            raise SpecSyntaxError(
                f"'{{{m.group(1)}}}' in a label is not an expression",
                span,
                'a label like "denselayer{i}" puts a variable or an expression in braces',
            ) from None
        parts.append(ToAst(file, text, parser).transform(tree))
        pos = m.end()
    parts.append(raw[pos:])
    if "{" in parts[-1] or "}" in parts[-1] or any(isinstance(p, str) and ("{" in p or "}" in p) for p in parts):
        raise SpecSyntaxError("unbalanced braces in a label", span, 'write "name{i}"')
    return ast.Template(tuple(p for p in parts if p != ""), span)


def _pos(file: str, text: str, meta) -> Span:
    return Span(
        file,
        getattr(meta, "line", 1),
        getattr(meta, "column", 1),
        text,
        max(1, (getattr(meta, "end_column", 2) - getattr(meta, "column", 1)))
        if getattr(meta, "line", 1) == getattr(meta, "end_line", 1)
        else 1,
    )


@v_args(meta=True)
class ToAst(Transformer):
    """Lark tree → AST nodes; method names follow the grammar's rules."""

    def __init__(self, file: str, text: str, parser: Lark):
        super().__init__()
        self.file, self.text = file, text
        self.parser = parser  # parses the expressions in a quoted label's braces

    def _s(self, meta) -> Span:
        return _pos(self.file, self.text, meta)

    def _t(self, tok: Token) -> Span:
        return span_of(self.file, self.text, tok)

    # --- file structure ---
    def start(self, meta, items):
        groups = {ast.Import: [], ast.BlockDef: [], ast.NetworkDef: []}
        top = []
        for item in items:
            groups.get(type(item), top).append(item)
        return ast.SpecFile(
            self.file,
            self.text,
            tuple(groups[ast.Import]),
            tuple(groups[ast.BlockDef]),
            tuple(groups[ast.NetworkDef]),
            ast.Body(tuple(top)),
        )

    def import_stmt(self, meta, c):
        target = c[0]
        is_path = isinstance(target, Token) and target.type == "STRING"
        name = target[1:-1] if is_path else target
        alias = str(c[1]) if len(c) > 1 else Path(name).stem if is_path else name.split(".")[-1]
        return ast.Import(name, is_path, alias, self._s(meta))

    def block_def(self, meta, c):
        name, *params, body = c
        return ast.BlockDef(str(name), tuple(p for p in params if p is not None), body, self._s(meta))

    def param(self, meta, c):
        return ast.Param(str(c[0]), c[1] if len(c) > 1 else None, self._s(meta))

    def network_def(self, meta, c):
        return ast.NetworkDef(str(c[0]), c[1], self._s(meta))

    def body(self, meta, c):
        return ast.Body(tuple(c))

    # --- statements ---
    def input_stmt(self, meta, c):
        return ast.InputStmt(c[-1], self._s(meta), str(c[1]) if len(c) == 3 else None)

    def shape_lit(self, meta, c):
        tok = c[0]
        parts = str(tok).replace("×", "x").replace("X", "x").split("x")
        return tuple(ast.Num(int(p.strip()), self._t(tok)) for p in parts)

    def shape_tuple(self, meta, c):
        return tuple(c)

    def output_stmt(self, meta, c):
        return ast.OutputStmt(tuple(c), self._s(meta))

    def out_item(self, meta, c):
        return ast.OutputItem(c[0], str(c[1]) if len(c) > 1 else None, self._s(meta))

    def assign(self, meta, c):
        return ast.Assign(str(c[0]), c[1], self._s(meta))

    def chain(self, meta, c):
        return ast.Chain(tuple(x for x in c if not isinstance(x, Token)), self._s(meta))

    # --- elements ---
    def labeled(self, meta, c):
        label = c[0]
        if label.type == "STRING":
            label = _template(label, self.file, self.text, self.parser)
        return ast.Labeled(label if isinstance(label, ast.Template) else str(label), c[1], self._s(meta))

    def quoted_group(self, meta, c):
        """``"layer{i}" { ... }``: a group named by a quoted label."""
        label, (_, body) = c
        call = ast.OpCall("group", self._s(meta), body=body)
        return ast.Labeled(_template(label, self.file, self.text, self.parser), call, self._s(meta))

    def if_unit(self, meta, c):
        cond, then, *rest = [x for x in c if not (isinstance(x, Token) and x.type == "ELSE")]
        otherwise = None
        if rest:
            otherwise = rest[0] if isinstance(rest[0], ast.Body) else ast.Body((ast.Chain((rest[0],), rest[0].span),))
        return ast.If(cond, then, otherwise, self._s(meta))

    def for_unit(self, meta, c):
        *names, items, body = c
        return ast.For(tuple(str(n) for n in names), items, body, self._s(meta))

    def op(self, meta, c):
        name, *rest = c
        fields = {}
        for part in rest:
            kind, value = part
            fields[kind] = value
        args = fields.get("args", ((), (), False))
        return ast.OpCall(
            name,
            self._s(meta),
            dash=fields.get("dash"),
            slash=fields.get("slash"),
            args=args[0],
            kwargs=args[1],
            has_call=args[2],
            body=fields.get("body"),
            shortcut=fields.get("shortcut"),
        )

    def softmax_word(self, meta, c):
        return "softmax"

    def dash_int(self, meta, c):
        return ("dash", ast.Num(int(str(c[0])[1:]), self._t(c[0])))

    def dash_expr(self, meta, c):
        return ("dash", c[1])

    def slash(self, meta, c):
        value = c[0]
        return ("slash", ast.Num(int(value), self._t(value)) if isinstance(value, Token) else value)

    def args(self, meta, c):
        pos = tuple(x for x in c if not isinstance(x, ast.Kwarg))
        kws = tuple(x for x in c if isinstance(x, ast.Kwarg))
        seen_kw = False
        for x in c:
            if isinstance(x, ast.Kwarg):
                seen_kw = True
            elif seen_kw:
                raise SpecSyntaxError(
                    "positional argument after a keyword argument",
                    x.span,
                    "put positional arguments first: conv(64, k=3)",
                )
        return ("args", (pos, kws, True))

    def posarg(self, meta, c):
        return c[0]

    def kwarg(self, meta, c):
        return ast.Kwarg(str(c[0]), c[1], self._s(meta))

    def bodyblock(self, meta, c):
        return ("body", c[0])

    def shortcut(self, meta, c):
        return ("shortcut", c[0])

    def repeat(self, meta, c):
        chain = c[0]
        count = c[2] if len(c) > 2 else None
        if isinstance(count, Token):
            count = ast.Num(int(count), self._t(count))
        return ast.Repeat(chain, count, self._s(meta))

    def ref(self, meta, c):
        target = c[0]
        if isinstance(target, Token) and target.type == "STRING":
            template = _template(target, self.file, self.text, self.parser)
            return ast.Ref(str(target)[1:-1], self._s(meta), template)
        return ast.Ref(target, self._s(meta))

    def dotted(self, meta, c):
        return ".".join(str(x) for x in c)

    # --- expressions ---
    def int_lit(self, meta, c):
        return ast.Num(int(c[0]), self._t(c[0]))

    def float_lit(self, meta, c):
        return ast.Num(float(c[0]), self._t(c[0]))

    def str_lit(self, meta, c):
        return ast.Str(str(c[0])[1:-1], self._t(c[0]))

    def var(self, meta, c):
        return ast.Var(str(c[0]), self._t(c[0]))

    def tuple_lit(self, meta, c):
        return ast.Tuple(tuple(c), self._s(meta))

    def neg(self, meta, c):
        return ast.Neg(c[0], self._s(meta))

    def _bin(op):  # noqa: N805 - a tiny factory for the five arithmetic rules
        def rule(self, meta, c):
            return ast.BinOp(op, c[0], c[-1], self._s(meta))

        return rule

    add, sub, mul, div, mod = _bin("+"), _bin("-"), _bin("*"), _bin("/"), _bin("%")
    and_, or_ = _bin("and"), _bin("or")

    def compare(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._s(meta))

    def cond_expr(self, meta, c):
        then, cond, _else, otherwise = c
        return ast.Cond(cond, then, otherwise, self._s(meta))

    def not_(self, meta, c):
        return ast.Not(c[0], self._s(meta))

    def call(self, meta, c):
        return ast.Call(str(c[0]), tuple(c[1:]), self._s(meta))

    def index(self, meta, c):
        return ast.Index(c[0], c[1], self._s(meta))

    def empty_tuple(self, meta, c):
        return ast.Tuple((), self._s(meta))

    def sub_lit(self, meta, c):
        tok = c[1]
        return ast.BinOp("-", c[0], ast.Num(int(str(tok)[1:]), self._t(tok)), self._s(meta))
