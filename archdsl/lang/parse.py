"""Stage 1 — parse: text → AST, with lark's LALR parser.

The grammar lives in ``grammar/arch.lark`` (top level in the repository,
``archdsl/grammar`` in an installed wheel). Lark errors are wrapped into
:class:`~archdsl.errors.SpecSyntaxError` with file:line:column and a caret.
"""

from __future__ import annotations

import functools

import lark
from lark import Lark, Token
from lark.exceptions import UnexpectedInput, VisitError
from lark.grammar import Rule
from lark.lexer import TerminalDef

from .. import cache
from ..errors import ArchError, LimitError, Span, SpecSyntaxError
from ..limits import MAX_BRACKETS, MAX_SOURCE_BYTES, MAX_TREE_DEPTH
from ..resources import grammar_path
from . import ast
from .syntax import CLOSE_TEXT, CONTINUES, OPEN, span_of, syntax_error
from .to_ast import ToAst


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
                or last.type in CONTINUES
                or last.type == "_NL"
                or (self.stack and self.stack[-1].type in ("LPAR", "LSQB"))
            ):
                continue
            self._track(tok)
            self.last = last = tok
            yield tok

    def _track(self, tok: Token) -> None:
        if tok.type in OPEN:
            if len(self.stack) >= MAX_BRACKETS:
                raise _TooDeep(tok, f"brackets nest deeper than {MAX_BRACKETS} levels")
            self.stack.append(tok)
        elif tok.type in CLOSE_TEXT:
            if not self.stack or OPEN[self.stack[-1].type] != tok.type:
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


@functools.lru_cache(maxsize=2)
def _parser(layout: type[_Layout] = _Layout) -> Lark:
    """The parser, from its LALR tables in archdsl's per-user cache (archdsl/cache.py), so that a
    fresh process loads them instead of rebuilding them (~90 ms). The tables are plain data (lark's
    own cache would unpickle its file before checking the grammar's hash); tables lark cannot load
    are a miss, built and stored again. ``layout``: the post-lexer (the formatter's records every token)."""
    loaded: list[Lark] = []

    def loads(tables) -> bool:  # the check of a cache entry: False, or raising, is a miss
        if _are_tables(tables):
            loaded.append(_from_tables(tables, layout))
        return bool(loaded)

    tables = cache.cached("lark", ("tables", lark.__version__), _tables, loads)
    return loaded[-1] if loaded else _from_tables(tables, layout)


def _from_tables(tables: dict, layout: type[_Layout] = _Layout) -> Lark:
    return Lark.__new__(Lark)._load(tables, postlex=layout(), propagate_positions=True)


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
        return ToAst(file, text, _parser()).transform(tree)
    except _TooDeep as err:
        raise LimitError(err.message, span_of(file, text, err.tok), "flatten the nesting") from None
    except _Unbalanced as err:
        raise SpecSyntaxError(err.message, span_of(file, text, err.tok), "brackets must pair up") from None
    except UnexpectedInput as err:
        raise syntax_error(err, file, text, parser.options.postlex.stack, parser.options.postlex.last) from None
    except VisitError as err:
        if isinstance(err.orig_exc, ArchError):
            raise err.orig_exc from None
        raise
