"""``archdsl export``: the compiled network as ONNX (.onnx) or TorchScript (.pt). Exit codes: 0 written
(and checked), 1 the spec is wrong, 2 a usage error, 3 a package is missing, 4 the export failed or
``--check`` found a difference."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from ..backend.export import FORMATS, TOLERANCE, TORCHSCRIPT_SUFFIXES
from ..backend.export_onnx import OPSET
from ..errors import ArchError
from ..output import check as check_output
from ..output import force_argument
from .common import load_spec, max_memory_argument, max_params_argument, progress_argument, spec_arguments, working
from .compile import LEVELS


def arguments(e: argparse.ArgumentParser) -> None:
    e.description = (
        "Export the compiled network, in eval mode: ONNX through torch.onnx.export "
        "(dynamo) with the input named 'input', a dynamic batch axis and the outputs named "
        "'output' or after the network's outputs; TorchScript through torch.jit.script (torch.jit."
        "trace where scripting fails). The format is the output's suffix: .onnx, or .pt/.ts/.jit/"
        ".torchscript. Exit codes: 0 written, 1 the spec is wrong, 2 usage, 3 a package is missing, "
        "4 the export or its --check failed."
    )
    spec_arguments(e)
    max_params_argument(e)
    max_memory_argument(e)
    force_argument(e)
    progress_argument(e)
    e.add_argument(
        "-o",
        "--output",
        help="the file to write: .onnx, or .pt/.ts/.jit/.torchscript for TorchScript (default: NAME.onnx)",
    )
    e.add_argument("--format", choices=("onnx", "torchscript"), help="instead of the suffix")
    e.add_argument("--weights", help="a state_dict (.pth) to load first (default: the seeded initialisation)")
    e.add_argument(
        "--optimize",
        choices=LEVELS,
        help="inference: export the network with every BatchNorm after a conv or fc folded into it (eval mode "
        "only); a TorchScript archive is also frozen (its weights constants)",
    )
    e.add_argument("--opset", type=int, help=f"ONNX opset (default {OPSET})")
    e.add_argument("--static-batch", action="store_true", help="fix the ONNX batch axis at --batch")
    e.add_argument(
        "--static-size",
        action="store_true",
        help="fix the ONNX height and width at the input size "
        "(by default they are dynamic over the sizes the network's input contract admits)",
    )
    e.add_argument("--batch", type=int, default=2, help="the example batch the graph is traced with (default 2)")
    e.add_argument(
        "--method",
        choices=("auto", "script", "trace"),
        default="auto",
        help="TorchScript: script, trace, or auto (script, trace where scripting fails)",
    )
    e.add_argument(
        "--check",
        action="store_true",
        help="run the written file (onnxruntime, or torch.jit.load) on "
        f"a random batch and compare with the torch module: fails above a max abs diff of {TOLERANCE:g} "
        "(times the largest output value, where that is above 1)",
    )


def _format(args) -> str | None:
    """onnx or torchscript: --format, else the output's suffix; None (after saying why) for another suffix."""
    if args.format or not args.output:
        return args.format or "onnx"
    fmt = FORMATS.get(Path(args.output).suffix.lower())
    if fmt is None:
        print(
            f"archdsl export: writes .onnx or {'/'.join(TORCHSCRIPT_SUFFIXES)} (or give --format), not "
            f"{Path(args.output).name!r}",
            file=sys.stderr,
        )
    return fmt


def run(args: argparse.Namespace) -> int:
    from ..backend.export import MissingPackage, first_line

    fmt = _format(args)
    if fmt is None:
        return 2
    if args.batch < 1:
        print(f"archdsl export: --batch takes a number >= 1, got {args.batch}", file=sys.stderr)
        return 2
    if args.output:
        check_output(args.output, inputs=[args.spec, args.weights], force=args.force)
    net = load_spec(args)
    out = args.output or f"{net.name}.{'onnx' if fmt == 'onnx' else 'pt'}"
    if not args.output:
        check_output(out, inputs=[args.spec, args.weights], force=args.force)
    try:
        with working(f"exporting {net.name} as {'ONNX' if fmt == 'onnx' else 'TorchScript'}", args):
            done = _export(args, net, out, fmt)
    except MissingPackage as err:
        print(f"archdsl export: {err}", file=sys.stderr)
        return 3
    except (ArchError, OSError):  # the spec, a limit, an unwritable -o: main() reports these
        raise
    except Exception as err:  # the exporters' own errors: report them, no traceback
        print(
            f"archdsl export: {fmt} export of {net.name} failed: {type(err).__name__}: {first_line(err)}",
            file=sys.stderr,
        )
        return 4
    print(f"wrote {done.describe()} ({net.analyze().totals.params:,} params, {done.seconds:.1f} s)")
    if done.note:
        print(f"note: {done.note}; traced instead (the archive runs the eval-mode graph only)")
    return _checks(args, done, fmt) if args.check else 0


def _checks(args, done, fmt: str) -> int:
    for size in (None, done.other_size()) if done.sizes else (None,):
        code = _check(done, fmt, size)
        if code:
            return code
    return 0


def _check(done, fmt: str, size: tuple[int, int] | None) -> int:
    """``export --check`` at one input size (None: the traced one): 0 ok, 3 a package missing, 4 a difference."""
    from ..backend.export import MissingPackage

    try:
        diffs = done.check(size=size)
    except MissingPackage as err:
        print(f"archdsl export: {err}", file=sys.stderr)
        return 3
    runner = "onnxruntime" if fmt == "onnx" else "torch.jit.load"
    at = "x".join(map(str, (done.input_shape[0], *size))) if size else "x".join(map(str, done.input_shape))
    print(
        f"check ({runner}, batch {1 if done.dynamic_batch else done.batch}, {at}): max abs diff "
        + ", ".join(f"{k} {v:.2e} (of values up to {diffs.scale[k]:.3g})" for k, v in diffs.items())
    )
    if not diffs.ok():
        print(
            f"archdsl export: the file differs from the torch module by more than {TOLERANCE:g} "
            "(relative to the outputs' size above 1)",
            file=sys.stderr,
        )
        return 4
    return 0


def _export(args: argparse.Namespace, net: Any, out: str, fmt: str) -> Any:
    from ..backend.export_onnx import to_onnx
    from ..backend.export_torchscript import to_torchscript

    if fmt == "onnx":
        return to_onnx(
            net,
            out,
            opset=args.opset,
            dynamic_batch=not args.static_batch,
            dynamic_size=not args.static_size,
            weights=args.weights,
            batch=args.batch,
            max_params=args.max_params,
            max_memory=args.max_memory,
            optimize=args.optimize,
        )
    with warnings.catch_warnings():  # a fallback to trace is printed as a note below
        warnings.simplefilter("ignore")
        return to_torchscript(
            net,
            out,
            method=args.method,
            weights=args.weights,
            batch=args.batch,
            max_params=args.max_params,
            max_memory=args.max_memory,
            optimize=args.optimize,
        )
