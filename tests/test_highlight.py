"""The Pygments lexer (archdsl/lang/highlight.py): registered as ``arch``, and no error token in any library
spec or any example of docs/language.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number, Operator, String

from archdsl.lang.highlight import ArchLexer

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").rglob("*.arch"))
EXAMPLES = re.findall(r"```arch\n(.*?)```", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.S)


def errors(text: str) -> list[str]:
    return [value for kind, value in ArchLexer().get_tokens(text) if kind is Error]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_no_library_spec_has_an_error_token(path: Path):
    assert errors(path.read_text(encoding="utf-8")) == []


def test_no_documented_example_has_an_error_token():
    assert len(EXAMPLES) > 20
    assert [e for e in EXAMPLES if errors(e)] == []


def test_it_is_registered_with_pygments():
    assert isinstance(get_lexer_by_name("arch"), ArchLexer)
    assert isinstance(get_lexer_for_filename("vgg.arch"), ArchLexer)


def test_what_each_token_is():
    text = 'input 3x224x224\n[conv3-64 - relu]x2 - "b1-0": FC-4096 - @pool5  # a comment\nfor c in range(2) { x = c }\n'
    tokens = [(kind, value) for kind, value in ArchLexer().get_tokens(text) if value.strip()]
    assert tokens[:12] == [
        (Keyword.Declaration, "input"),
        (Number, "3x224x224"),
        (tokens[2][0], "["),
        (Name.Builtin, "conv3"),
        (Operator, "-"),
        (Number.Integer, "64"),
        (Operator, "-"),
        (Name.Builtin, "relu"),
        (tokens[8][0], "]"),
        (Operator, "x"),
        (Number.Integer, "2"),
        (Operator, "-"),
    ]
    kinds = dict((value, kind) for kind, value in tokens)
    assert kinds['"b1-0"'] is Name.Label and kinds["FC"] is Name.Builtin and kinds["pool5"] is Name.Variable
    assert kinds["for"] is Keyword and kinds["range"] is Name.Function and kinds["x"] is Name
    assert errors("conv3-8 $ relu") == ["$"]
    assert String not in {k for k, _ in tokens}  # a quoted label before ':' is a label, not a string
