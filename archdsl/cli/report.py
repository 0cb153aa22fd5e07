"""``archdsl report``: the shape / parameter / MAC / activation / receptive-field table, or the symbolic
report for an input with named sizes (``--input 3xHxW``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from ..ir.analysis import Analysis


import argparse

from ..limits import MAX_EXACT
from . import options
from .common import load_spec, spec_arguments, spec_file, variables

ROWS = 40  # the automatic depth keeps the table within about this many rows (archdsl.views.report.MAX_ROWS)


def arguments(r: argparse.ArgumentParser) -> None:
    spec_arguments(r)
    r.add_argument(
        "--format",
        choices=("table", "json", "markdown", "csv"),
        default="table",
        help="json: the whole analysis (schema in docs/report.md); csv: one row per layer unless --depth",
    )
    r.add_argument(
        "--depth",
        default="auto",
        help="roll blocks up to this naming level: a number (1 = top-level "
        "groups, 2 = layer1.0, ...), 'all' for every layer, or 'auto' (default: the deepest level "
        f"that fits in about {ROWS} rows)",
    )
    r.add_argument("--batch", type=int, default=1, help="MACs, activations and memory for this batch size")
    r.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16", "float64", "int8"),
        default="float32",
        help="bytes per value for the memory figures",
    )
    r.add_argument(
        "--count",
        choices=("default", "all"),
        default="default",
        help="MACs of conv and fc layers (default, like torchvision and fvcore), or all: also bias adds, "
        "BN, pooling, activations and sums (like ptflops)",
    )
    r.add_argument("--hwc", action="store_true", help="shapes as the slides write them: [55x55x96]")
    r.add_argument("--verbose", action="store_true", help="the op column with every argument (conv(out=64, k=3, "
                   "s=1, ...)) instead of the diagram's words (conv 3x3, 64)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..views import report

    if options.symbolic(args.input):  # 3xHxW: formulas rather than numbers
        from ..pipeline import symbolic_report
        from ..views.formulas import format_result

        shape = options.shape(args.input, names=True)
        print(
            format_result(
                symbolic_report(
                    spec_file(args.spec),
                    input=shape,
                    network=args.network,
                    allow_imports_outside=args.allow_imports_outside,
                    **variables(args),
                )
            )
        )
        return 0
    if not 1 <= args.batch <= MAX_EXACT:
        raise options.UsageError(f"--batch takes a number >= 1, got {args.batch}")
    net = load_spec(args)
    a = net.analyze()
    if args.format == "json":
        print(report.to_json(a))
        return 0
    opts = report.Options(
        depth=depth(args.depth, a) if args.format != "csv" or args.depth != "auto" else None,
        dtype=args.dtype,
        batch=args.batch,
        count_all=args.count == "all",
        hwc=args.hwc,
        accepts=net.input_contract().describe(),
        verbose=args.verbose,
    )
    if args.format == "markdown":
        print(report.markdown(a, opts=opts), end="")
    elif args.format == "csv":
        print(report.to_csv(a, opts), end="")
    else:
        report.table(a, opts=opts)
    return 0


def depth(text: str, a: Analysis) -> int | None:
    """``--depth``: auto (about one screen), all, or a naming level (1 = top-level groups)."""
    from ..views import report

    chosen = options.depth(text)
    return report.auto_depth(a) if chosen == "auto" else chosen
