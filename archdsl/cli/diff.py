"""``archdsl diff A B``: two specs side by side, per stage, and the ratio of their totals."""

from __future__ import annotations

import argparse

from ..limits import MAX_EXACT
from . import options
from .common import load_spec


def arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument("spec", help="spec A: a .arch file, a library name or inline text")
    d.add_argument("other", help="spec B")
    d.add_argument("--input", help="input shape CxHxW for both")
    d.add_argument("--classes", type=options.count_type(1, MAX_EXACT), help="sets the variable `classes` in both")
    d.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a variable in both")
    d.add_argument(
        "--allow-imports-outside",
        action="store_true",
        help="let quoted imports read files outside each spec's folder and the library",
    )
    d.add_argument("--depth", default="1", help="the naming level of a stage (default 1: layer1, features, ...)")
    d.add_argument("--format", choices=("table", "markdown", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from ..views import report

    depth = options.depth(args.depth, auto=False)
    a = load_spec(args).analyze()
    b = load_spec(args, spec=args.other).analyze()
    if args.format == "markdown":
        print(report.diff_markdown(a, b, depth), end="")
    elif args.format == "json":
        print(report.diff_json(a, b, depth))
    else:
        report.diff_table(a, b, depth)
    return 0
