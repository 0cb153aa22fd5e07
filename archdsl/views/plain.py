"""Tables drawn as rich draws them, without importing rich, where that is sure to give the same text.

rich (its import and its layout engine) took a third of ``archdsl report vgg16``, and a 20,000-row table took it
seconds (docs/design.md, "Start-up"). Most tables need none of what it does beyond drawing boxes: every cell
fits its column, no cell is styled. This module draws those byte for byte as ``rich.table.Table`` does on the
report's console (the heavy head box, a centred title, bold head cells and an italic title on a terminal), and
says when it cannot promise that (a cell that would fold, a character whose width rich measures its own way,
text rich would read as markup, a terminal rich treats specially); the caller then draws with rich.
tests/test_report.py compares the two on every library network.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import TextIO

# characters rich measures one cell wide without its tables (rich/cells.py _SINGLE_CELL_UNICODE_RANGES)
_SINGLE = re.compile("^[\x20-\x7e\xa0-\xac\xae-\u02ff\u0370-\u0482\u2500-\u25fc\u2800-\u28ff]*$")
_MARKUP = re.compile(r"\[[a-z#/@]|\\")  # a rich markup tag, or an escape of one
_BOLD, _ITALIC, _RESET = "\x1b[1m", "\x1b[3m", "\x1b[0m"
# environment variables by which rich decides differently what a terminal gets
_RICH_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS", "JUPYTER_LINES")


@dataclass(frozen=True)
class Output:
    """Where a table goes: its width, and whether it is a terminal (head cells bold, the title italic)."""

    file: TextIO
    width: int
    terminal: bool


def output(piped_width: int = 200, file: TextIO | None = None) -> Output | None:
    """The output as the report's rich console sees it (``views.report.wide_console``): a terminal's width
    (COLUMNS, else its size, else 80), or ``piped_width`` columns when piped; None where rich would decide
    otherwise (a dumb or unknown terminal, Jupyter, the colour variables, Windows)."""
    file = file or sys.stdout
    if sys.platform == "win32" or any(k in os.environ for k in _RICH_ENV) or "ipykernel" in sys.modules:
        return None
    try:
        terminal = file.isatty()
    except (AttributeError, ValueError):
        return None
    if not terminal:
        return Output(file, piped_width, False)
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return None
    return Output(file, _terminal_width(), True)


def _terminal_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def plain_text(text: str) -> bool:
    """Whether rich prints ``text`` as it is: no markup, and every character one cell wide."""
    return bool(_SINGLE.match(text)) and not _MARKUP.search(text)


def table(
    title: str, head: list[str], rows: list[tuple[str, ...]], right: list[bool], out: Output, min_widths: list[int]
) -> str | None:
    """The table as rich draws it (``Table(title=..., header_style="bold")``, each column at least its
    ``min_widths``, right-justified where ``right`` says), or None where rich would draw it otherwise."""
    if not all(plain_text(c) for c in (title, *head)) or not all(plain_text(c) for row in rows for c in row):
        return None
    widths = [max(m, len(h), *(len(row[i]) for row in rows)) for i, (h, m) in enumerate(zip(head, min_widths))]
    total = sum(widths) + 3 * len(widths) + 1
    if total > out.width or len(title) > total:
        return None  # rich folds cells, or wraps the title
    lines = []
    if title:
        left = (total - len(title)) // 2
        text = " " * left + title + " " * (total - len(title) - left)
        lines.append(f"{_ITALIC}{text}{_RESET}" if out.terminal else text)
    lines.append("┏" + "┳".join("━" * (w + 2) for w in widths) + "┓")
    lines.append("┃" + "┃".join(_head(h, w, r, out.terminal) for h, w, r in zip(head, widths, right)) + "┃")
    lines.append("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
    for row in rows:
        cells = (c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right))
        lines.append("│" + "│".join(f" {c} " for c in cells) + "│")
    lines.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    return "\n".join(lines) + "\n"


def folded_table(
    title: str,
    head: list[str],
    rows: list[tuple[str, ...]],
    right: list[bool],
    out: Output,
    min_widths: list[int],
    folds: list[bool],
) -> str:
    """The table in rich's boxes without rich's layout, for a table too long for rich to draw in good time: the
    columns that may fold (``folds``) narrowed, widest first down to their ``min_widths``, to what the width
    leaves them, their cells cut onto more lines (where rich wraps at spaces), every character one cell."""
    widths = [max(m, len(h), *(len(row[i]) for row in rows)) for i, (h, m) in enumerate(zip(head, min_widths))]
    excess = sum(widths) + 3 * len(widths) + 1 - out.width
    for i in sorted((i for i, f in enumerate(folds) if f), key=lambda i: -widths[i]):
        cut = max(0, min(excess, widths[i] - max(min_widths[i], len(head[i]))))
        widths[i], excess = widths[i] - cut, excess - cut
    total = sum(widths) + 3 * len(widths) + 1
    lines = [" " * max(0, (total - len(title)) // 2) + title] if title else []
    lines.append("┏" + "┳".join("━" * (w + 2) for w in widths) + "┓")
    lines.append("┃" + "┃".join(_head(h, w, r, out.terminal) for h, w, r in zip(head, widths, right)) + "┃")
    lines.append("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
    for row in rows:
        parts = [[c[j : j + w] for j in range(0, len(c), w)] or [""] for c, w in zip(row, widths)]
        for k in range(max(map(len, parts))):
            cells = [p[k] if k < len(p) else "" for p in parts]
            cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
            lines.append("│" + "│".join(f" {c} " for c in cells) + "│")
    lines.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    return "\n".join(lines) + "\n"


def _head(text: str, width: int, right: bool, bold: bool) -> str:
    text = text.rjust(width) if right else text.ljust(width)
    return f"{_BOLD} {_RESET}{_BOLD}{text}{_RESET}{_BOLD} {_RESET}" if bold else f" {text} "


def line(text: str, out: Output) -> str | None:
    """``console.print(text)`` as rich prints it (wrapped at spaces to the width), or None where rich would style
    it or measure a character its own way."""
    if "\n" in text or not plain_text(text.replace("→", "")):  # → is one cell to rich
        return None
    return "\n".join(wrap(text, out.width)) + "\n"


_WORD = re.compile(r"\s*\S+\s*")


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters as rich wraps it (rich/_wrap.py ``divide_line``, then
    ``rstrip_end``): at spaces, a word longer than a line folded, trailing spaces kept where they fit."""
    breaks, offset = [], 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:  # fold the word: it fits no line
            pieces = [word[i : i + width] for i in range(0, len(word), width)]
            for i, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if i == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    cuts = [0, *breaks, len(text)]
    lines = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    return [x[: max(width, len(x.rstrip()))] if len(x) > width else x for x in lines]
