"""``archdsl plot``: the lectures' complexity chart (Canziani et al. 2017) of library networks: published ImageNet
top-1 against MACs (or parameters), bubble area the parameters; or parameters against MACs. Needs matplotlib (the
``plot`` extra). Exit codes: 0 written, 1 a spec is wrong, 2 a usage error (matplotlib missing among them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..output import force_argument
from . import options
from .common import one_line


def arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Draw the complexity chart of the lectures (Canziani et al. 2017): each network's published ImageNet top-1 "
        "against its MACs, the bubble's area its parameters. The top-1 is the one the network's spec states (a "
        "'# top-1: VALUE (SOURCE)' line, docs/library.md); a network without one is named in a note. --y params "
        "draws parameters against MACs, which needs no accuracy (and is drawn when no network has one). The "
        "format is the output's suffix: .png, .svg or .pdf. Needs matplotlib: pip install 'archdsl[plot]'."
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="library networks (or .arch files)")
    p.add_argument(
        "--published", action="store_true", help="add every library network whose spec states a published top-1"
    )
    p.add_argument("-o", "--output", required=True, help="the file to write: .png, .svg or .pdf")
    p.add_argument("--x", choices=("macs", "params"), default="macs", help="the x axis (default: macs)")
    p.add_argument("--y", choices=("top1", "params"), default="top1", help="the y axis (default: top1)")
    for axis in ("x", "y"):
        p.add_argument(
            f"--{axis}scale",
            choices=("auto", "linear", "log"),
            default="auto",
            help=f"the {axis} axis' scale (auto: logarithmic for MACs or parameters spanning 20x or more)",
        )
    p.add_argument("--title", help="the chart's title (default: what it shows)")
    force_argument(p)


def run(args: argparse.Namespace) -> int:
    try:
        return _plot(args)
    except options.UsageError as err:  # also when called without archdsl.cli's main (its handler says the same)
        print(f"archdsl plot: error: {one_line(str(err))}", file=sys.stderr)
        return 2


def _plot(args: argparse.Namespace) -> int:
    from .. import output
    from ..lang import library
    from ..pipeline import plot_points
    from ..views import plot as view

    suffix = Path(args.output).suffix.lower().lstrip(".")
    if suffix not in view.FORMATS:
        raise options.UsageError(f"writes .png, .svg or .pdf, not {options.shown(Path(args.output).name)}")
    if args.x == args.y:
        raise options.UsageError(f"--x and --y are both {args.x}: give each axis its own quantity")
    names = list(args.names)
    if args.published:
        names += [name for name, entry in library.entries().items() if entry.top1 is not None]
    names = list(dict.fromkeys(names))
    if not names:
        raise options.UsageError("name the networks to draw, or --published for every one with a published top-1")
    view.require()
    specs = [n for n in names if n.endswith(".arch")]
    out = output.check(args.output, inputs=specs, force=args.force)
    points = plot_points(names)
    x, y = view.axes(points, args.x, args.y)
    fig = view.chart(points, x, y, xscale=args.xscale, yscale=args.yscale, title=args.title)
    view.save(fig, out)
    missing = view.left_out(points, x, y)
    drawn = len(points) - len(missing)
    print(f"wrote {options.printable(out)} ({drawn} network{'' if drawn == 1 else 's'}, {y} against {x})")
    if (x, y) != (args.x, args.y):
        print(f"note: no network has a published top-1, so this is {y} against {x}")
    if missing:
        print(f"note: no published top-1 for {', '.join(missing)} (not drawn; a spec states one with '# top-1:')")
    return 0
