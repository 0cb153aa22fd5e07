"""A Pygments lexer for the language, so that docs (Sphinx, MkDocs), ``rich`` and anything else that uses
Pygments highlight ``.arch`` text: registered as the entry point ``arch`` (``pygments.lexers`` group).

Its tokens follow ``grammar/arch.lark``: comments, keywords, quoted labels and strings, ``name:`` labels,
``@`` references, shapes (``3x224x224``) and numbers, the repeat's ``x2``, operators and punctuation, and
names: an op of the library (or its shorthand, ``conv3``, ``FC``) is ``Name.Builtin``, the language's
functions ``Name.Function``, any other name ``Name``. Text the grammar has no token for is ``Error``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

from ..ops import lookup

KEYWORDS = ("network", "block", "import", "as", "output", "if", "else", "for", "in", "shortcut", "and", "or", "not")
FUNCTIONS = ("range", "min", "max", "len", "int", "round")
CONSTANTS = ("true", "false", "none")


def _name(lexer: Any, match: Any) -> Iterator[tuple[int, _TokenType, str]]:
    """A name: a keyword, the input, a function, a constant, an op (or an op's shorthand), or a name."""
    word = match.group(0)
    if word in KEYWORDS:
        kind = Keyword
    elif word.lower() == "input":
        kind = Keyword.Declaration
    elif word in FUNCTIONS:
        kind = Name.Function
    elif word in CONSTANTS:
        kind = Keyword.Constant
    elif lookup(word) is not None:
        kind = Name.Builtin
    else:
        kind = Name
    yield match.start(), kind, word


class ArchLexer(RegexLexer):
    """archdsl's architecture language (``.arch`` files)."""

    name = "archdsl"
    aliases: ClassVar[list[str]] = ["arch", "archdsl"]
    filenames: ClassVar[list[str]] = ["*.arch"]
    url = "https://github.com/archdsl/archdsl"

    tokens: ClassVar[dict] = {
        "root": [
            (r"#[^\n]*", Comment.Single),
            (r"\\\r?\n", Text),  # a line continued
            (r"\s+", Whitespace),
            (r'"[^"\n]*"(?=\s*:)', Name.Label),  # "block1-0": conv3-8
            (r'"[^"\n]*"', String),
            (r"(@)([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)", bygroups(Operator, Name.Variable)),
            (r'(@)("[^"\n]*")', bygroups(Operator, String)),
            (r"([A-Za-z_][A-Za-z0-9_]*)(\s*)(:)(?!=)", bygroups(Name.Label, Whitespace, Punctuation)),
            (r"(\])(\s*)([xX×*])(?=[ \t]*[\d{])", bygroups(Punctuation, Whitespace, Operator)),  # [..]x2
            (r"(?i:soft-max)\b", Name.Builtin),
            (r"\d+(?:\s*[x×X]\s*\d+)+", Number),  # a shape, 3x224x224
            (r"\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r"->|→|==|!=|<=|>=|[-+*/%<>=]", Operator),
            (r"[(){}\[\],.:]", Punctuation),
            (r"[A-Za-z_][A-Za-z0-9_]*", _name),
            (r".", Error),
        ]
    }
