"""``archdsl compile [-o FILE]``: the network as standalone PyTorch source (imports torch only), written
to FILE, or printed when there is no ``-o`` (or ``-o -``)."""

from __future__ import annotations

import argparse

from ..output import force_argument
from .common import load_spec, shown_path, spec_arguments


def arguments(c: argparse.ArgumentParser) -> None:
    spec_arguments(c)
    c.add_argument("-o", "--output", help="the .py file to write (default, or '-': print the source)")
    force_argument(c)


def run(args: argparse.Namespace) -> int:
    from .. import output

    if args.output in (None, "-"):
        print(load_spec(args).source(), end="")
        return 0
    out = output.check(args.output, inputs=[args.spec], force=args.force)
    net = load_spec(args)
    output.write_text(out, net.source())
    print(f"wrote {shown_path(out)} ({net.analyze().totals.params:,} params)")
    return 0
