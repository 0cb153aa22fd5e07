"""Grammar-aware generation of specs for the fuzz tests.

:class:`SpecGen` writes any construct of the language (docs/language.md) with random, often
bad, arguments: chains of ops in shorthand and call form, repeats, groups, concat / add / mean /
residual bodies, labels and references, blocks (some of them recursive), if / for, quoted
labels, networks, outputs, imports, odd numbers (0, negative, huge, floats) and, in its wild
mode, stray characters and unicode. Each case must still end in an analysis or an ArchError.

Generation is plain Python driven by a ``random.Random``; hypothesis chooses the seeds
(``seeds()``), so that a run is reproducible (``derandomize=True``) and fast: drawing every
token through hypothesis costs ~70 ms a spec, this ~0.1 ms. A failing case prints its text.
"""
from __future__ import annotations

import random

from hypothesis import strategies as st

from archdsl.ops import REGISTRY

OPS = sorted(n for n in REGISTRY if n not in ("input", "projection"))
ALIASES = sorted({a for c in REGISTRY.values() for a in c.aliases if c.name not in ("input", "projection")})
PLAIN = [n for n in OPS if REGISTRY[n].body is None]
MERGES = ["concat", "add", "mean", "cat", "sum", "join"]
TYPOS = ["maxpol", "covn", "rleu", "FC", "CONV", "POOL", "RELU", "softmx", "conv3x3", "relu3", "bnn", "lineer"]
SPELLINGS = ["kernel", "stride", "padding", "dilation", "out_channels", "filters", "units", "g", "ceil_mode",
             "negative_slope", "scale_factor", "output_size", "rate"]
VARS = ["n", "c", "w", "k", "cfg", "classes", "filters", "hidden", "i", "j", "x", "aux"]
LABELS = ["a", "b", "c1", "stem", "layer1", "pool5", "head", "x"]
WORDS = ["same", "valid", "bilinear", "nearest", "relu", "none", "conv", "conv_bn", "true", "false"]
GROUPS = ["g", "features", "head", '"layer{1}"', '"conv"', "classifier"]
UNICODE = ["é", "×", "\u0435", "\u00a0", "\ufeff", "\u200b", "→", "\x00", "\t", "\\", "'", "`", "😀", "\r"]
HUGE = [0, -1, -64, 2**31, 2**53, 2**53 + 1, 10**12, 10**30, 99999999999, 100000, 65536]
FLOATS = ["0.5", "1.5", "1e-4", "2.0", "1e400", "-0.0", "0.0", "1e308", "3.0"]
JUNK_NUMBERS = [".5", "1e", "0x10", "007", "1_000", "½", "٣"]


# values that an argument of this name takes (the op may still refuse them for its input)
GOOD = {"out": ["4", "8", "16", "1", "{c}"], "k": ["1", "2", "3", "5", "(1, 3)"], "s": ["1", "2", "1"],
        "p": ["0", "1", "same", "valid", "(0, 1)"], "d": ["1", "2"], "groups": ["1", "2"], "bias": ["true", "false"],
        "slope": ["0.1", "0.2"], "inplace": ["true", "false"], "dim": ["1", "-1"], "eps": ["1e-5", "0.001"],
        "momentum": ["0.1", "0.9"], "affine": ["true", "false"], "size": ["1", "2", "3", "(2, 3)"], "alpha": ["1e-4"],
        "beta": ["0.75"], "scale": ["2", "20.0", "0.5"], "mode": ["nearest", "bilinear"], "ceil": ["true", "false"],
        "indices": ["true", "false"], "count_include_pad": ["true", "false"], "dims": ["-1", "1", "2"],
        "ref": ["@a", "@b"], "offset": ["0", "1", "(1, 0)"], "multiplier": ["1", "2"], "output_padding": ["0", "1"],
        "act": ["relu", "none"], "proj": ["conv", "conv_bn"], "drop": ["0.1", "0.0"]}


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
            name = self.pick(["b", "blk", "t", "t.head", "vgg16", "res.basic", "rec"])
        else:
            name = self.pick(TYPOS)
        cls = REGISTRY.get(name)
        out = name
        if self.p(0.3):
            out += str(self.pick([1, 2, 3, 5, 7, 1, 3, 0, 11, 100000]))
        if self.p(0.35):
            n = self.num().lstrip("-")
            out += "-" + (n if n.isdigit() or self.junk() else "{" + n + "}") if self.p(0.8) else \
                "-{" + self.expr(1) + "}"
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
            args += [f"{self.pick(fields if fields and self.p(0.7) else names)}={self.value()}"
                     for _ in range(self.r.randint(0, 3))]
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
            el = f"{self.pick(GROUPS)} {{\n{self.lines(depth - 1)}\n}}"
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
            el = f"{self.pick(['b', 'blk', 'rec', 'b2'])}({args})"
        elif kind <= 15:  # if / else
            el = f"if {self.expr(1)} {{ {self.chain(depth - 1)} }}"
            if self.p(0.5):
                el += f" else {{ {self.chain(depth - 1)} }}"
        elif kind <= 17:  # for
            items = self.pick([self.expr(2), "range(3)", "(8, 16)", "((8, 1), (16, 2))", "cfg", "range(1, 4)",
                               "range(100000)", "range(n)"])
            el = f"for {self.pick(['i', 'c', 'c, n', 'i, j, k'])} in {items} {{ {self.chain(depth - 1)} }}"
        elif kind == 18:
            el = f"{self.pick(['crop', 'resize_to'])}(@{self.label()})"
        else:
            el = f"unpool(@{self.label()})"
        if self.p(0.3) and not el.startswith('"'):  # a label or a quoted label template
            label = self.pick(LABELS) if self.p(0.8) else self.pick(['"l{i}"', '"{c}"', '"a.b"', '"x{1/0}"', '"{1}"'])
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
            return self.pick(UNICODE) + self.op() if self.p(0.5) else \
                self.pick(["# a comment", "", "\\", "]", "}", "{", ";", "$", "conv3-8 - \\\n relu", "x =", "import"])
        kind = self.r.randint(0, 9)
        if kind <= 6:
            return self.chain(depth)
        if kind == 7:
            return f"{self.pick(VARS)} = {self.expr()}"
        if kind == 8:
            items = [self.pick(LABELS + ["a as out", "b as a"]) for _ in range(self.r.randint(1, 3))]
            return "output " + ", ".join(items)
        return self.input_line()

    def input_line(self) -> str:
        if self.p(0.7):
            return "input " + self.pick(["3x32x32", "1x8x8", "3x16x16", "3x224x224", "3×8×8", "3x1x1", "(16)",
                                         "(784)", "(3, 8, 8)", "2x12x10"])
        return "input " + self.pick(["0x8x8", "(3, n, n)", "(1, 2, 3, 4)", "(a, 8, 8)", "(0)", "(-3, 8, 8)",
                                     "3x8", "(3, 8.5, 8)", "1x100000x100000", "(2**9)"])

    def block_def(self, name: str) -> str:
        params = self.pick(["", "c", "c, k=3", "c, k=c", "n", "c=4", "n=2"] if self.p(self.sane) else
                           ["c, c", "x=1, y", "k=c, c"])
        body = self.lines(1, 1, 2)
        if name == "rec" and self.p(0.6):  # a block that calls itself, maybe only under a condition
            body = self.pick(["if n > 0 { rec(n - 1) - relu }", "rec(c) - relu", "[rec(n)]x2",
                              "if n > 0 { rec(n - 1) - rec(n - 1) } else { relu }", "if n > 0 { rec(n + 1) }",
                              "if n > 0 { [rec(n - 1)]x3 } else { conv1-4 }"])
            params = "n"
        return f"block {name}({params}) {{\n{body}\n}}"

    def spec(self) -> str:
        """A whole spec: imports, variables, blocks, an input line, statements; sometimes in networks."""
        parts = []
        if self.p(0.1):
            parts.append(self.pick(["import residual as res", "import vgg16", "import vggg16", 'import "../x.arch"',
                                    'import "/etc/hostname"', "import residual", 'import "lenet5.arch" as t']))
        for _ in range(self.r.randint(0, 2)):
            name = self.pick(VARS)
            parts.append(f"{name} = {self.expr() if self.p(1 - self.sane) else self.num()}")
            self.defined.append(name)
        names = ["b", "blk", "rec", "b2"]
        for _ in range(self.r.randint(0, 2)):
            name = self.pick(names) if self.p(self.sane) else self.pick(["b", "relu", "conv"])
            parts.append(self.block_def(name))
            if name in names and self.p(self.sane):
                names.remove(name)
        if self.p(0.8):
            parts.append(self.input_line())
        body = [self.statement() for _ in range(self.r.randint(1, 4))]
        if self.p(0.12):
            parts.append("network n {\n" + "\n".join(["input 3x16x16", *body]) + "\n}")
            if self.p(0.5):
                parts.append("network m {\n input 1x8x8\n" + self.chain(1) + "\n}")
        else:
            parts += body
        text = "\n".join(parts)
        if self.junk():  # a stray character somewhere
            i = self.r.randint(0, len(text))
            text = text[:i] + self.pick(UNICODE) + text[i:]
        return text
