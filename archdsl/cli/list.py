"""``archdsl list``: the spec library, one row per network with its input, params and MACs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import ArchError

if TYPE_CHECKING:
    from rich.console import Console

COLUMNS = ("name", "input", "takes", "params", "MACs", "file", "description")


def arguments(lst: argparse.ArgumentParser) -> None:
    lst.add_argument(
        "--format",
        choices=("table", "markdown", "json", "csv"),
        default="table",
        help="json and csv give plain numbers (a network that fails to load has its error instead)",
    )


def library_records() -> list[dict]:
    """One record per library network: name, input, takes, params, MACs (ints; None where the network fails
    to load, with its ``error``), file and description."""
    from ..lang import library
    from ..pipeline import load
    from ..resources import spec_root

    root = spec_root()
    records = []
    for name, entry in library.entries().items():
        record = {"name": name, "input": None, "takes": None, "params": None, "MACs": None, "error": None}
        try:
            net = load(name)
            a = net.analyze()
            record |= {"input": "x".join(map(str, a.input_shape)), "takes": net.input_contract().describe()}
            record |= {"params": a.totals.params, "MACs": a.totals.macs}
        except ArchError as err:
            record["error"] = err.message
        records.append(record | {"file": entry.path.relative_to(root).as_posix(), "description": entry.description})
    return records


def library_rows() -> list[tuple[str, ...]]:
    """One row per library network, as text (``COLUMNS``): a network that fails to load shows its error in
    the params column and ``?`` in the others."""
    rows = []
    for r in library_records():
        if r["error"] is not None:
            shape, takes, params, macs = "?", "?", f"error: {r['error']}", "?"
        else:
            shape, takes, params, macs = r["input"], r["takes"], f"{r['params']:,}", f"{r['MACs']:,}"
        rows.append((r["name"], shape, takes, params, macs, r["file"], r["description"]))
    return rows


def run(args: argparse.Namespace) -> int:
    if args.format in ("json", "csv"):
        records = library_records()
        if args.format == "json":
            import json

            print(json.dumps(records, indent=2))
        else:
            import csv
            import sys

            writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
        return 0
    rows = library_rows()
    if args.format == "markdown":
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "".join("---:|" if c in ("params", "MACs") else "---|" for c in COLUMNS))
        for row in rows:
            print("| " + " | ".join(f"`{c}`" if i == 0 else c.replace("|", "\\|") for i, c in enumerate(row)) + " |")
        return 0
    from ..views.report import wide_console

    library_table(rows, wide_console(200))
    return 0


def library_table(rows: list[tuple[str, ...]], console: Console) -> None:
    """The table, fitted to the console as the report's is: descriptions and sizes taken fold, names and numbers
    never do; a narrower console leaves out the file, the sizes taken, then the description, and a line says so."""
    from ..views.report import Fit, fitted_table

    fit = Fit(
        COLUMNS,
        (("file",), ("takes",), ("description",), ("input",), ("MACs",)),
        ("description", "takes"),
        ("params", "MACs"),
        "markdown, json or csv",
    )
    fitted_table(console, "the spec library", rows, fit)
