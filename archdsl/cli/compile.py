"""``archdsl compile [-o FILE]``: the network as standalone PyTorch source (imports torch only), written
to FILE, or printed when there is no ``-o`` (or ``-o -``). ``--optimize inference`` writes the network as
``net.compile(optimize="inference")`` makes it (BatchNorm folded into the conv or fc before it) and its folded
weights beside it (FILE with the suffix ``.pth``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..output import force_argument
from .common import load_spec, max_params_argument, shown_path, spec_arguments

LEVELS = ("inference",)  # archdsl.backend.optimize.LEVELS, named here so that --help does not import torch


def arguments(c: argparse.ArgumentParser) -> None:
    spec_arguments(c)
    c.add_argument("-o", "--output", help="the .py file to write (default, or '-': print the source)")
    c.add_argument(
        "--optimize",
        choices=LEVELS,
        help="inference: the eval-mode network with every BatchNorm after a conv or fc folded into it (the layer "
        "gets a bias); needs -o, since the folded weights are written beside the source (FILE.pth)",
    )
    c.add_argument(
        "--weights",
        help="with --optimize: the state_dict (.pth) to fold into FILE.pth (default: the initialisation under seed 0)",
    )
    max_params_argument(c)
    force_argument(c)


def run(args: argparse.Namespace) -> int:
    from .. import output

    if args.optimize is None:
        if args.weights is not None:
            raise UsageError("--weights goes with --optimize inference: the plain source loads any state_dict as it is")
        if args.output in (None, "-"):
            print(load_spec(args).source(), end="")
            return 0
        out = output.check(args.output, inputs=[args.spec], force=args.force)
        net = load_spec(args)
        output.write_text(out, net.source())
        print(f"wrote {shown_path(out)} ({net.analyze().totals.params:,} params)")
        return 0
    if args.output in (None, "-"):
        raise UsageError(f"--optimize {args.optimize} writes the folded weights beside the source: give -o FILE.py")
    inputs = [args.spec, args.weights]
    out = output.check(args.output, inputs=inputs, force=args.force)
    weights = output.check(out.with_suffix(".pth"), inputs=inputs, force=args.force, option="the weights file")
    if weights == out:
        raise UsageError(f"-o {shown_path(out)}: name the source (.py); its weights go beside it as .pth")
    net = load_spec(args)
    source = net.source(optimize=args.optimize, weights=Path(weights).name)
    model = net.compile(seed=0, weights=args.weights, max_params=args.max_params, optimize=args.optimize)
    _save(weights, {k: v.contiguous() for k, v in model.state_dict().items()})
    output.write_text(out, source)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {shown_path(out)} ({params:,} params, BatchNorm folded) and its weights {shown_path(weights)} "
        f"({'folded from ' + shown_path(args.weights) if args.weights else 'the initialisation under seed 0'})"
    )
    return 0


def _save(path: Path, state: dict) -> None:
    import torch

    from ..output import replacing

    with replacing(path) as f:
        torch.save(state, f)
