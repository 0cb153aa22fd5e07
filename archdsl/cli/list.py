"""``archdsl list``: the spec library, one row per network with its input, params and MACs."""

from __future__ import annotations

import argparse

from ..errors import ArchError

COLUMNS = ("name", "input", "takes", "params", "MACs", "file", "description")


def arguments(lst: argparse.ArgumentParser) -> None:
    lst.add_argument("--format", choices=("table", "markdown"), default="table")


def library_rows() -> list[tuple[str, ...]]:
    """One row per library network: its name, input, params, MACs, file and description."""
    from ..lang import library
    from ..pipeline import load
    from ..resources import spec_root

    root = spec_root()
    rows = []
    for name, entry in library.entries().items():
        try:
            net = load(name)
            a = net.analyze()
            shape, params, macs = "x".join(map(str, a.input_shape)), f"{a.totals.params:,}", f"{a.totals.macs:,}"
            takes = net.input_contract().describe()
        except ArchError as err:
            shape, takes, params, macs = "?", "?", f"error: {err.message}", "?"
        rows.append((name, shape, takes, params, macs, entry.path.relative_to(root).as_posix(), entry.description))
    return rows


def run(args: argparse.Namespace) -> int:
    rows = library_rows()
    if args.format == "markdown":
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "".join("---:|" if c in ("params", "MACs") else "---|" for c in COLUMNS))
        for row in rows:
            print("| " + " | ".join(f"`{c}`" if i == 0 else c.replace("|", "\\|") for i, c in enumerate(row)) + " |")
        return 0
    from rich.table import Table

    from ..views.report import wide_console

    tab = Table(header_style="bold")
    for col in COLUMNS:
        tab.add_column(col, justify="right" if col in ("params", "MACs") else "left")
    for row in rows:
        tab.add_row(*row)
    wide_console(200).print(tab)
    return 0
