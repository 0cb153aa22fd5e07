"""The one error family of archdsl.

Every error a user can cause is an :class:`ArchError` that knows where it
happened (file, line, column), shows that line with a caret under the spot,
says what was expected, and suggests the nearest known name for a typo.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A place in a source text: 1-based line and column, plus the text itself."""

    file: str
    line: int
    column: int
    source: str = field(default="", repr=False)
    length: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def excerpt(self) -> str:
        lines = self.source.split("\n")  # as the parser counts lines: \r, \x0b, \u2028 ... do not end one
        if not 1 <= self.line <= len(lines):
            return ""
        raw = lines[self.line - 1].rstrip()
        col = len(raw[: self.column - 1].expandtabs(4))  # a tab shows as spaces, and the caret stays under the spot
        text = raw.expandtabs(4)
        width = max(1, min(len(raw[self.column - 1 : self.column - 1 + self.length].expandtabs(4)), len(text) - col))
        if len(text) > 100:  # show a window around the spot of a very long line
            start = max(0, col - 40)
            end = min(len(text), start + 80)  # a caret under a long span ends with the window
            shown = ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
            col, width, text = col - start + (3 if start else 0), max(1, min(width, end - col)), shown
        caret = " " * col + "^" * width
        return f"    {text}\n    {caret}"


def escaped(text: str) -> str:
    """``text`` with every character that does not print (a control character, a newline, a NUL) written as
    its escape (``\\x00``, ``\\n``), so that it can neither drive a terminal nor end a line or a string."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def listed(items: list[str], last: str = "and") -> str:
    """``a, b and c`` (or ``a, b or c``) for a message."""
    return ", ".join(items[:-1]) + f" {last} " + items[-1] if len(items) > 1 else "".join(items)


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest candidate to ``name``, or None when nothing is close (difflib's ratio below ``cutoff``)."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return lowered[name.lower()]
    import difflib  # only when a name is unknown

    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


class ArchError(Exception):
    """Root of every error archdsl reports about a spec.

    >>> import archdsl
    >>> archdsl.load("conv3-64 - relu - maxpol", input="3x32x32").analyze()
    Traceback (most recent call last):
    ...
    archdsl.errors.UnknownNameError: <inline>:1:19: unknown op 'maxpol'
        conv3-64 - relu - maxpol
                          ^^^^^^
    hint: did you mean 'maxpool'?
    """

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        self.message = message
        self.span = span
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.span}: " if self.span else ""
        out = [f"{where}{self.message}"]
        if self.span and self.span.excerpt():
            out.append(self.span.excerpt())
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


class SpecSyntaxError(ArchError):
    """The text does not follow the grammar (``conv3-64 - [relu``)."""


class UnknownNameError(ArchError):
    """An op, block, variable, label, import or library name that does not exist (``maxpol``)."""

    def __init__(
        self,
        kind: str,
        name: str,
        candidates: Iterable[str],
        span: Span | None = None,
        hint: str | None = None,
        where: str = "",
    ):
        ops = kind in ("op", "op or block")  # op names are long and many: only a close one is a fair guess
        guess = did_you_mean(name, candidates, 0.75 if ops else 0.6)
        if guess and not hint:
            hint = f"did you mean '{guess}'?"
        elif not hint and ops:  # nothing close: say so, and where the ops are listed
            hint = f"archdsl has no op like '{name}'; the ops are in docs/language.md's table (python -m archdsl.ops)"
        super().__init__(f"unknown {kind} '{name}'{where}", span, hint)
        self.name = name
        self.guess = guess


class ArgumentError(ArchError):
    """An op or block got arguments it does not take, or of the wrong type (``conv(k=3)``)."""


class ShapeError(ArchError):
    """Shapes that do not fit: a concat of 28x28 and 27x27, a pool that shrinks a map below 1x1."""


class LimitError(ArchError):
    """A spec that would expand past a resource limit (``[conv3-8]x1000000000``)."""


# ------------------------------------------------------------------ the command line's errors
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # tab and newline too


class UsageError(Exception):
    """A bad option value or file: ``main`` prints it after ``archdsl CMD: error:`` and exits 2, like argparse
    does for the options it checks itself."""


def printable(text: Any, one_line: bool = False) -> str:
    """The text with each control character (an escape, a carriage return, DEL, C1) but newlines and tabs as
    '?': what a spec or a file name holds cannot drive the terminal. ``one_line``: newlines and tabs too, so
    that a name cannot end a comment or break a diagram's label either."""
    return (_LINE_CONTROL if one_line else CONTROL).sub("?", str(text))


def shown(text: Any, limit: int = 80) -> str:
    """An option's value as a message quotes it: repr-escaped (no control character reaches the terminal),
    at most ``limit`` characters."""
    text = str(text)
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)
