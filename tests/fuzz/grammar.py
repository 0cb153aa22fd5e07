"""Grammar-aware generation of specs for the fuzz tests.

:class:`SpecGen` writes any construct of the language (docs/language.md) with random, often
bad, arguments: chains of ops in shorthand and call form, repeats, groups, concat / add / mean /
residual bodies, labels and references, blocks (some of them recursive), if / for, quoted
labels, networks, outputs, imports, odd numbers (0, negative, huge, floats) and, in its wild
mode, stray characters and unicode. Each case must still end in an analysis or an ArchError.
A share of its labels, groups, blocks, networks and outputs, and every name of :class:`NameGen`'s
small, mostly valid specs, are hostile (``hostile_name``): Python keywords, nn.Module and
GraphModule attributes, builtins, the names generated source uses, odd strings for quoted labels.

Generation is plain Python driven by a ``random.Random``; hypothesis chooses the seeds
(``seeds()``), so that a run is reproducible (``derandomize=True``) and fast: drawing every
token through hypothesis costs ~70 ms a spec, this ~0.1 ms. A failing case prints its text.
"""

from __future__ import annotations

import builtins
import keyword
import os
import random
from collections.abc import Callable

from hypothesis import strategies as st
from torch import fx, nn

from archdsl.ops import REGISTRY

OPS = sorted(n for n in REGISTRY if n not in ("input", "projection"))
ALIASES = sorted({a for c in REGISTRY.values() for a in c.aliases if c.name not in ("input", "projection")})
PLAIN = [n for n in OPS if REGISTRY[n].body is None]
MERGES = ["concat", "add", "mean", "cat", "sum", "join"]
TYPOS = ["maxpol", "covn", "rleu", "FC", "CONV", "POOL", "RELU", "softmx", "conv3x3", "relu3", "bnn", "lineer"]
SPELLINGS = [
    "kernel",
    "stride",
    "padding",
    "dilation",
    "out_channels",
    "filters",
    "units",
    "g",
    "ceil_mode",
    "negative_slope",
    "scale_factor",
    "output_size",
    "rate",
]
VARS = ["n", "c", "w", "k", "cfg", "classes", "filters", "hidden", "i", "j", "x", "aux"]
LABELS = ["a", "b", "c1", "stem", "layer1", "pool5", "head", "x"]
WORDS = ["same", "valid", "bilinear", "nearest", "relu", "none", "conv", "conv_bn", "true", "false"]
GROUPS = ["g", "features", "head", '"layer{1}"', '"conv"', "classifier"]


def _module_attributes() -> list[str]:
    """Every attribute name of an nn.Module and of a GraphModule, class-level or set per instance."""
    gm = fx.GraphModule(nn.Module(), fx.Graph())
    return sorted(set(dir(nn.Module)) | set(vars(nn.Module())) | set(dir(gm)) | set(vars(gm)))


# Names that mean something to Python or torch, for labels, groups, blocks, networks and named outputs:
# archdsl must map each to a safe module name or refuse it with an ArchError, in compile() and source() alike.
KEYWORDS = sorted(set(keyword.kwlist) | set(keyword.softkwlist) | {"match", "case", "type", "_"})
MODULE_ATTRIBUTES = _module_attributes()  # forward, training, state_dict, to, _modules, graph, meta, _code, ...
BUILTINS = sorted(dir(builtins))  # print, len, getattr, super, object, __import__, ...
# what generated source defines or uses itself (archdsl/codegen.py, archdsl/layers.py, fx's forward)
GENERATED = [
    "self",
    "torch",
    "nn",
    "attach",
    "attach_parameter",
    "build",
    "InputCheck",
    "InputSizeError",
    "DropPath",
    "MeanJoin",
    "input_check",
    "input_size_error",
    "drop_path",
    "mean_join",
    "input_contract",
    "x",
    "inf",
    "nan",
    "device",
    "NoneType",
    "fx_pytree",
    "pytree",
    "getattr",
    "Tensor",
    "Main",
    "main",
    "output",
    "input",
    "flatten",
    "cat",
    "add",
    "relu",
    "conv",
    "_tensor_constant0",
    "_param_constant0",
    "submod_0",
    "getattr_1",
    "forward_1",
    "l_x_",
    "__builtins__",
    "__name__",
    "__file__",
    "__class__",
]
# only as quoted labels: not names, or names Python reads as others (NFKC: "ℌ" is H, "ﬁ" is fi, "µ" is μ)
ODD_NAMES = [
    "",
    " ",
    "a b",
    "x'y",
    "\\",
    "é",
    "e\u0301",
    "ℌ",
    "ﬁ",
    "Ａ",
    "ǅ",
    "µ",
    "1",
    "0",
    "01",
    "1a",
    "a.b",
    ".",
    "a..b",
    ".a",
    "a.",
    "x-y",
    "#",
    "a#b",
    "\t",
    "self.x",
    "a.self",
    "training.a",
    "__init__",
    "\u200b",
    "\u0435",
    "😀",
    "'''",
    "x\\n",
    "{1}",
    "l{1}",
    "forward{1}",
    "{'a'}",
]
# open bugs, each with a strict xfail in tests/fuzz/test_regressions.py: a name a role's predicate matches is drawn
# again (hostile_name), a Net "contract" matches ends its case (harness.known_bug), unless ARCHDSL_FUZZ_KNOWN_BUGS=1,
# so that a campaign goes on past them; delete an entry once its bug is fixed (none is open now)
KNOWN_BUGS: dict[str, Callable] = {}
if os.environ.get("ARCHDSL_FUZZ_KNOWN_BUGS"):
    KNOWN_BUGS = {}
HOSTILE_POOLS = [KEYWORDS, MODULE_ATTRIBUTES, BUILTINS, GENERATED]


def hostile_name(r: random.Random, role: str = "label", odd: float = 0.15, pools=None) -> str:
    """A name from one of the hostile pools, or (with probability ``odd``) one of ODD_NAMES, which only a
    quoted label can hold. Names in ``KNOWN_BUGS[role]`` are drawn again."""
    known = KNOWN_BUGS.get(role, lambda name: False)
    while True:
        name = r.choice(ODD_NAMES if r.random() < odd else r.choice(pools or HOSTILE_POOLS))
        if not known(name):
            return name


def templates(forms: list[str]) -> list[str]:
    """The quoted label templates of ``forms`` whose labels (at i = 0, 1) are not KNOWN_BUGS."""
    known = KNOWN_BUGS.get("label", lambda name: False)
    return [f for f in forms if not any(known(f.strip('"').replace("{i}", i)) for i in "01")] or ['"{i}"']


def is_name(name: str) -> bool:
    """Whether ``name`` is a NAME token of the language (``[A-Za-z_][A-Za-z0-9_]*``); else only quotes hold it."""
    return (
        bool(name)
        and name.isascii()
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c == "_" for c in name)
    )


def label_text(name: str, r: random.Random) -> str:
    """How a spec writes the label ``name``: bare when it is a NAME (quoted now and then), else quoted
    (a quoted label holds no quote or newline)."""
    if is_name(name) and r.random() < 0.7:
        return name
    return '"' + name.replace('"', "").replace("\n", "") + '"'


UNICODE = ["é", "×", "\u0435", "\u00a0", "\ufeff", "\u200b", "→", "\x00", "\t", "\\", "'", "`", "😀", "\r"]
HUGE = [0, -1, -64, 2**31, 2**53, 2**53 + 1, 10**12, 10**30, 99999999999, 100000, 65536]
FLOATS = ["0.5", "1.5", "1e-4", "2.0", "1e400", "-0.0", "0.0", "1e308", "3.0"]
JUNK_NUMBERS = [".5", "1e", "0x10", "007", "1_000", "½", "٣"]


# values that an argument of this name takes (the op may still refuse them for its input)
GOOD = {
    "out": ["4", "8", "16", "1", "{c}"],
    "k": ["1", "2", "3", "5", "(1, 3)"],
    "s": ["1", "2", "1"],
    "p": ["0", "1", "same", "valid", "(0, 1)"],
    "d": ["1", "2"],
    "groups": ["1", "2"],
    "bias": ["true", "false"],
    "slope": ["0.1", "0.2"],
    "inplace": ["true", "false"],
    "dim": ["1", "-1"],
    "eps": ["1e-5", "0.001"],
    "momentum": ["0.1", "0.9"],
    "affine": ["true", "false"],
    "size": ["1", "2", "3", "(2, 3)"],
    "alpha": ["1e-4"],
    "beta": ["0.75"],
    "scale": ["2", "20.0", "0.5"],
    "mode": ["nearest", "bilinear"],
    "ceil": ["true", "false"],
    "indices": ["true", "false"],
    "count_include_pad": ["true", "false"],
    "dims": ["-1", "1", "2"],
    "ref": ["@a", "@b"],
    "offset": ["0", "1", "(1, 0)"],
    "multiplier": ["1", "2"],
    "output_padding": ["0", "1"],
    "act": ["relu", "none"],
    "proj": ["conv", "conv_bn"],
    "drop": ["0.1", "0.0"],
}


def seeds():
    """The hypothesis strategy behind every generated case: a seed for ``random.Random``."""
    return st.integers(min_value=0, max_value=2**63 - 1)


class SpecGen:
    """Random specs. ``wild`` (0..1) is how often a token is junk: a stray character, a typo, a
    bad separator; at 0 every token is one the grammar knows (the values may still be wrong)."""

    def __init__(self, seed: int, wild: float = 0.0, sane: float = 0.8):
        self.r = random.Random(seed)
        self.wild = wild
        self.sane = sane  # how often a choice is one that makes sense (a defined variable, good arguments)
        self.defined = ["classes", "filters", "hidden"]
        self.labels = ["a"]  # labels written so far: references mostly name one of them
        self.blocks = ["b", "blk", "rec", "b2"]  # the block names calls use (spec() may make one hostile)

    # ------------------------------------------------------------------ basics
    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, seq):
        return self.r.choice(seq)

    def junk(self) -> bool:
        return self.wild > 0 and self.p(self.wild)

    def num(self) -> str:
        roll = self.r.random()
        if roll < 0.6:
            return str(self.r.randint(1, 8))
        if roll < 0.75:
            return str(self.r.randint(-3, 16))
        if roll < 0.88:
            return str(self.pick(HUGE))
        if roll < 0.97 or not self.wild:
            return self.pick(FLOATS)
        return self.pick(JUNK_NUMBERS)

    def count(self) -> str:
        roll = self.r.random()
        if roll < 0.7:
            return str(self.r.randint(1, 3))
        if roll < 0.8:
            return self.pick(["0", "4", "10"])
        if roll < 0.9:
            return str(abs(self.pick(HUGE)))
        return "{" + self.expr(1) + "}"

    # ------------------------------------------------------------- expressions
    def expr(self, depth: int = 2) -> str:
        leaf_roll = self.r.random()
        if depth <= 0 or leaf_roll < 0.4:
            return self.pick([self.num(), self.num(), self.var(), self.pick(['"M"', '"bn"', '""', "true", "none"])])
        sub = lambda: self.expr(depth - 1)  # noqa: E731
        kind = self.r.randint(0, 6)
        if kind == 0:
            return f"{sub()} {self.pick(['+', '-', '*', '/', '%'])} {sub()}"
        if kind == 1:
            return f"({sub()} {self.pick(['==', '!=', '<', '>=', 'and', 'or'])} {sub()})"
        if kind == 2:
            items = [sub() for _ in range(self.r.randint(0, 4))]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if kind == 3:
            fn = self.pick(["range", "min", "max", "len", "int", "round", "range", "rnage"])
            return f"{fn}({', '.join(sub() for _ in range(self.r.randint(0, 3)))})"
        if kind == 4:
            return f"{sub()}[{sub()}]"
        if kind == 5:
            return f"({sub()} if {sub()} else {sub()})"
        return f"(not {sub()})" if self.p(0.5) else f"-({sub()})"

    def var(self) -> str:
        return self.pick(self.defined) if self.p(self.sane) else self.pick(VARS)

    def label(self) -> str:
        return self.pick(self.labels) if self.p(self.sane) else self.pick(LABELS)

    def hostile_name(self, role: str = "label") -> str:
        """A hostile NAME (a block, a network, an output: no quotes there), rarely an odd string."""
        name = hostile_name(self.r, role, odd=0.02)
        return name if is_name(name) or self.junk() or self.p(0.2) else "n"

    def hostile(self, role: str = "label") -> str:
        """A label or a group's name, named like a Python keyword, an nn.Module attribute, a builtin, or a name
        generated source uses (now and then an odd string); written bare or quoted."""
        return label_text(hostile_name(self.r, role), self.r)

    def value(self) -> str:
        kind = self.r.randint(0, 9)
        if kind <= 3:
            return self.num()
        if kind == 4:
            return f"({self.num()}, {self.num()})"
        if kind == 5:
            return self.pick(WORDS)
        if kind == 6:
            return f"@{self.label()}"
        if kind == 7:
            return '"' + self.pick(WORDS + ["full", ""]) + '"'
        return self.expr(1)

    # --------------------------------------------------------------------- ops
    def op(self) -> str:
        """An op in shorthand or call form: conv3-64/2, FC-4096, conv(96, k=11, s=4, p=0), maxpool3/2."""
        roll = self.r.random()
        if roll < 0.75:
            name = self.pick(PLAIN)
        elif roll < 0.88:
            name = self.pick(ALIASES)
        elif roll < 0.94:
            name = self.pick(["b", "blk", "t", "t.head", "vgg16", "res.basic", "rec", self.pick(self.blocks)])
        else:
            name = self.pick(TYPOS)
        cls = REGISTRY.get(name)
        out = name
        if self.p(0.3):
            out += str(self.pick([1, 2, 3, 5, 7, 1, 3, 0, 11, 100000]))
        if self.p(0.35):
            n = self.num().lstrip("-")
            out += (
                "-" + (n if n.isdigit() or self.junk() else "{" + n + "}") if self.p(0.8) else "-{" + self.expr(1) + "}"
            )
        if self.p(0.15):
            out += "/" + (str(self.r.randint(1, 3)) if self.p(0.8) else "{" + self.expr(1) + "}")
        if self.p(0.4) and cls is not None and self.p(self.sane):  # well-formed keyword arguments
            fields = [f for f in cls.Params.model_fields if f in GOOD]
            chosen = self.r.sample(fields, min(len(fields), self.r.randint(0, 2)))
            out += "(" + ", ".join(f"{f}={self.pick(GOOD[f])}" for f in chosen) + ")"
        elif self.p(0.4):
            fields = list(cls.Params.model_fields) if cls else []
            args = [self.value() for _ in range(self.r.randint(0, 2 if fields else 1))]
            names = fields + SPELLINGS + ["kk", "upto", "act"]
            args += [
                f"{self.pick(fields if fields and self.p(0.7) else names)}={self.value()}"
                for _ in range(self.r.randint(0, 3))
            ]
            out += "(" + ", ".join(args) + ")"
        if name == "softmax" and self.p(0.2):
            out = "soft-max"
        return out

    # ---------------------------------------------------------------- elements
    def lines(self, depth: int, lo: int = 1, hi: int = 3) -> str:
        return "\n".join(self.chain(depth) for _ in range(self.r.randint(lo, hi)))

    def element(self, depth: int = 2) -> str:
        kind = self.r.randint(0, 19 if depth > 0 else 5)
        if kind <= 5:
            el = self.op()
        elif kind <= 7:  # a repeat: [chain]xN, *N, ×N, x{expr}
            mark = self.pick(["x", "*", "×", "X", "x", "x"])
            el = f"[{self.chain(depth - 1)}]" + ("" if self.p(0.15) else f"{mark}{self.count()}")
        elif kind == 8:  # a group
            el = f"{self.pick(GROUPS) if self.p(0.7) else self.hostile()} {{\n{self.lines(depth - 1)}\n}}"
        elif kind <= 10:  # a merge: one branch per line
            m = self.pick(MERGES)
            if self.p(0.3):
                m += f"({self.pick(['act', 'drop', 'p'])}={self.value()})"
            el = f"{m} {{\n{self.lines(depth - 1, 1, 4)}\n}}"
        elif kind <= 12:  # a residual, sometimes with a shortcut
            r = self.pick(["residual", "res", "residual(act=relu)", "residual(proj=conv)", "residual(scale=0.2)"])
            el = f"{r} {{ {self.chain(depth - 1)} }}"
            if self.p(0.4):
                el += f" shortcut {{ {self.chain(depth - 1)} }}"
        elif kind == 13:  # a block call
            args = ", ".join(self.value() for _ in range(self.r.randint(0, 3)))
            el = f"{self.pick(self.blocks)}({args})"
        elif kind <= 15:  # if / else
            el = f"if {self.expr(1)} {{ {self.chain(depth - 1)} }}"
            if self.p(0.5):
                el += f" else {{ {self.chain(depth - 1)} }}"
        elif kind <= 17:  # for
            items = self.pick(
                [
                    self.expr(2),
                    "range(3)",
                    "(8, 16)",
                    "((8, 1), (16, 2))",
                    "cfg",
                    "range(1, 4)",
                    "range(100000)",
                    "range(n)",
                ]
            )
            el = f"for {self.pick(['i', 'c', 'c, n', 'i, j, k'])} in {items} {{ {self.chain(depth - 1)} }}"
        elif kind == 18:
            el = f"{self.pick(['crop', 'resize_to'])}(@{self.label()})"
        else:
            el = f"unpool(@{self.label()})"
        if self.p(0.3) and not el.startswith('"'):  # a label or a quoted label template
            roll = self.r.random()
            label = (
                self.pick(LABELS)
                if roll < 0.6
                else self.hostile()
                if roll < 0.85
                else self.pick(['"l{i}"', '"{c}"', '"a.b"', '"x{1/0}"', '"{1}"', '"self{i}"', '"{i}forward"'])
            )
            el = f"{label}: {el}"
            self.labels.append(label)
        return el

    def chain(self, depth: int = 2) -> str:
        els = [self.element(depth) for _ in range(self.r.randint(1, 4))]
        if self.p(0.2):
            els.insert(0, "@" + (self.label() if self.p(0.8) else self.pick(["features.0", '"l{1}"'])))
        out = els[0]
        for el in els[1:]:
            sep = self.pick([" - ", " -> ", "-", "->"]) if not self.junk() else self.pick([" ", " → ", " -- ", "—"])
            out += sep + el
        return out

    # --------------------------------------------------------------- the file
    def statement(self, depth: int = 2) -> str:
        if self.junk():
            return (
                self.pick(UNICODE) + self.op()
                if self.p(0.5)
                else self.pick(
                    ["# a comment", "", "\\", "]", "}", "{", ";", "$", "conv3-8 - \\\n relu", "x =", "import"]
                )
            )
        kind = self.r.randint(0, 9)
        if kind <= 6:
            return self.chain(depth)
        if kind == 7:
            return f"{self.pick(VARS)} = {self.expr()}"
        if kind == 8:
            items = [
                self.pick(LABELS + ["a as out", "b as a", f"{self.label()} as {self.hostile_name()}"])
                for _ in range(self.r.randint(1, 3))
            ]
            return "output " + ", ".join(items)
        return self.input_line()

    def input_line(self) -> str:
        if self.p(0.7):
            return "input " + self.pick(
                ["3x32x32", "1x8x8", "3x16x16", "3x224x224", "3×8×8", "3x1x1", "(16)", "(784)", "(3, 8, 8)", "2x12x10"]
            )
        return "input " + self.pick(
            [
                "0x8x8",
                "(3, n, n)",
                "(1, 2, 3, 4)",
                "(a, 8, 8)",
                "(0)",
                "(-3, 8, 8)",
                "3x8",
                "(3, 8.5, 8)",
                "1x100000x100000",
                "(2**9)",
            ]
        )

    def block_def(self, name: str) -> str:
        params = self.pick(
            ["", "c", "c, k=3", "c, k=c", "n", "c=4", "n=2"] if self.p(self.sane) else ["c, c", "x=1, y", "k=c, c"]
        )
        body = self.lines(1, 1, 2)
        if name == "rec" and self.p(0.6):  # a block that calls itself, maybe only under a condition
            body = self.pick(
                [
                    "if n > 0 { rec(n - 1) - relu }",
                    "rec(c) - relu",
                    "[rec(n)]x2",
                    "if n > 0 { rec(n - 1) - rec(n - 1) } else { relu }",
                    "if n > 0 { rec(n + 1) }",
                    "if n > 0 { [rec(n - 1)]x3 } else { conv1-4 }",
                ]
            )
            params = "n"
        return f"block {name}({params}) {{\n{body}\n}}"

    def spec(self) -> str:
        """A whole spec: imports, variables, blocks, an input line, statements; sometimes in networks."""
        parts = []
        if self.p(0.1):
            parts.append(
                self.pick(
                    [
                        "import residual as res",
                        "import vgg16",
                        "import vggg16",
                        'import "../x.arch"',
                        'import "/etc/hostname"',
                        "import residual",
                        'import "lenet5.arch" as t',
                    ]
                )
            )
        for _ in range(self.r.randint(0, 2)):
            name = self.pick(VARS)
            parts.append(f"{name} = {self.expr() if self.p(1 - self.sane) else self.num()}")
            self.defined.append(name)
        if self.p(0.3):  # a block named like a keyword, a module attribute, a builtin
            self.blocks[self.r.randrange(len(self.blocks))] = self.hostile_name("block")
        names = list(self.blocks)
        for _ in range(self.r.randint(0, 2)):
            name = self.pick(names) if self.p(self.sane) else self.pick(["b", "relu", "conv"])
            parts.append(self.block_def(name))
            if name in names and self.p(self.sane):
                names.remove(name)
        if self.p(0.8):
            parts.append(self.input_line())
        body = [self.statement() for _ in range(self.r.randint(1, 4))]
        if self.p(0.12):
            net = self.hostile_name("network") if self.p(0.4) else "n"
            parts.append(f"network {net} {{\n" + "\n".join(["input 3x16x16", *body]) + "\n}")
            if self.p(0.5):
                parts.append(
                    f"network {self.hostile_name('network') if self.p(0.4) else 'm'} {{\n input 1x8x8\n"
                    + self.chain(1)
                    + "\n}"
                )
        else:
            parts += body
        text = "\n".join(parts)
        if self.junk():  # a stray character somewhere
            i = self.r.randint(0, len(text))
            text = text[:i] + self.pick(UNICODE) + text[i:]
        return text


class NameGen:
    """Small specs that archdsl mostly accepts, with every name hostile: labels (bare and quoted, on ops, chains,
    repeats, merge branches, residual bodies, loop templates, references, crops and unpools), groups, a block,
    a network and named outputs are drawn from Python's keywords, nn.Module / GraphModule attributes, builtins
    and the names generated source uses (``hostile_name``). Every piece keeps 4 channels at 8x8, so that any
    sequence of them is a network; archdsl must map each name to a module or refuse it with an ArchError."""

    # mostly names archdsl must accept (builtins, what generated source uses), now and then ones it must refuse
    POOLS = [KEYWORDS, MODULE_ATTRIBUTES, BUILTINS, BUILTINS, GENERATED, GENERATED]

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.labels: list[str] = []  # labels of top-level elements written so far (bare or quoted), for references

    def label(self, role: str = "label") -> str:
        """A label, hostile 30% of the time (a spec has several: about half the specs should be accepted)."""
        if self.r.random() < 0.3:
            return label_text(hostile_name(self.r, role, odd=0.05, pools=self.POOLS), self.r)
        return f"l{self.r.randint(0, 999)}"

    def bare(self, role: str = "label", default: str = "net", share: float = 1.0) -> str:
        """A hostile name that is a NAME (``share`` of the time), else ``default``."""
        name = hostile_name(self.r, role, odd=0, pools=self.POOLS)
        return name if is_name(name) and self.r.random() < share else default

    def template(self) -> str:
        """A quoted label template, ``"forward{i}"`` or ``"{i}"`` around a hostile name."""
        h = hostile_name(self.r).replace("{", "").replace("}", "").replace('"', "").replace("\n", "")
        return self.r.choice(templates([f'"{h}{{i}}"', f'"{{i}}{h}"', f'"{h}"', f'"{h}.{{i}}"', '"{i}"']))

    def piece(self) -> str:
        """One element that takes and gives 4 channels at 8x8."""
        L, L2 = self.label(), self.label()
        kind = self.r.randint(0, 14)
        if kind == 0:
            el = f"{L}: conv3-4"
        elif kind == 1:
            el = f"{L}: conv3-4 - {L2}: relu"
        elif kind == 2:
            el = f"{L} {{\n    {self.label()}: conv3-4\n    relu\n}}"
        elif kind == 3:
            el = f"{L} {{\n    {L2} {{ {self.label()}: conv1-4 - bn }}\n}}"
        elif kind == 4:  # every branch labelled: the branches' modules are named in the enclosing scope
            el = f"concat {{\n    {L}: conv1-2\n    {L2}: conv3-2\n}}"
        elif kind == 5:
            el = f"add {{\n    {L}: conv3-4\n    {L2}: identity\n}}"
        elif kind == 6:
            el = f"residual {{ {L}: conv3-4 - {L2}: bn }}"
        elif kind == 7:
            el = f"{L}: [conv3-4 - relu]x2"
        elif kind == 8:
            el = f"[{L}: conv3-4 - {L2}: relu]x2"
        elif kind == 9:
            el = f"for i in range({self.r.randint(1, 3)}) {{ {self.template()}: conv3-4 }}"
        elif kind == 10:
            el = f"{L}: maxpool(2, indices=true) - conv3-4 - unpool(@{L})"
        elif kind == 11 and self.labels:
            el = f"{L}: crop(@{self.r.choice(self.labels)})"
        elif kind == 12:
            el = f"{L}: blk(4)" if self.r.random() < 0.5 else "blk(4)"
        elif kind == 13:
            el = f"{L}: mean {{\n    conv3-4\n    {L2}: [{self.label()}: relu]x1\n}}"
        else:
            el = f"{L}: identity"
        if el.startswith(L):  # a labelled element or a group
            self.labels.append(L)
        return el

    def spec(self) -> str:
        """Pieces in one or two chains; sometimes a labelled head and named outputs, a block, a network."""
        block = self.bare("block", "blk", share=0.4)
        body = [" - ".join(self.piece() for _ in range(self.r.randint(1, 3))) for _ in range(self.r.randint(1, 2))]
        text = "\n".join(body).replace("blk(", f"{block}(")
        out = []
        if self.r.random() < 0.3:  # named outputs: a bare label at the end, a renamed one
            head, name = self.bare(), self.bare("output", "o")
            text += f" - flatten - {head}: fc-3"
            out = [f"output {head} as {name}" if self.r.random() < 0.5 else f"output {head}"]
            if self.r.random() < 0.5 and self.labels:
                ref = self.r.choice(self.labels)
                aux = self.bare()
                text += f"\n@{ref} - {aux}: gap"
                out[0] += f", {aux}" + (f" as {self.bare('output', 'p')}" if self.r.random() < 0.5 else "")
        inner = (
            [f"block {block}(c) {{\n    {self.label()}: conv3-{{c}} - {self.label()}: relu\n}}"]
            if f"{block}(" in text or self.r.random() < 0.3
            else []
        )
        lines = ["input 4x8x8", text, *out]
        if self.r.random() < 0.3:
            body = "\n".join(lines).split("\n")
            return "\n".join(inner + [f"network {self.bare('network')} {{"] + ["    " + line for line in body] + ["}"])
        return "\n".join(inner + lines)
