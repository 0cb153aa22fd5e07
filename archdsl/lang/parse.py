"""Stage 1 — parse: text → AST, with lark's LALR parser.

The grammar lives in ``grammar/arch.lark`` (top level in the repository,
``archdsl/grammar`` in an installed wheel). Lark errors are wrapped into
:class:`~archdsl.errors.SpecSyntaxError` with file:line:column and a caret.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.grammar import Rule
from lark.lexer import TerminalDef

from .. import cache
from ..errors import ArchError, LimitError, Span, SpecSyntaxError
from ..limits import MAX_BRACKETS, MAX_SOURCE_BYTES, MAX_TREE_DEPTH
from ..resources import grammar_path
from . import ast

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE", "DASH_LBRACE": "RBRACE"}
_CLOSE_TEXT = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}
# after these tokens a newline continues the statement
_CONTINUES = {
    "ARROW",
    "COMMA",
    "COLON",
    "EQUAL",
    "LBRACE",
    "LPAR",
    "LSQB",
    "DASH_LBRACE",
    "PLUS",
    "STAR",
    "SLASH",
    "PERCENT",
    "MINUS",
}

_DESCRIBE = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "DASH_INT": "-N",
    "SHAPE": "a shape like 3x224x224",
    "STRING": "a quoted string",
    "RPAR": "')'",
    "LPAR": "'('",
    "RSQB": "']'",
    "LSQB": "'['",
    "RBRACE": "'}'",
    "LBRACE": "'{'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "ARROW": "'->'",
    "_NL": "a new line",
    "TIMES": "a repeat count like x2",
    "AT": "'@'",
    "SLASH": "'/'",
    "DASH_LBRACE": "'-{'",
    "$END": "end of input",
    "INPUT": "'input'",
    "SOFTMAX_WORD": "soft-max",
    "DOT": "'.'",
    "PLUS": "'+'",
    "STAR": "'*'",
    "MINUS": "'-'",
    "DASH_FLOAT": "-N",
    "_SHORTCUT": "'shortcut'",
    "PERCENT": "'%'",
    "COMPARE": "a comparison",
    "IF": "'if'",
    "ELSE": "'else'",
    "FOR": "'for'",
    "IN": "'in'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
}


class _Layout:
    """Post-lexer: newlines end statements, except inside () and [], at the start, and after a
    token that asks for more (`-`, `->`, `,`, `{`, `=`, an operator)."""

    always_accept = ("_NL",)

    def __init__(self):
        self.stack: list[Token] = []

    def process(self, stream):
        self.stack = []
        self.last = last = None
        for tok in stream:
            if tok.type == "_NL" and (
                last is None
                or last.type in _CONTINUES
                or last.type == "_NL"
                or (self.stack and self.stack[-1].type in ("LPAR", "LSQB"))
            ):
                continue
            self._track(tok)
            self.last = last = tok
            yield tok

    def _track(self, tok: Token) -> None:
        if tok.type in _OPEN:
            if len(self.stack) >= MAX_BRACKETS:
                raise _TooDeep(tok, f"brackets nest deeper than {MAX_BRACKETS} levels")
            self.stack.append(tok)
        elif tok.type in _CLOSE_TEXT:
            if not self.stack or _OPEN[self.stack[-1].type] != tok.type:
                opened = f" (the '{self.stack[-1]}' at line {self.stack[-1].line} is still open)" if self.stack else ""
                raise _Unbalanced(tok, f"unmatched '{tok}'{opened}")
            self.stack.pop()


class _Unbalanced(Exception):
    def __init__(self, tok: Token, message: str):
        self.tok, self.message = tok, message


class _TooDeep(_Unbalanced):
    """Nesting past MAX_BRACKETS: answered as a LimitError before any recursion can overflow."""


def _check_depth(tree, file: str, text: str) -> None:
    """Refuse parse trees deeper than MAX_TREE_DEPTH (walked iteratively, so the check cannot overflow)."""
    stack = [(tree, 1, tree)]
    while stack:
        node, depth, stmt = stack.pop()  # stmt: the top-level statement the node belongs to
        if depth > MAX_TREE_DEPTH:
            meta = stmt.meta
            raise LimitError(
                f"this statement nests deeper than {MAX_TREE_DEPTH} levels",
                Span(file, 1, 1, text) if meta.empty else Span(file, meta.line, meta.column, text),
                "split long expressions with variables (a = ..., b = a + ...)",
            )
        stack.extend((c, depth + 1, c if depth == 1 else stmt) for c in node.children if hasattr(c, "children"))


_OPTIONS = dict(
    parser="lalr", lexer="contextual", start=["start", "expr"], propagate_positions=True, maybe_placeholders=False
)
_AT_LOAD = ("postlex", "propagate_positions")  # options lark takes again when loading its tables (not stored)


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The parser, from its LALR tables in archdsl's per-user cache (archdsl/cache.py), so that a
    fresh process loads them instead of rebuilding them (~90 ms). The tables are plain data (lark's
    own cache would unpickle its file before checking the grammar's hash); tables lark cannot load
    are a miss, built and stored again."""
    loaded: list[Lark] = []

    def loads(tables) -> bool:  # the check of a cache entry: False, or raising, is a miss
        if _are_tables(tables):
            loaded.append(_from_tables(tables))
        return bool(loaded)

    tables = cache.cached("lark", ("tables", lark.__version__), _tables, loads)
    return loaded[-1] if loaded else _from_tables(tables)


def _from_tables(tables: dict) -> Lark:
    return Lark.__new__(Lark)._load(tables, postlex=_Layout(), propagate_positions=True)


def _build() -> Lark:
    return Lark(grammar_path().read_text(), postlex=_Layout(), **_OPTIONS)


def _tables() -> dict:
    """The parser's tables as lark serialises them, without the options given again at load."""
    data, memo = _build().memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in (*_AT_LOAD, "cache")}
    return {"data": data, "memo": memo}


def _are_tables(value) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"data", "memo"}
        and isinstance(value["data"], dict)
        and isinstance(value["memo"], dict)
    )


_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")


def _template(tok: Token, file: str, text: str) -> ast.Template:
    """``"denselayer{i}"`` → Template(("denselayer", Var(i))); each ``{...}`` is parsed as an expression."""
    raw, span = str(tok)[1:-1], _span(file, text, tok)
    parts: list = []
    pos = 0
    for m in _TEMPLATE_PART.finditer(raw):
        parts.append(raw[pos : m.start()])
        try:
            # padded so that the expression's spans point into the label where it stands
            pad = "\n" * (tok.line - 1) + " " * (tok.column + m.start(1))
            tree = _parser().parse(pad + m.group(1), start="expr")
        except UnexpectedInput:
            raise SpecSyntaxError(
                f"'{{{m.group(1)}}}' in a label is not an expression",
                span,
                'a label like "denselayer{i}" puts a variable or an expression in braces',
            ) from None
        parts.append(_ToAst(file, text).transform(tree))
        pos = m.end()
    parts.append(raw[pos:])
    if "{" in parts[-1] or "}" in parts[-1] or any(isinstance(p, str) and ("{" in p or "}" in p) for p in parts):
        raise SpecSyntaxError("unbalanced braces in a label", span, 'write "name{i}"')
    return ast.Template(tuple(p for p in parts if p != ""), span)


def parse(text: str, file: str = "<inline>") -> ast.SpecFile:
    """Parse spec text into an :class:`~archdsl.lang.ast.SpecFile`."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise LimitError(
            f"spec is larger than {MAX_SOURCE_BYTES:,} bytes",
            Span(file, 1, 1, text[:200]),
            "split it into files joined with `import`",
        )
    parser = _parser()
    try:
        tree = parser.parse(text + "\n", start="start")
        _check_depth(tree, file, text)
        return _ToAst(file, text).transform(tree)
    except _TooDeep as err:
        raise LimitError(err.message, _span(file, text, err.tok), "flatten the nesting") from None
    except _Unbalanced as err:
        raise SpecSyntaxError(err.message, _span(file, text, err.tok), "brackets must pair up") from None
    except UnexpectedInput as err:
        raise _syntax_error(err, file, text, parser.options.postlex.stack, parser.options.postlex.last) from None
    except VisitError as err:
        if isinstance(err.orig_exc, ArchError):
            raise err.orig_exc from None
        raise


def _span(file: str, text: str, tok) -> Span:
    return Span(file, getattr(tok, "line", 1) or 1, getattr(tok, "column", 1) or 1, text, max(1, len(str(tok))))


def _syntax_error(
    err: UnexpectedInput, file: str, text: str, stack: list[Token], last: Token | None = None
) -> SpecSyntaxError:
    terms = set(getattr(err, "expected", ()) or getattr(err, "allowed", ()))
    element = {"NAME", "LSQB", "AT", "IF", "FOR", "STRING", "SOFTMAX_WORD"}
    if element <= terms:  # where an element of a chain may start, say so in words
        terms = (terms - element) | {"an element (an op or block, a [repeat], @label, if, for)"}
    expected = sorted(
        {_DESCRIBE.get(t, f"'{t}'" if t.isupper() or " " not in t else t) for t in terms if not t.startswith("__")}
    )
    want = f"; expected {', '.join(expected)}" if expected else ""
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else "?"
        return SpecSyntaxError(f"unexpected character {ch!r}{want}", Span(file, err.line, err.column, text), _hint(ch))
    token = getattr(err, "token", None)
    if isinstance(err, UnexpectedEOF) or (token is not None and token.type == "$END"):
        lines = text.split("\n")  # lines as the parser counts them (splitlines also breaks at \r, \x0b, ...)
        if lines[-1] == "":
            lines.pop()
        line_count = max(1, len(lines))
        last = lines[-1] if lines else ""
        span = Span(file, line_count, len(last) + 1, text)
        if stack:
            opened = stack[-1]
            return SpecSyntaxError(
                f"'{opened}' is never closed",
                _span(file, text, opened),
                f"add '{_CLOSE_TEXT[_OPEN[opened.type]]}' to close it",
            )
        return SpecSyntaxError(f"unexpected end of input{want}", span)
    if token.type in _CLOSE_TEXT and token is not last and (not stack or _OPEN[stack[-1].type] != token.type):
        # a closing bracket the lexer refused before the layout pass could pair it up
        opened = f" (the '{stack[-1]}' at line {stack[-1].line} is still open)" if stack else ""
        return SpecSyntaxError(f"unmatched '{token}'{opened}", _span(file, text, token), "brackets must pair up")
    shown = "a new line" if token.type == "_NL" else repr(str(token))
    hint = _token_hint(token, err)
    if stack and stack[-1].type == "LSQB" and re.fullmatch(r"[xX×*]\d+", str(token)):
        hint = (
            f"the '[' at line {stack[-1].line}, column {stack[-1].column} is still open; "
            f"close it before the count: [conv3-64 - relu]{token}"
        )
    return SpecSyntaxError(f"unexpected {shown}{want}", _span(file, text, token), hint)


def _hint(ch: str) -> str | None:
    if ch in "{}":
        return "braces hold a group body or an expression like conv1-{4*c}"
    if ch == ";":
        return "statements are separated by new lines"
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not UTF-8, as Python keeps it from a command line
        return f"the text holds the byte 0x{ord(ch) - 0xDC00:02x}, which is not UTF-8: save the spec as UTF-8"
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return "the text holds half of a UTF-16 surrogate pair, which is not a character: delete it"
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    if not ch.isprintable() or (ch.isspace() and ch not in " \t"):
        return f"an invisible character ({name}) is in the text: delete it"
    if not ch.isascii():
        if ch.isalpha():
            return f"'{ch}' ({name}) is not an ASCII letter: names are ASCII letters, digits and _"
        return f"'{ch}' ({name}) is not part of the language; chains join elements with '-' or '->'"
    return "op names are letters, digits and _; chains join elements with '-' or '->'"


def _token_hint(token: Token, err: UnexpectedInput) -> str | None:
    if token.type in ("INT", "SHAPE") and "NAME" in getattr(err, "expected", ()):
        return "a number cannot stand alone here; write it as an argument, e.g. conv3-64 or fc(4096)"
    if token.type == "TIMES" or str(token) in ("x", "*"):
        return "a repeat count follows ']' directly, e.g. [conv3-64 - relu]x2"
    if token.type == "NAME" and "MINUS" in getattr(err, "expected", ()):
        return "join the elements of a chain with '-' or '->' (inside ( ) and [ ] a line break is just a space)"
    return None


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
class _ToAst(Transformer):
    """Lark tree → AST nodes; method names follow the grammar's rules."""

    def __init__(self, file: str, text: str):
        super().__init__()
        self.file, self.text = file, text

    def _s(self, meta) -> Span:
        return _pos(self.file, self.text, meta)

    def _t(self, tok: Token) -> Span:
        return _span(self.file, self.text, tok)

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
        return ast.InputStmt(c[1], self._s(meta))

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
            label = _template(label, self.file, self.text)
        return ast.Labeled(label if isinstance(label, ast.Template) else str(label), c[1], self._s(meta))

    def quoted_group(self, meta, c):
        """``"layer{i}" { ... }``: a group named by a quoted label."""
        label, (_, body) = c
        call = ast.OpCall("group", self._s(meta), body=body)
        return ast.Labeled(_template(label, self.file, self.text), call, self._s(meta))

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
            template = _template(target, self.file, self.text)
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
