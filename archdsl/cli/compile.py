"""``archdsl compile -o FILE``: the network as standalone PyTorch source (imports torch only)."""

from __future__ import annotations

import argparse

from ..output import force_argument
from .common import load_spec, shown_path, spec_arguments


def arguments(c: argparse.ArgumentParser) -> None:
    spec_arguments(c)
    c.add_argument("-o", "--output", required=True, help="the .py file to write")
    force_argument(c)


def run(args: argparse.Namespace) -> int:
    from .. import output

    out = output.check(args.output, inputs=[args.spec], force=args.force)
    net = load_spec(args)
    output.write_text(out, net.source())
    print(f"wrote {shown_path(out)} ({net.analyze().totals.params:,} params)")
    return 0
