"""The ``archdsl`` command: one module per command (``report``, ``render``, ...), each with its
``arguments(parser)`` and ``run(args)``; the options they share in :mod:`archdsl.cli.common`, the values
options take in :mod:`archdsl.cli.options`.

Exit codes: 0 ok, 1 the spec is wrong (an ArchError), 2 a usage error (a bad option value, a file that
cannot be read or written); render, export and sanity add their own (README, "Exit codes")."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import ArchError, UsageError
from .common import error_text, one_line

INTERNAL = 70  # the exit code of a bug (EX_SOFTWARE): never a traceback, but never taken for a spec error
# every command, in the order --help lists them, with its help line: a command's module (and what it
# imports) loads only when that command runs, or for --help
COMMANDS = {
    "report": "shape / parameter / MAC / activation / receptive-field table",
    "diff": "two specs side by side: params, MACs, activations and outputs per stage, and the ratio of the totals",
    "check": "validate a spec: exit 0, or print the error and exit 1",
    "compile": "standalone PyTorch source (imports torch only), written with -o or printed",
    "convert": "transform a network: --fully-conv turns its fc layers into convolutions (OverFeat's sliding "
    "window); --input then sets the larger input",
    "render": "draw the network: SVG, PNG or PDF (with Graphviz), DOT, or TikZ (.tex)",
    "plot": "the complexity chart: published top-1 against MACs, bubble area the parameters (needs archdsl[plot])",
    "sanity": "before training: the initial loss is about ln(classes), and the network overfits a few random "
    "samples to 100%% training accuracy (exit 0 pass, 1 fail)",
    "export": "write the compiled network as ONNX (.onnx) or TorchScript (.pt)",
    "list": "the spec library: every network with its input, params and MACs",
    "fmt": "rewrite specs in their canonical layout (--check: exit 1 if one would change; --diff: show the changes)",
    "lsp": "the language server for editors, on stdin/stdout: diagnostics, hover, completion (needs archdsl[lsp])",
}


def parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The argument parser; ``command`` (the first argument) says which command to build in full
    ("*": all of them, for --help)."""
    p = _Parser(prog="archdsl", description="CNN architecture specs → checked graphs, reports and PyTorch modules")
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in COMMANDS.items():
        s = sub.add_parser(name, help=helptext)
        if command in ("*", name):
            module = importlib.import_module(f"{__name__}.{name}")
            module.arguments(s)
            s.set_defaults(func=module.run)
    return p


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for (importlib.metadata costs 20 ms a start)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object):
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help="print the version")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"archdsl {_version()}")
        parser.exit()


def _version() -> str:
    """The installed distribution's version (the package's own metadata; no import of archdsl's modules)."""
    from importlib import metadata

    try:
        return metadata.version("archdsl")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its usage errors on one line (``archdsl report: error: argument --batch: ...``),
    exit 2, and the offending value printable."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    # the command line has no use for pydantic's plugins; looking for them costs a tenth of a report
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    args = parser("*" if first is None or "-h" in argv or "--help" in argv else first).parse_args(argv)
    try:
        return args.func(args)
    except ArchError as err:
        return _spec_error(args, err)
    except UsageError as err:
        print(f"archdsl {args.command}: error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (| head): nothing went wrong, and nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush is silent too
        return 0
    except OSError as err:  # an -o that cannot be written, a --weights file that cannot be read
        where = f": {err.filename}" if err.filename else ""
        print(f"archdsl {args.command}: error: {one_line(f'{err.strerror or err}{where}')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"archdsl {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"archdsl {args.command}: error: out of memory", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: one line that says so, not a traceback (ARCHDSL_DEBUG=1 shows it)
        if os.environ.get("ARCHDSL_DEBUG"):
            raise
        print(
            f"archdsl {args.command}: internal error: {one_line(f'{type(err).__name__}: {err}')} "
            f"(a bug in archdsl; ARCHDSL_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return INTERNAL


def _spec_error(args, err: ArchError) -> int:
    """1 for a spec that is wrong; 2 for a --weights file that holds no state_dict (like a missing one)."""
    from ..backend.weights import WeightsFileError

    if isinstance(err, WeightsFileError):
        hint = f"; {err.hint}" if err.hint else ""
        print(f"archdsl {args.command}: error: {one_line(err.message + hint)}", file=sys.stderr)
        return 2
    print(f"error: {error_text(err)}", file=sys.stderr)
    return 1
