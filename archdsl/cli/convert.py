"""``archdsl convert --fully-conv SPEC``: the network with its fc layers as convolutions (OverFeat's
sliding window), its source and its converted weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ArchError
from ..output import force_argument
from . import options
from .common import load_spec, max_params_argument, progress_argument, shown_path, spec_arguments, working


def arguments(cv: argparse.ArgumentParser) -> None:
    spec_arguments(cv)
    cv.add_argument("--fully-conv", action="store_true", help="every fc layer as the equivalent conv")
    cv.add_argument("-o", "--output", help="write the converted network's standalone PyTorch source here")
    cv.add_argument("--weights", help="a state_dict (.pth) of the original network to convert")
    cv.add_argument("--save-weights", help="where to write the converted state_dict (default: WEIGHTS.fully_conv.pth)")
    max_params_argument(cv)
    force_argument(cv)
    progress_argument(cv)


def run(args: argparse.Namespace) -> int:
    if not args.fully_conv:
        raise options.UsageError("convert needs a conversion: --fully-conv")
    from .. import output
    from ..views import report

    out, target = _targets(args)
    if args.input is not None:
        args.input = options.shape(args.input)  # read here too: fully_convolutional takes it as it is
    original = _original(args)
    net = original.fully_convolutional(input=args.input)
    a = net.analyze()
    if out is not None:
        output.write_text(out, net.source())
        print(f"wrote {shown_path(out)} ({a.totals.params:,} params)")
    if target is not None:
        with working(f"converting the weights of {original.name}", args):
            _convert_weights(args, original, net, target)
    if not args.output and not args.weights:
        report.table(a, depth=report.auto_depth(a))
    print(
        f"{original.name} as a fully convolutional network: input {'x'.join(map(str, a.input_shape))} → "
        f"{a.outputs_text()}"
    )
    return 0


def _original(args):
    """The network as trained: the fc layers' kernels come from the spec's own input size."""
    try:
        return load_spec(args, input_shape=False)
    except ArchError as err:
        if not (args.input and err.message.endswith("has no input shape")):
            raise
        return load_spec(args)  # a spec without an input line: --input is its training size too


def _convert_weights(args, original, net, target: Path) -> None:
    import torch

    from .. import output
    from ..backend.weights import fitting

    original.check_params(args.max_params)
    own = original.compile(device="meta", max_params=args.max_params).state_dict()  # shapes, no memory
    converted = net.convert_weights(fitting(args.weights, {k: tuple(v.shape) for k, v in own.items()}, original.name))
    with output.replacing(target) as f:
        torch.save(converted, f)
    print(f"wrote {shown_path(target)} (the fc weights reshaped into conv weights)")


def _targets(args) -> tuple[Path | None, Path | None]:
    """convert's -o and its converted weights (--save-weights, else WEIGHTS.fully_conv.pth beside them),
    checked before anything is loaded: none may be an input, nor an existing file archdsl did not write."""
    from .. import output

    inputs = [args.spec, args.weights]
    out = output.check(args.output, inputs=inputs, force=args.force) if args.output else None
    if args.save_weights and not args.weights:
        raise options.UsageError("--save-weights needs --weights (the state_dict to convert)")
    if not args.weights:
        return out, None
    default = Path(args.weights).with_suffix(".fully_conv.pth")
    target = output.check(
        args.save_weights or default,
        inputs=inputs + [args.output],
        force=args.force,
        option="--save-weights" if args.save_weights else "the converted weights",
    )
    return out, target
