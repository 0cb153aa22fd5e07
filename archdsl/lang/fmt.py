"""``archdsl fmt``: a spec's canonical layout, from the real parser's tokens (docs/editor.md, "Formatting").

The formatter keeps what the author wrote and where the lines break, and settles the rest:

- **Tokens as written.** Every token is printed as the lexer read it: `conv3-64`, `fc-4096`, `conv1-{4 * k}`,
  `[...]x2` / `*2` / `×2`, `-` / `->` / `→`, `soft-max`, strings and their `{expr}` templates, the case of
  names. Only two are respelled, both to what the parser reads them as: a shape loses its inner spaces
  (`3 x 224 x 224` → `3x224x224`), and `a -1` (a subtraction the lexer reads as `a` and the literal `-1`)
  is written `a - 1`.
- **Spaces within a line.** One space around a chain's separator, a binary operator, a comparison, `=` of
  an assignment, after `,` and `:` and between words; none inside `( )`, `[ ]` and expression braces
  (`-{...}`, `/{...}`, `x{...}`), none in the notation's glued forms (`conv3-64/2`, `]x2`, `@pool5`,
  `features.28`, `conv(...)`, `range(...)`, `t[i]`, `k=3` of an argument or a parameter's default, `-x`).
  A body on one line is `{ a - b }` (empty: `{}`).
- **Lines.** A line break stays where it is written, and none is added, except in a body whose braces are
  on different lines: there `{` ends its line, each statement (a branch of a merge) stands on its own line,
  and `}` starts its own line, where `} else` and `} shortcut` stay together. A line continued with `\\`
  keeps it (` \\` at its end); one continued by a trailing `-`, `,`, an open `(` or `[` needs none.
- **Indentation.** Four spaces a body's level. A statement's continuation lines keep their indentation
  relative to its first line (an alignment under a parenthesis stays); one written at or left of it is
  indented four spaces, unless it starts with a closing bracket or `else`.
- **Comments.** Every comment is kept, its text as written (trailing spaces removed). A comment on a line
  of its own takes the indentation of the line after it (inside a body before its `}`: the body's). A
  trailing comment stands two spaces after the code, unless it was aligned with the trailing comment of
  the line above or below: such a run stays aligned, at its column as written or, where code now reaches
  it, two spaces after the longest code of the run.
- **Blank lines.** At most one in a row; none at the start or end of the file, after a `{` that ends a
  line or before a `}` that starts one.
- **Line endings.** As the file's first line ends (`\\n`, or `\\r\\n` for Windows files); one at the end.

Long lines are not wrapped. The result parses to the same graph as the input (tests/test_fmt.py checks it
on every library spec and every example of docs/language.md), and formatting it again changes nothing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from lark import Token, Tree

from .parse import _Layout, _parser, parse

TAB = 4  # a tab's width when reading a line's indentation
INDENT = 4  # spaces per level in the output
_GAP = re.compile(r"#[^\n]*|\\\r?\n")
_BINARY = {"PLUS", "STAR", "PERCENT", "COMPARE", "AND", "OR"}
_NO_SPACE_BEFORE = {"COMMA", "RPAR", "RSQB", "COLON", "DOT", "TIMES"}
_NO_SPACE_AFTER = {"LPAR", "LSQB", "DOT", "AT", "TIMES", "DASH_LBRACE"}


class _Recorder(_Layout):
    """The layout pass that also keeps every token the lexer made, and where it passed a newline on."""

    def process(self, stream):
        self.tokens: list[Token] = []
        self.passed: set[int] = set()  # start positions of the newlines that ended a statement

        def tap(tokens):
            for tok in tokens:
                self.tokens.append(tok)
                yield tok

        for tok in super().process(tap(stream)):
            if tok.type == "_NL":
                self.passed.add(tok.start_pos)
            yield tok


@dataclass
class _Tok:
    """A token to print: its text, where it stands in the source, and what it is there."""

    type: str
    text: str
    start: int
    end: int
    line: int  # the source line of its first visible character (an `else` token holds the newlines before it)
    end_line: int
    col: int  # the visual column of its first visible character, from 0
    kind: str = ""  # sep, binop, neg, dash, slash, glue_open, body_open/close, expr_open/close, tight_eq
    newline: bool = False  # an `else` with the line break before it in the token itself
    match: int = -1  # a brace: the index of its partner
    i: int = -1  # its index among the tokens


@dataclass
class _Comment:
    text: str
    start: int
    end: int
    line: int
    end_line: int
    col: int


@dataclass
class _Line:
    indent: int
    text: str = ""
    full: bool = False  # a comment on a line of its own (text is the comment)
    comment: str | None = None  # a trailing comment
    comment_col: int = 0  # its visual column in the source
    comment_line: int = 0  # its source line
    blank: bool = False  # a blank line before it
    backslash: bool = False
    opens: bool = False  # ends with a body's `{` whose `}` is on another line
    closes: bool = False  # starts with such a body's `}`


@dataclass
class _Frame:
    """A body: where its `}` goes, where its statements start, and the statement being laid out."""

    close: int
    base: int
    stmt_col: int = 0  # source column of the current statement's first token
    stmt_indent: int = 0
    stmt: bool = False
    depth: int = 0  # ( and [ open in the current statement
    marks: list[tuple[int, int]] = field(default_factory=list)  # its lines: (depth at their start, indent)


class _Source:
    """Positions in the text: line numbers and visual columns."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def col(self, pos: int) -> int:
        start = self.starts[self.line(pos) - 1]
        return len(self.text[start:pos].expandtabs(TAB))


def format_spec(text: str, file: str = "<inline>") -> str:
    """``text`` in the canonical layout (module docstring). A spec that does not parse raises its
    :class:`~archdsl.errors.ArchError` (file:line:column, caret, hint), as ``archdsl check`` reports it."""
    parse(text, file)  # the errors, exactly as every other command reports them
    recorder_parser = _parser(_Recorder)
    tree = recorder_parser.parse(text + "\n", start="start")
    recorder = recorder_parser.options.postlex
    src = _Source(text)
    raw = [t for t in recorder.tokens if t.start_pos < len(text)]
    newlines = sorted(t.start_pos for t in raw if t.type == "_NL")
    passed = recorder.passed
    toks = _tokens([t for t in raw if t.type != "_NL"], tree, src)
    comments, backslashes = _gaps(text, raw, src)
    lines = _Layouter(toks, comments, newlines, passed, backslashes).run()
    out = _render(lines)
    eol = "\r\n" if re.match(r"[^\n]*\r\n", text) else "\n"
    return out.replace("\n", eol) if eol != "\n" else out


# --------------------------------------------------------------------------- tokens and what they are
def _owners(tree: Tree, starts: list[int]) -> list[tuple[str, int]]:
    """For each token (by start position), the innermost rule whose span holds it, and that rule's start."""
    owner: list[tuple[str, int]] = [("start", 0)] * len(starts)
    stack = [tree]
    while stack:  # pre-order: a deeper rule overwrites its parent's claim
        node = stack.pop()
        meta = node.meta
        if not meta.empty:
            lo = bisect.bisect_left(starts, meta.start_pos)
            hi = bisect.bisect_left(starts, meta.end_pos)
            for i in range(lo, hi):
                owner[i] = (node.data, meta.start_pos)
        stack.extend(c for c in reversed(node.children) if isinstance(c, Tree))
    return owner


def _tokens(raw: list[Token], tree: Tree, src: _Source) -> list[_Tok]:
    starts = [t.start_pos for t in raw]
    owners = _owners(tree, starts)
    toks: list[_Tok] = []
    for tok, (owner, owner_start) in zip(raw, owners):
        text, start, kind, newline = str(tok), tok.start_pos, "", False
        if tok.type == "ELSE":
            newline = "\n" in text
            start = tok.end_pos - len("else")
            text = "else"
        elif tok.type == "SHAPE":
            text = re.sub(r"\s+", "", text)
        elif tok.type == "MINUS":
            kind = {"sub": "binop", "neg": "neg"}.get(owner, "sep")
        elif tok.type == "ARROW":
            kind = "sep"
        elif tok.type == "DASH_INT" and owner == "dash_int" or tok.type == "DASH_LBRACE":
            kind = "dash"
        elif tok.type == "DASH_INT" and owner == "sub_lit":  # `a -1`: the subtraction it is read as
            line, col = src.line(start), src.col(start)
            toks.append(_Tok("MINUS", "-", start, start + 1, line, line, col, "binop"))
            toks.append(_Tok("INT", text[1:], start + 1, tok.end_pos, line, line, col + 1))
            continue
        elif tok.type == "SLASH":
            kind = "slash" if owner == "slash" else "binop"
        elif tok.type == "EQUAL":
            kind = "binop" if owner == "assign" else "tight_eq"
        elif tok.type in _BINARY:
            kind = "binop"
        elif tok.type == "LPAR":
            prev = toks[-1] if toks else None
            if (owner == "args" and start == owner_start) or (
                owner in ("call", "block_def") and prev is not None and prev.type == "NAME"
            ):
                kind = "glue_open"
        elif tok.type == "LSQB" and owner == "index":
            kind = "glue_open"
        toks.append(
            _Tok(tok.type, text, start, tok.end_pos, src.line(start), src.line(tok.end_pos - 1), src.col(start), kind)
        )
        toks[-1].newline = newline
    for i, t in enumerate(toks):
        t.i = i
    _pair_braces(toks)
    return toks


def _pair_braces(toks: list[_Tok]) -> None:
    """Body braces (`concat {`, `if c {`) against expression braces (`-{n}`, `/{s}`, `x{n}`)."""
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.type in ("LBRACE", "DASH_LBRACE"):
            expr = t.type == "DASH_LBRACE" or (i > 0 and (toks[i - 1].kind == "slash" or toks[i - 1].type == "TIMES"))
            if t.type == "LBRACE":
                t.kind = "expr_open" if expr else "body_open"
            stack.append(i)
        elif t.type == "RBRACE" and stack:
            j = stack.pop()
            t.match, toks[j].match = j, i
            t.kind = "body_close" if toks[j].kind == "body_open" else "expr_close"


def _gaps(text: str, raw: list[Token], src: _Source) -> tuple[list[_Comment], list[int]]:
    """The comments and `\\` line continuations: what the lexer ignored between its tokens."""
    comments, backslashes = [], []
    pos = 0
    for tok in [*raw, None]:
        end = len(text) if tok is None else tok.start_pos
        for m in _GAP.finditer(text, pos, max(pos, end)):
            if m.group().startswith("#"):
                s = m.start()
                comments.append(_Comment(m.group().rstrip(), s, m.end(), src.line(s), src.line(s), src.col(s)))
            else:
                backslashes.append(m.start())
        if tok is not None:
            pos = max(pos, tok.end_pos)
    return comments, backslashes


def _space(a: _Tok, b: _Tok) -> bool:
    """Whether one space stands between two tokens on a line."""
    if b.type in _NO_SPACE_BEFORE or b.kind in ("dash", "slash", "glue_open", "expr_close", "tight_eq"):
        return False
    if a.type in _NO_SPACE_AFTER or a.kind in ("expr_open", "slash", "neg", "tight_eq"):
        return False
    return not (a.kind == "body_open" and b.kind == "body_close")


# --------------------------------------------------------------------------- lines
class _Layouter:
    def __init__(
        self, toks: list[_Tok], comments: list[_Comment], newlines: list[int], passed: set[int], backslashes: list[int]
    ):
        self.toks, self.newlines, self.passed = toks, newlines, sorted(passed)
        self.backslashes = backslashes
        self.items: list[_Tok | _Comment] = sorted([*toks, *comments], key=lambda x: x.start)
        self.lines: list[_Line] = []
        self.frames = [_Frame(close=0, base=0)]
        self.pending: list[tuple[_Comment, bool]] = []

    def _between(self, positions: list[int], lo: int, hi: int) -> bool:
        i = bisect.bisect_left(positions, lo)
        return i < len(positions) and positions[i] < hi

    def _multiline(self, i: int) -> bool:
        t = self.toks[i]
        if t.match < 0:
            return False
        a, b = (t, self.toks[t.match]) if t.kind == "body_open" else (self.toks[t.match], t)
        return b.line != a.end_line

    def run(self) -> list[_Line]:
        prev_item: _Tok | _Comment | None = None
        prev: _Tok | None = None  # the previous token
        comment_since = False  # a comment between the previous token and this one
        for item in self.items:
            blank = (
                prev_item is not None
                and item.line - prev_item.end_line > 1
                and self._between(self.newlines, prev_item.end, item.start)
            )
            if isinstance(item, _Comment):
                comment_since = True
                if prev is not None and prev.end_line == item.line and self.lines and not self.lines[-1].full:
                    last = self.lines[-1]
                    last.comment, last.comment_col, last.comment_line = item.text, item.col, item.line
                else:
                    self.pending.append((item, blank))
                prev_item = item
                continue
            self._token(item, item.i, prev, blank, comment_since)
            prev, prev_item, comment_since = item, item, False
        self._flush(0)
        return self.lines

    def _token(self, t: _Tok, i: int, prev: _Tok | None, blank: bool, comment_since: bool) -> None:
        closes = t.kind == "body_close"
        multi_close = closes and self._multiline(i)
        if prev is None:
            new_line, backslash = True, False
        elif (
            t.type in ("ELSE", "_SHORTCUT")
            and prev.kind == "body_close"
            and self._multiline(prev.i)
            and not comment_since
        ):
            new_line, backslash = False, False  # `} else {`, `} shortcut {`
        elif (prev.kind == "body_open" and self._multiline(prev.i)) or multi_close:
            new_line, backslash = True, False
        elif t.line > prev.end_line:
            new_line = True
            backslash = not t.newline and not self._between(self.newlines, prev.end, t.start)
        else:
            new_line, backslash = False, False
        frame = self.frames.pop() if closes else None
        if new_line:
            if self.lines and backslash:
                self.lines[-1].backslash = True
            if frame is not None:  # a body's `}`: comments before it stay inside, at the body's level
                self._flush(frame.base)
                indent = frame.close
            else:
                top = self.frames[-1]
                starts = (
                    prev is None
                    or prev.kind == "body_open"
                    or self._between(self.passed, prev.end, t.start)
                    or not top.stmt
                )
                if starts:
                    indent = top.base
                    top.stmt_col, top.stmt_indent, top.stmt = t.col, indent, True
                    top.depth, top.marks = 0, []
                else:
                    offset = t.col - top.stmt_col
                    if offset <= 0 and not (t.type in ("RPAR", "RSQB", "ELSE") or t.kind == "body_close"):
                        offset = INDENT
                    indent = top.stmt_indent + max(0, offset)
                self._flush(indent)
            self.lines.append(_Line(indent, t.text, blank=blank, closes=multi_close))
            self.frames[-1].marks.append((self.frames[-1].depth, indent))
        else:
            assert not self.pending, "a comment on its own line between two tokens of one line"
            line = self.lines[-1]
            line.text += (" " if _space(prev, t) else "") + t.text
        top = self.frames[-1]
        if t.type in ("LPAR", "LSQB"):
            top.depth += 1
        elif t.type in ("RPAR", "RSQB"):
            top.depth -= 1
        if t.kind == "body_open":
            if self._multiline(i):
                self.lines[-1].opens = True
            # the body's `}` lines up with the statement's line that holds the `{` outside brackets:
            # `block b(a,\n        c) {` closes at `block`, `x -\n    concat {` at `concat`
            close = next((ind for d, ind in reversed(top.marks) if d <= top.depth), self.lines[-1].indent)
            self.frames.append(_Frame(close=close, base=close + INDENT))
        elif t.kind != "body_close":
            self.lines[-1].opens = False

    def _flush(self, indent: int) -> None:
        for c, blank in self.pending:
            self.lines.append(_Line(indent, c.text, full=True, blank=blank))
        self.pending.clear()


def _render(lines: list[_Line]) -> str:
    _align(lines)
    out: list[str] = []
    for n, line in enumerate(lines):
        if line.blank and n > 0 and not lines[n - 1].opens and not line.closes:
            out.append("")
        code = " " * line.indent + line.text + (" \\" if line.backslash else "")
        if line.comment is not None:
            code += " " * (line.comment_col - len(code)) + line.comment
        out.append(code)
    return "\n".join(out) + "\n" if out else ""


def _align(lines: list[_Line]) -> None:
    """Trailing comments: two spaces after the code, or a run aligned as written (module docstring)."""
    n = 0
    while n < len(lines):
        if lines[n].comment is None:
            n += 1
            continue
        m = n + 1
        while (
            m < len(lines)
            and lines[m].comment is not None
            and not lines[m].blank
            and lines[m].comment_line == lines[m - 1].comment_line + 1
            and lines[m].comment_col == lines[n].comment_col
        ):
            m += 1
        widths = [len(" " * ln.indent + ln.text + (" \\" if ln.backslash else "")) + 2 for ln in lines[n:m]]
        col = max(lines[n].comment_col, *widths) if m - n > 1 else widths[0]
        for ln in lines[n:m]:
            ln.comment_col = col
        n = m
