"""What every command shares: the options that name a spec and its limits, loading the spec they name,
and printing a message on one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from ..pipeline import Net


import argparse
import contextlib
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ArchError
from ..limits import MAX_EXACT, MAX_LINE, MAX_MEMORY, MAX_PARAMS
from . import options


def spec_arguments(
    s: argparse.ArgumentParser, input_help: str = "input shape CxHxW, e.g. 3x224x224 (overrides the spec's)"
) -> None:
    """The options every command that loads a spec takes (report, render, export, sanity, ...)."""
    s.add_argument("spec", help="a .arch file, a library name (vgg16) or inline text ('[CONV-POOL]x2-FC')")
    s.add_argument("--input", help=input_help)
    s.add_argument("--classes", type=options.count_type(1, MAX_EXACT), help="sets the variable `classes`")
    s.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a spec variable")
    s.add_argument("--network", help="which network of the file (default: its main one)")
    s.add_argument(
        "--allow-imports-outside",
        action="store_true",
        help="let quoted imports read .arch files outside the spec's folder and the library (refused by default)",
    )


def max_params_argument(s: argparse.ArgumentParser) -> None:
    """``--max-params``, for the commands that build the real module (sanity, export, convert --weights)."""
    s.add_argument(
        "--max-params",
        type=options.amount,
        default=MAX_PARAMS,
        metavar="N",
        help=f"refuse, before allocating anything, a network with more parameters and buffers than N "
        f"(25M, 1.5G, 'none'; default {MAX_PARAMS / 1e9:g}G)",
    )


def max_memory_argument(s: argparse.ArgumentParser) -> None:
    """``--max-memory``, for the commands that run the module (sanity, export)."""
    s.add_argument(
        "--max-memory",
        type=options.amount,
        default=MAX_MEMORY,
        metavar="BYTES",
        help="refuse, before allocating anything, a run the analysis says needs more memory than this "
        f"(weights and activations; 64G, 500M, 'none'; default {MAX_MEMORY / 1e9:g}G)",
    )


def variables(args: argparse.Namespace) -> dict[str, Any]:
    """``--set NAME=VALUE`` and ``--classes``, as the spec's variables."""
    out = dict(options.variable(item) for item in args.set or [])
    if args.classes is not None:
        out["classes"] = args.classes
    return out


def load_spec(args: argparse.Namespace, input_shape: bool = True, spec: str | None = None) -> Net:
    """The spec named on the command line (or ``spec``), with its --input, --network, --set, --classes: each
    option read by its own function in archdsl.cli.options (a bad value is a usage error, exit 2), a spec file
    that cannot be read a usage error too."""
    from ..pipeline import load

    spec = spec_file(spec or args.spec)
    shape = options.shape(args.input) if input_shape and args.input is not None else None
    return load(
        spec,
        input=shape,
        network=getattr(args, "network", None),
        allow_imports_outside=getattr(args, "allow_imports_outside", False),
        **variables(args),
    )


def spec_file(spec: str) -> str:
    """The spec argument; when it names a file (``*.arch``), one that exists and can be read."""
    if not spec.endswith(".arch") or "\n" in spec:
        return spec  # a library name or inline text
    path = Path(spec)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a folder, a pipe (opening one waits for a writer)
            raise options.UsageError(f"the spec {options.shown(spec, 200)} is not a regular file")
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise options.UsageError(f"no such spec file: {options.shown(spec, 200)}") from None
    except (OSError, ValueError) as err:  # unreadable, a name too long, a NUL in it
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise options.UsageError(f"cannot read the spec {options.shown(spec, 200)}: {why}") from None
    return spec


def shown_path(path: Path | str) -> str:
    """A path as a message prints it: control characters (newlines too) as '?'."""
    return options.printable(path).replace("\n", "?")


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one printable line of at most ``limit`` characters."""
    line = options.printable(text).replace("\n", " ").replace("\t", " ")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_text(err: ArchError) -> str:
    """An ArchError as printed: control characters as '?', each line at most MAX_LINE characters, and the
    excerpt of the source only when it is a spec (.arch or inline text): an import of another file that
    fails to parse shows where, never what the file holds."""
    span = err.span
    if span is None or span.file.endswith(".arch") or span.file in ("<inline>", "<stdin>"):
        text = err.render()
    else:  # its message may quote the file (an unknown name, an unexpected character): say only where
        text = (
            f"{span}: {type(err).__name__} in a file that is not a spec (.arch); what it holds is not shown"
            "\nhint: import only .arch files"
        )
    return "\n".join(one_line(line) if len(line) > MAX_LINE else options.printable(line) for line in text.split("\n"))


def progress_argument(s: argparse.ArgumentParser) -> None:
    s.add_argument("--no-progress", action="store_true", help="no spinner while it works (none when not a terminal)")


@contextlib.contextmanager
def working(what: str, args: argparse.Namespace | None = None) -> Iterator[None]:
    """A spinner on a terminal's stderr while a command works for seconds (an export, weights to convert, a
    large render); nothing with ``--no-progress`` or when stderr is a file or a pipe."""
    if not sys.stderr.isatty() or getattr(args, "no_progress", False):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"{what} ..."):
        yield
