"""``archdsl check``: exit 0 with a one-line summary, or print the error and exit 1."""

from __future__ import annotations

import argparse

from .common import load_spec, spec_arguments


def arguments(c: argparse.ArgumentParser) -> None:
    spec_arguments(c)


def run(args: argparse.Namespace) -> int:
    a = load_spec(args).analyze()
    print(
        f"ok: {a.name}: {a.totals.params:,} params, {a.totals.macs:,} MACs, {len(a.layers)} nodes; {a.outputs_text()}"
    )
    return 0
