"""``archdsl sanity``: the lecture's checks before training: the initial loss is about ln(classes), and
the network overfits a few random samples (exit 0 pass, 1 fail)."""

from __future__ import annotations

import argparse

from ..backend.sanity import LR, SAMPLES, STEPS, TOLERANCE
from ..limits import MAX_EXACT
from . import options
from .common import load_spec, max_memory_argument, max_params_argument, spec_arguments


def arguments(s: argparse.ArgumentParser) -> None:
    spec_arguments(s, input_help="input shape CxHxW, e.g. 3x32x32 (overrides the spec's; smaller is faster)")
    max_params_argument(s)
    max_memory_argument(s)
    s.add_argument(
        "--samples",
        type=options.count_type(1, MAX_EXACT),
        default=SAMPLES,
        help=f"random samples to overfit (default {SAMPLES})",
    )
    s.add_argument(
        "--steps",
        type=options.count_type(0, MAX_EXACT),
        default=STEPS,
        help=f"the most optimizer steps (default {STEPS})",
    )
    s.add_argument("--lr", type=options.number_type(above=0), default=LR, help=f"Adam's learning rate (default {LR})")
    s.add_argument(
        "--tolerance",
        type=options.number_type(least=0),
        default=TOLERANCE,
        help=f"the largest |initial loss - ln(classes)| that passes (default {TOLERANCE})",
    )
    s.add_argument(
        "--seed", type=options.seed_type(), default=0, help="seeds the weights, the data and the labels (default 0)"
    )
    s.add_argument(
        "--init",
        choices=("torch", "he", "xavier"),
        help="the init scheme (default: the spec's variable `init`, else torch's defaults)",
    )
    s.add_argument("--weights", help="a state_dict (.pth) to start from instead of the initialisation")
    s.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: a GPU when there is one)")
    s.add_argument("--output", dest="output_name", metavar="NAME", help="which output, for a network with several")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..backend.sanity import sanity

    run_on = options.device(args.device)  # a device this machine lacks is a usage error before the spec is read
    result = sanity(
        load_spec(args),
        args.classes,
        samples=args.samples,
        steps=args.steps,
        lr=args.lr,
        device=run_on,
        seed=args.seed,
        tolerance=args.tolerance,
        init=args.init,
        weights=args.weights,
        output=args.output_name,
        progress=not args.no_progress,
        max_params=args.max_params,
        max_memory=args.max_memory,
    )
    print(result)
    return 0 if result.passed else 1
