"""Syntax errors in words: a lark error turned into a SpecSyntaxError with file:line:column, what was
expected (\"an element\", \"')'\"), and a hint for the mistakes people make (an unclosed bracket, a repeat
count after a space, two elements without a dash)."""

from __future__ import annotations

import re
import unicodedata

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..errors import Span, SpecSyntaxError

OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE", "DASH_LBRACE": "RBRACE"}
CLOSE_TEXT = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}
# after these tokens a newline continues the statement
CONTINUES = {
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


def span_of(file: str, text: str, tok: Token | None) -> Span:
    return Span(file, getattr(tok, "line", 1) or 1, getattr(tok, "column", 1) or 1, text, max(1, len(str(tok))))


def syntax_error(
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
                span_of(file, text, opened),
                f"add '{CLOSE_TEXT[OPEN[opened.type]]}' to close it",
            )
        return SpecSyntaxError(f"unexpected end of input{want}", span)
    if token.type in CLOSE_TEXT and token is not last and (not stack or OPEN[stack[-1].type] != token.type):
        # a closing bracket the lexer refused before the layout pass could pair it up
        opened = f" (the '{stack[-1]}' at line {stack[-1].line} is still open)" if stack else ""
        return SpecSyntaxError(f"unmatched '{token}'{opened}", span_of(file, text, token), "brackets must pair up")
    shown = "a new line" if token.type == "_NL" else repr(str(token))
    hint = _token_hint(token, err)
    if stack and stack[-1].type == "LSQB" and re.fullmatch(r"[xX×*]\d+", str(token)):
        hint = (
            f"the '[' at line {stack[-1].line}, column {stack[-1].column} is still open; "
            f"close it before the count: [conv3-64 - relu]{token}"
        )
    return SpecSyntaxError(f"unexpected {shown}{want}", span_of(file, text, token), hint)


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
