"""The ``archdsl`` command. Exit codes: 0 ok, 1 the spec is wrong (an ArchError), 2 a usage error (a bad option
value, a file that cannot be read or written); render, export and sanity add their own (README, "Exit codes")."""
from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import Any

from . import options
from .errors import ArchError
from .options import MAX_EXACT, UsageError
from .output import force_argument

_count = options.amount  # --max-params, --max-memory (the name the tests and older callers use)
MAX_LINE = 400  # characters of one line of a message (a 5,000-character path is cut)
INTERNAL = 70  # the exit code of a bug (EX_SOFTWARE): never a traceback, but never taken for a spec error


def _variables(args) -> dict[str, Any]:
    out = dict(options.variable(item) for item in args.set or [])
    if args.classes is not None:
        out["classes"] = args.classes
    return out


def spec_arguments(s: argparse.ArgumentParser,
                   input_help: str = "input shape CxHxW, e.g. 3x224x224 (overrides the spec's)") -> None:
    """The options every command that loads a spec takes (report, render, export, sanity, ...)."""
    s.add_argument("spec", help="a .arch file, a library name (vgg16) or inline text ('[CONV-POOL]x2-FC')")
    s.add_argument("--input", help=input_help)
    s.add_argument("--classes", type=options.count_type(1, MAX_EXACT), help="sets the variable `classes`")
    s.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a spec variable")
    s.add_argument("--network", help="which network of the file (default: its main one)")
    s.add_argument("--allow-imports-outside", action="store_true", help="let quoted imports read .arch files "
                   "outside the spec's folder and the library (refused by default)")


def max_params_argument(s: argparse.ArgumentParser) -> None:
    """``--max-params``, for the commands that build the real module (sanity, export, convert --weights)."""
    from .memory import MAX_PARAMS
    s.add_argument("--max-params", type=_count, default=MAX_PARAMS, metavar="N",
                   help=f"refuse, before allocating anything, a network with more parameters and buffers than N "
                   f"(25M, 1.5G, 'none'; default {MAX_PARAMS / 1e9:g}G)")


def max_memory_argument(s: argparse.ArgumentParser) -> None:
    """``--max-memory``, for the commands that run the module (sanity, export)."""
    from .memory import MAX_MEMORY
    s.add_argument("--max-memory", type=_count, default=MAX_MEMORY, metavar="BYTES",
                   help="refuse, before allocating anything, a run the analysis says needs more memory than this "
                   f"(weights and activations; 64G, 500M, 'none'; default {MAX_MEMORY / 1e9:g}G)")


def _load(args, input_shape: bool = True, spec: str | None = None):
    """The spec named on the command line (or ``spec``), with its --input, --network, --set, --classes: each
    option read by its own function in archdsl.options (a bad value is a usage error, exit 2), a spec file
    that cannot be read a usage error too."""
    from .pipeline import load
    spec = _spec_file(spec or args.spec)
    shape = options.shape(args.input) if input_shape and args.input is not None else None
    return load(spec, input=shape, network=getattr(args, "network", None),
                allow_imports_outside=getattr(args, "allow_imports_outside", False), **_variables(args))


def _spec_file(spec: str) -> str:
    """The spec argument; when it names a file (``*.arch``), one that exists and can be read."""
    if not spec.endswith(".arch") or "\n" in spec:
        return spec  # a library name or inline text
    path = Path(spec)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a folder, a pipe (opening one waits for a writer)
            raise UsageError(f"the spec {options.shown(spec, 200)} is not a regular file")
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise UsageError(f"no such spec file: {options.shown(spec, 200)}") from None
    except (OSError, ValueError) as err:  # unreadable, a name too long, a NUL in it
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UsageError(f"cannot read the spec {options.shown(spec, 200)}: {why}") from None
    return spec


def _symbolic_input(text: str | None) -> bool:
    """``3xHxW``: an input with named sizes asks for formulas rather than numbers."""
    return options.symbolic(text)


def cmd_report(args) -> int:
    from . import report
    if _symbolic_input(args.input):
        from .symbolic import format_result, symbolic_report
        shape = options.shape(args.input, names=True)
        print(format_result(symbolic_report(_spec_file(args.spec), input=shape, network=args.network,
                                            allow_imports_outside=args.allow_imports_outside, **_variables(args))))
        return 0
    if not 1 <= args.batch <= MAX_EXACT:
        raise UsageError(f"--batch takes a number >= 1, got {args.batch}")
    net = _load(args)
    a = net.analyze()
    if args.format == "json":
        print(report.to_json(a))
        return 0
    opts = report.Options(depth=_depth(args.depth, a) if args.format != "csv" or args.depth != "auto" else None,
                          dtype=args.dtype, batch=args.batch, count_all=args.count == "all", hwc=args.hwc,
                          accepts=net.input_contract().describe())
    if args.format == "markdown":
        print(report.markdown(a, opts=opts), end="")
    elif args.format == "csv":
        print(report.to_csv(a, opts), end="")
    else:
        report.table(a, opts=opts)
    return 0


def _depth(text: str, a) -> int | None:
    """``--depth``: auto (about one screen), all, or a naming level (1 = top-level groups)."""
    from . import report
    depth = options.depth(text)
    return report.auto_depth(a) if depth == "auto" else depth


def cmd_diff(args) -> int:
    """``archdsl diff A B``: two specs side by side, per stage, and the ratio of their totals."""
    from . import report
    depth = options.depth(args.depth, auto=False)
    a = _load(args).analyze()
    b = _load(args, spec=args.other).analyze()
    report.diff_table(a, b, depth)
    return 0


def cmd_check(args) -> int:
    a = _load(args).analyze()
    outs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in a.outputs.items())
    print(f"ok: {a.name}: {a.totals.params:,} params, {a.totals.macs:,} MACs, {len(a.layers)} nodes; {outs}")
    return 0


def cmd_compile(args) -> int:
    from . import output
    out = output.check(args.output, inputs=[args.spec], force=args.force)
    net = _load(args)
    output.write_text(out, net.source())
    print(f"wrote {_shown_path(out)} ({net.analyze().totals.params:,} params)")
    return 0


def _shown_path(path: Path | str) -> str:
    """A path as a message prints it: control characters (newlines too) as '?'."""
    return options.printable(path).replace("\n", "?")


def cmd_convert(args) -> int:
    """``archdsl convert --fully-conv SPEC``: the network with its fc layers as convolutions."""
    if not args.fully_conv:
        raise UsageError("convert needs a conversion: --fully-conv")
    from . import output, report
    out, target = _convert_targets(args)
    if args.input is not None:
        args.input = options.shape(args.input)  # read here too: fully_convolutional takes it as it is
    try:  # the fc layers' kernels come from the spec's own (training) input size
        original = _load(args, input_shape=False)
    except ArchError as err:
        if not (args.input and err.message.endswith("has no input shape")):
            raise
        original = _load(args)  # a spec without an input line: --input is its training size too
    net = original.fully_convolutional(input=args.input)
    a = net.analyze()
    if out is not None:
        output.write_text(out, net.source())
        print(f"wrote {_shown_path(out)} ({a.totals.params:,} params)")
    if target is not None:
        original.check_params(args.max_params)
        import torch

        from .weights import fitting
        own = original.compile(device="meta", max_params=args.max_params).state_dict()  # shapes, no memory
        converted = net.convert_weights(fitting(args.weights, {k: tuple(v.shape) for k, v in own.items()},
                                                original.name))
        with output.replacing(target) as f:
            torch.save(converted, f)
        print(f"wrote {_shown_path(target)} (the fc weights reshaped into conv weights)")
    if not args.output and not args.weights:
        report.table(a, depth=report.auto_depth(a))
    outs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in a.outputs.items())
    print(f"{original.name} as a fully convolutional network: input {'x'.join(map(str, a.input_shape))} → {outs}")
    return 0


def _convert_targets(args) -> tuple[Path | None, Path | None]:
    """convert's -o and its converted weights (--save-weights, else WEIGHTS.fully_conv.pth beside them),
    checked before anything is loaded: none may be an input, nor an existing file archdsl did not write."""
    from . import output
    inputs = [args.spec, args.weights]
    out = output.check(args.output, inputs=inputs, force=args.force) if args.output else None
    if args.save_weights and not args.weights:
        raise UsageError("--save-weights needs --weights (the state_dict to convert)")
    if not args.weights:
        return out, None
    default = Path(args.weights).with_suffix(".fully_conv.pth")
    target = output.check(args.save_weights or default, inputs=inputs + [args.output], force=args.force,
                          option="--save-weights" if args.save_weights else "the converted weights")
    return out, target


LIST_COLUMNS = ("name", "input", "takes", "params", "MACs", "file", "description")


def library_rows() -> list[tuple[str, ...]]:
    """One row per library network: its name, input, params, MACs, file and description."""
    from . import library
    from .pipeline import load
    root = library.spec_root()
    rows = []
    for name, entry in library.entries().items():
        try:
            net = load(name)
            a = net.analyze()
            shape, params, macs = "x".join(map(str, a.input_shape)), f"{a.totals.params:,}", f"{a.totals.macs:,}"
            takes = net.input_contract().describe()
        except ArchError as err:
            shape, takes, params, macs = "?", "?", f"error: {err.message}", "?"
        rows.append((name, shape, takes, params, macs, entry.path.relative_to(root).as_posix(), entry.description))
    return rows


def cmd_list(args) -> int:
    rows = library_rows()
    if args.format == "markdown":
        print("| " + " | ".join(LIST_COLUMNS) + " |")
        print("|" + "".join("---:|" if c in ("params", "MACs") else "---|" for c in LIST_COLUMNS))
        for row in rows:
            print("| " + " | ".join(f"`{c}`" if i == 0 else c.replace("|", "\\|") for i, c in enumerate(row)) + " |")
        return 0
    from rich.table import Table

    from .report import wide_console
    tab = Table(header_style="bold")
    for col in LIST_COLUMNS:
        tab.add_column(col, justify="right" if col in ("params", "MACs") else "left")
    for row in rows:
        tab.add_row(*row)
    wide_console(200).print(tab)
    return 0


# commands whose module (and its imports) loads only when the command runs, or for --help
LAZY = {"render": "draw a diagram: svg, png, pdf, dot, or a TikZ picture (.tex)",
        "sanity": "the lecture's sanity checks: initial loss near ln(C), overfitting 20 samples",
        "export": "export the compiled model: ONNX (.onnx, checked with onnxruntime) or TorchScript (.pt)"}


def parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The argument parser; ``command`` (the first argument) says which lazily loaded command to
    build in full ("*": all of them)."""
    p = _Parser(prog="archdsl", description="CNN architecture specs → checked graphs, "
                                "reports and PyTorch modules")
    sub = p.add_subparsers(dest="command", required=True)

    def spec_command(name: str, helptext: str):
        s = sub.add_parser(name, help=helptext)
        spec_arguments(s)
        return s

    r = spec_command("report", "shape / parameter / MAC / activation / receptive-field table")
    r.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table",
                   help="json: the whole analysis (schema in docs/report.md); csv: one row per layer unless --depth")
    r.add_argument("--depth", default="auto", help="roll blocks up to this naming level: a number (1 = top-level "
                   "groups, 2 = layer1.0, ...), 'all' for every layer, or 'auto' (default: the deepest level "
                   f"that fits in about {40} rows)")
    r.add_argument("--batch", type=int, default=1, help="MACs, activations and memory for this batch size")
    r.add_argument("--dtype", choices=("float32", "float16", "bfloat16", "float64", "int8"), default="float32",
                   help="bytes per value for the memory figures")
    r.add_argument("--count", choices=("default", "all"), default="default",
                   help="MACs of conv and fc layers (default, like torchvision and fvcore), or all: also bias adds, "
                   "BN, pooling, activations and sums (like ptflops)")
    r.add_argument("--hwc", action="store_true", help="shapes as the slides write them: [55x55x96]")
    r.set_defaults(func=cmd_report)
    d = sub.add_parser("diff", help="two specs side by side: params, MACs, activations and outputs per stage, "
                       "and the ratio of the totals")
    d.add_argument("spec", help="spec A: a .arch file, a library name or inline text")
    d.add_argument("other", help="spec B")
    d.add_argument("--input", help="input shape CxHxW for both")
    d.add_argument("--classes", type=options.count_type(1, MAX_EXACT), help="sets the variable `classes` in both")
    d.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a variable in both")
    d.add_argument("--allow-imports-outside", action="store_true", help="let quoted imports read files outside "
                   "each spec's folder and the library")
    d.add_argument("--depth", default="1", help="the naming level of a stage (default 1: layer1, features, ...)")
    d.set_defaults(func=cmd_diff)
    spec_command("check", "validate a spec: exit 0, or print the error and exit 1").set_defaults(func=cmd_check)
    c = spec_command("compile", "write standalone PyTorch source (imports torch only)")
    c.add_argument("-o", "--output", required=True, help="the .py file to write")
    force_argument(c)
    c.set_defaults(func=cmd_compile)
    cv = spec_command("convert", "transform a network: --fully-conv turns its fc layers into convolutions "
                      "(OverFeat's sliding window); --input then sets the larger input")
    cv.add_argument("--fully-conv", action="store_true", help="every fc layer as the equivalent conv")
    cv.add_argument("-o", "--output", help="write the converted network's standalone PyTorch source here")
    cv.add_argument("--weights", help="a state_dict (.pth) of the original network to convert")
    cv.add_argument("--save-weights", help="where to write the converted state_dict (default: WEIGHTS.fully_conv.pth)")
    max_params_argument(cv)
    force_argument(cv)
    cv.set_defaults(func=cmd_convert)
    import importlib
    for name, helptext in LAZY.items():
        if command in ("*", name):
            importlib.import_module(f"archdsl.{name}").add_parser(sub)
        else:
            sub.add_parser(name, help=helptext)
    lst = sub.add_parser("list", help="the spec library: every network with its input, params and MACs")
    lst.add_argument("--format", choices=("table", "markdown"), default="table")
    lst.set_defaults(func=cmd_list)
    return p


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its usage errors on one line (``archdsl report: error: argument --batch: ...``),
    exit 2, and the offending value printable."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str, limit: int = MAX_LINE) -> str:
    line = options.printable(text).replace("\n", " ").replace("\t", " ")
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _error_text(err: ArchError) -> str:
    """An ArchError as printed: control characters as '?', each line at most MAX_LINE characters, and the
    excerpt of the source only when it is a spec (.arch or inline text): an import of another file that
    fails to parse shows where, never what the file holds."""
    span = err.span
    if span is None or span.file.endswith(".arch") or span.file == "<inline>":
        text = err.render()
    else:  # its message may quote the file (an unknown name, an unexpected character): say only where
        text = (f"{span}: {type(err).__name__} in a file that is not a spec (.arch); what it holds is not shown"
                "\nhint: import only .arch files")
    return "\n".join(_one_line(line) if len(line) > MAX_LINE else options.printable(line)
                     for line in text.split("\n"))


def main(argv: list[str] | None = None) -> int:
    # the command line has no use for pydantic's plugins; looking for them costs a tenth of a report
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    args = parser("*" if first is None or "-h" in argv or "--help" in argv else first).parse_args(argv)
    try:
        return args.func(args)
    except ArchError as err:
        from .weights import WeightsFileError
        if isinstance(err, WeightsFileError):  # a --weights file that holds no state_dict: like a missing one
            hint = f"; {err.hint}" if err.hint else ""
            print(f"archdsl {args.command}: error: {_one_line(err.message + hint)}", file=sys.stderr)
            return 2
        print(f"error: {_error_text(err)}", file=sys.stderr)
        return 1
    except UsageError as err:
        print(f"archdsl {args.command}: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:  # an -o that cannot be written, a --weights file that cannot be read
        where = f": {err.filename}" if err.filename else ""
        print(f"archdsl {args.command}: error: {_one_line(f'{err.strerror or err}{where}')}", file=sys.stderr)
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
        print(f"archdsl {args.command}: internal error: {_one_line(f'{type(err).__name__}: {err}')} "
              f"(a bug in archdsl; ARCHDSL_DEBUG=1 shows where)", file=sys.stderr)
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
