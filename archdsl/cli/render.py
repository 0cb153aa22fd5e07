"""``archdsl render``: the network as a diagram, SVG/PNG/PDF through Graphviz, DOT, or TikZ (.tex).
Exit codes: 0 written, 1 the spec is wrong, 2 a usage error, 3 Graphviz's dot is missing, failed or ran
out of time for SVG/PNG/PDF (the .dot file is written instead)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..limits import MAX_BOXES
from ..output import force_argument
from . import options
from .common import error_text, load_spec, one_line, progress_argument, spec_arguments, working


def arguments(r: argparse.ArgumentParser) -> None:
    r.description = (
        "Draw the network as a diagram. The format is the output's suffix: .svg, .png, "
        ".pdf (these need Graphviz's dot program), .dot (Graphviz source) or .tex (a TikZ "
        "picture in the PlotNeuralNet style, for pdflatex)."
    )
    spec_arguments(r)
    r.add_argument("-o", "--output", help="the file to write: .svg, .png, .pdf, .dot or .tex (default: NAME.svg)")
    r.add_argument(
        "--depth",
        default="auto",
        help="roll blocks up to this naming level: a number (1 = top-level "
        "blocks, 2 = layer1.0, ...), 'all' for one box per layer, or 'auto' (default: the deepest level "
        f"that fits in about {MAX_BOXES} boxes, with bn and activations folded into their layer)",
    )
    r.add_argument(
        "--rankdir",
        choices=("TB", "LR"),
        default=None,
        help="top to bottom (the default) or left to right (with --fit: whichever shows the picture larger)",
    )
    r.add_argument(
        "--fit",
        choices=("slide", "page"),
        default=None,
        help="lay the picture out for a 16:9 slide (large type, a long chain wrapped into columns, padded to "
        "16:9 exactly, a PNG of 1920x1080, --depth auto: the deepest level a slide shows readably) or an A4 "
        "page; .tex: scaled to a Beamer 16:9 slide (15cm x 7.5cm at most) or a page's width (16cm)",
    )
    r.add_argument("--width", help="for .tex: scale the picture to this width, a TeX length (16cm, 120mm, 6in, 400pt)")
    r.add_argument("--hwc", action="store_true", help="write shapes HxWxC (as the papers' figures do), not CxHxW")
    fold = r.add_mutually_exclusive_group()
    fold.add_argument(
        "--fold",
        dest="fold",
        action="store_true",
        default=None,
        help="draw bn, activations and dropout inside the box of the layer before them (the default with --depth auto)",
    )
    fold.add_argument("--no-fold", dest="fold", action="store_false", help="one box per layer, bn and relu too")
    r.add_argument(
        "--layout",
        choices=("auto", "u", "chain"),
        default="auto",
        help="'u' draws an encoder-decoder as a U, the decoder climbing back up beside the encoder "
        "(auto: when skip connections cross from one to the other); 'chain' never does",
    )
    force_argument(r)
    progress_argument(r)


def run(args: argparse.Namespace) -> int:
    try:
        return _render(args)
    except options.UsageError as err:  # also when called without archdsl.cli's main (its handler says the same)
        print(f"archdsl render: error: {one_line(str(err))}", file=sys.stderr)
        return 2


def _render(args) -> int:
    from .. import output
    from ..views.dot import FORMATS, GraphvizError, render

    depth = options.depth(args.depth)
    width = _width(args.width) if args.width is not None else None
    if width is not None and Path(args.output or "x.svg").suffix.lower() != ".tex":
        raise options.UsageError("--width is for a .tex output (TikZ); --fit slide or page sizes the others")
    if args.output and Path(args.output).suffix.lower().lstrip(".") not in FORMATS:
        raise options.UsageError(f"writes .svg, .png, .pdf, .dot or .tex, not {options.shown(Path(args.output).name)}")
    if args.output:
        output.check(args.output, inputs=[args.spec], force=args.force)
    net = load_spec(args)
    out = output.check(args.output or f"{net.name}.svg", inputs=[args.spec], force=args.force)
    try:
        with working(f"drawing {net.name}", args):
            d = render(
                net,
                out,
                depth=depth,
                rankdir=args.rankdir,
                hwc=args.hwc,
                fold=args.fold,
                layout=args.layout,
                fit=args.fit,
                width=width,
            )
    except GraphvizError as err:
        print(f"error: {error_text(err)}", file=sys.stderr)
        return 3
    drawn = "every layer" if d.depth is None else f"blocks rolled up at depth {d.depth}"
    if width is not None:
        drawn += f"; scaled to {width} wide"
    elif args.fit is not None:
        drawn += "; for a 16:9 slide" if args.fit == "slide" else "; for a page"
    boxes = sum(1 for b in d.boxes.values() if b.kind != "output")
    print(f"wrote {options.printable(out)} ({boxes} boxes for {d.layer_count()} layers, {drawn})")
    return 0


UNITS = {"cm": 1.0, "mm": 0.1, "in": 2.54, "pt": 2.54 / 72.27}


def _width(text: str) -> str:
    """``--width``: a positive TeX length in cm, mm, in or pt, at most 500cm (TeX's lengths stop near 575cm)."""
    low = text.strip().lower()
    unit = next((u for u in UNITS if low.endswith(u)), None)
    number = low[: -len(unit)].strip() if unit else ""
    ok = unit is not None and number.replace(".", "", 1).isdigit() and number.isascii()
    if not ok or not 0 < float(number) * UNITS[unit] <= 500:
        raise options.UsageError(
            f"--width takes a length such as 16cm, 120mm, 6in or 400pt, up to 500cm; not {options.shown(text)}"
        )
    return f"{float(number):g}{unit}"
