"""Random VALID specs, for the property test that the analysis equals the compiled module.

:class:`ValidGen` grows a spec one element at a time: it draws a candidate (an op in shorthand
or call form, a repeat, a group, a concat / add / mean, a residual with or without a shortcut,
a block call, an if or a for, a crop or resize to a label, an unpool), appends it, and keeps it
only when archdsl still analyses the spec; otherwise it draws another. Sizes stay small (at
most 8 channels in most layers, maps of 4..20 pixels), so a real forward pass costs
milliseconds. Whether the analysis is *right* is what the test then checks against torch.
With probability ``hostile`` (0.3) a label, a block, a network, a named output or a loop's label
template is named by ``grammar.hostile_name`` (mostly builtins and names generated source uses,
now and then a Python keyword or an nn.Module attribute, which compile() must refuse).
"""

from __future__ import annotations

import random

import archdsl
from archdsl import ArchError

from .grammar import BUILTINS, GENERATED, KEYWORDS, MODULE_ATTRIBUTES, hostile_name, is_name, label_text, templates

# where hostile names come from: mostly names archdsl must accept (builtins, what generated source uses),
# now and then ones it must refuse (Python keywords, nn.Module / GraphModule attributes)
POOLS = [KEYWORDS, MODULE_ATTRIBUTES, BUILTINS, BUILTINS, GENERATED, GENERATED, GENERATED]

BLOCKS = {
    "cbr": "block cbr(c, k=3, s=1) {\n    conv(c, k=k, s=s, bias=false) - bn - relu\n}",
    "basic": "block basic(c, s=1) {\n    residual(act=relu) {\n        conv1: conv(c, k=3, s=s, bias=false) - bn1: bn"
    " - relu\n        conv2: conv(c, k=3, bias=false) - bn2: bn\n    }\n}",
    "inc": "block inc(a, b) {\n    concat {\n        conv1-{a}\n        conv1-{b} - relu - conv3-{b}\n"
    "        maxpool(3, s=1, p=1) - conv1-{a}\n    }\n}",
    "stage": 'block stage(c, n=2) {\n    for i in range(n) {\n        "unit{i}": conv3-{c} - relu\n    }\n}',
    "maybe": "block maybe(c, norm=1) {\n    conv3-{c}\n    if norm { bn } else { identity }\n    relu\n}",
}


class ValidGen:
    def __init__(self, seed: int, tries: int = 6, hostile: float = 0.3):
        self.r = random.Random(seed)
        self.tries = tries
        self.hostile = hostile  # how often a label, a group, a block, a network or an output is named hostilely
        self.block = ""  # a block named like a builtin or a name generated source uses, when the spec has one
        self.labels: list[str] = []  # top-level labels written so far
        self.pools: list[str] = []  # labels of max-pools that keep their indices
        self.uid = 0
        self.loads = 0

    def pick(self, seq):
        return self.r.choice(seq)

    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def c(self) -> int:
        return self.pick([1, 2, 3, 4, 4, 6, 8, 8])

    def new_label(self, stem: str = "l") -> str:
        self.uid += 1
        if self.p(self.hostile):
            return label_text(hostile_name(self.r, pools=POOLS), self.r)
        return f"{stem}{self.uid}"

    def hostile_name(self, role: str, default: str) -> str:
        """A bare hostile name (a block, a network, an output) or ``default``."""
        if not self.p(self.hostile):
            return default
        name = hostile_name(self.r, role, odd=0, pools=POOLS)
        return name if is_name(name) else default

    # -------------------------------------------------------------- candidates
    def op(self, keep_size: bool = False) -> str:
        c = self.c()
        same = [
            f"conv3-{c}",
            f"conv1-{c}",
            f"conv5-{c}",
            f"conv(out={c}, kernel_size=3, padding=1)",
            f"conv({c}, k=(1, 3), p=(0, 1))",
            f"conv({c}, p=same, k=4)",
            f"conv({c}, d=2)",
            f"conv({c * 2}, groups=2, bias=false)",
            "dwconv3",
            "dwconv(k=5, multiplier=2)",
            "bn",
            "BN",
            "bn(eps=1e-3, affine=false)",
            "batchnorm(momentum=0.5)",
            "relu",
            "ReLU",
            "relu(inplace=true)",
            "relu6",
            "leaky(0.1)",
            "leaky_relu",
            "tanh",
            "sigmoid",
            "identity",
            "dropout",
            "dropout(0.2)",
            "drop_path(0.1)",
            "lrn",
            "lrn-3",
            "lrn(3, alpha=1e-3, beta=0.5, k=1.0)",
            "l2norm",
            "maxpool(3, s=1, p=1)",
            "avgpool(3, s=1, p=1, count_include_pad=false)",
            "softmax",
            "soft-max",
            "zeropad(1) - conv(4, p=0)",
        ]
        if keep_size:
            return self.pick(same)
        other = [
            f"conv3-{c}/2",
            f"conv7-{c}/2",
            f"conv({c}, 3, 2, 0)",
            f"conv({c}, k=2, s=2, p=0)",
            f"conv(out={c}, k=5, s=(2, 1), p=valid)",
            f"conv({c}, k=3, s=2, d=2, p=(1, 2))",
            "dwconv3/2",
            f"upconv2-{c}",
            f"deconv({c}, k=3, s=2, p=1, output_padding=1)",
            f"upconv({c}, k=4, s=2, p=1)",
            "maxpool",
            "pool2",
            "POOL",
            "maxpool3/2",
            "maxpool(3, s=2, ceil=true)",
            "maxpool(2, ceil_mode=true)",
            "avgpool2",
            "avgpool(3, s=2, p=1)",
            "avgpool(2, ceil=true)",
            "subsample",
            "adaptive_avgpool(2)",
            "adaptive_avgpool((2, 3))",
            "gap",
            "up2",
            "upsample(2, bilinear)",
            "upsample(scale=3)",
            "zeropad((1, 0, 2, 1))",
            "decimate(2)",
            "decimate/3",
            "pad_channels-8",
            "pad_channels(12)",
            f"flatten - fc-{c}",
            f"fc-{c}",
            f"fc({c}, bias=false)",
            f"linear({c})",
            f"dense-{c} - relu",
            "flatten",
            "reshape(-1)",
            "permute(0, 2, 1)",
            f"fc-{c * 4} - reshape({c}, 2, 2)",
            # corners of the shape rules: each is accepted only where torch agrees
            f"softmax(dim={self.pick([0, 2, 3, 4, -1, -4, 5])})",
            "flatten - lrn",
            "flatten - l2norm",
            "flatten - bn",
            f"reshape({c}, -1) - bn",
            f"reshape({c}, -1) - lrn",
            f"reshape({c}, 1, 1, -1) - bn",
            f"reshape({c}, 1, 1, -1) - lrn",
            "permute(1, 2, 0) - bn",
            "flatten - softmax(dim=2)",
            f"conv({c}, p=same, k=4, d=3)",
            f"conv({c}, p=same, k=(2, 3))",
            "dwconv(k=4, p=same)",
            "avgpool(4, s=3, ceil=true, p=2)",
            "maxpool(3, s=2, p=1, ceil=true)",
            "maxpool(4, s=3, ceil=true)",
            "avgpool(3, s=2, p=1, ceil=true, count_include_pad=false)",
            "avgpool(5, s=4, p=2, ceil=true)",
            f"upconv({c}, k=3, s=2, d=2, output_padding=1)",
            f"upconv({c}, k=(2, 3), s=(2, 1))",
            "adaptive_avgpool(7)",
            "adaptive_avgpool((1, 5))",
            "decimate(3)",
            "zeropad((0, 3, 1, 0))",
            f"conv({c}, k=1, s=3)",
            f"fc-{c} - bn - relu",
            f"fc-{c} - dropout(1.0)",
            "upsample(2, mode=bilinear)",
            f"fc-{c} - reshape({c}, 1) - bn",
            f"fc-{c * 2} - reshape(2, {c}) - softmax(dim=2)",
        ]
        if self.labels and self.p(0.3):
            lbl = self.pick(self.labels)
            other += [
                f"crop(@{lbl})",
                f"resize_to(@{lbl})",
                f"resize_to(@{lbl}, mode=nearest)",
                f"crop(@{lbl}, offset=1)",
            ]
        if self.pools and self.p(0.5):
            other.append(f"unpool(@{self.pick(self.pools)})")
        if self.p(0.1):
            lbl = self.new_label("mp")
            self.pools.append(lbl)  # kept only if the candidate is
            return f"{lbl}: maxpool(2, indices=true)"
        return self.pick(same + other)

    def chain(self, n: int, keep_size: bool = False) -> str:
        return " - ".join(self.op(keep_size) for _ in range(n))

    def element(self) -> str:
        kind = self.r.randint(0, 14)
        if kind <= 5:
            el = self.op()
        elif kind == 6:
            el = f"[{self.chain(self.r.randint(1, 3), self.p(0.7))}]x{self.r.randint(1, 3)}"
        elif kind == 7:
            el = f"{self.new_label('g')} {{\n    {self.chain(2)}\n    {self.chain(1)}\n}}"
        elif kind == 8:
            m = self.pick(["concat", "cat", "concat"])
            branches = [self.chain(self.r.randint(1, 2), True) for _ in range(self.r.randint(2, 3))]
            if self.labels and self.p(0.3):
                branches[0] = f"@{self.pick(self.labels)}"
            el = f"{m} {{\n    " + "\n    ".join(branches) + "\n}"
        elif kind == 9:
            m = self.pick(["add", "add(act=relu)", "mean", "sum", "mean(drop=0.2)"])
            c = self.c()
            branches = [f"{self.chain(1, True)} - conv1-{c}" for _ in range(2)]
            el = f"conv1-{c} - {m} {{\n    " + "\n    ".join(branches + ["identity"] * self.r.randint(0, 1)) + "\n}"
        elif kind == 10:
            r = self.pick(["residual", "residual(act=relu)", "residual(proj=conv)", "residual(scale=0.2)", "res"])
            el = f"{r} {{ {self.chain(self.r.randint(1, 3))} }}"
            if self.p(0.3):
                shortcut = self.pick(["avgpool2 - conv1-8", "decimate(2) - pad_channels(8)", "conv1-8/2"])
                el += f" shortcut {{ {shortcut} }}"
        elif kind == 11:
            el = self.pick(
                [
                    "cbr(8)",
                    "cbr(4, k=1)",
                    "cbr(c=6, s=2)",
                    "basic(8)",
                    "basic(4, s=2)",
                    "inc(2, 4)",
                    "stage(4)",
                    "stage(c=2, n=3)",
                    "maybe(4)",
                    "maybe(4, norm=0)",
                    "[cbr(4)]x2",
                    "res.basic(8)",
                    "res.basic(8, stride=2)",
                    "res.bottleneck(2, stride=2)",
                    "res.bottleneck(4, groups=2, base_width=32)",
                    "[res.basic(4)]x2",
                    "CONV",
                    "FC",
                    "[CONV - POOL]x2 - FC",
                    "[FC - RELU]x2 - FC",
                    "CONV - RELU - POOL",
                    *[f"{self.block}({self.c()})", f"[{self.block}(c=2)]x2"] * bool(self.block),
                ]
            )
        elif kind == 12:
            el = f"if flag {{ {self.chain(1)} }}" + (f" else {{ {self.chain(1)} }}" if self.p(0.6) else "")
        elif kind == 13:
            h = hostile_name(self.r, pools=POOLS).replace("{", "").replace("}", "").replace('"', "")
            forms = [(2, f'"{h}{{i}}"'), (1, f'"{h}"'), (2, f'"{{i}}{h}"')]  # loop labels around a hostile name
            el = self.pick(
                [
                    "for c in (2, 4) { conv3-{c} - relu }",
                    "for c, s in ((4, 1), (8, 2)) { conv(c, s=s) }",
                    'for i in range(2) { "fl{i}": conv3-4 }',
                    "for i in range(1, 3) { conv1-{i * 2} }",
                    *[
                        f"for i in range({n}) {{ {t}: conv3-4 }}"
                        for n, t in forms
                        if t in templates([t for _, t in forms])
                    ],
                ]
            )
        else:
            el = f"[{self.op()}]x2"
        if self.p(0.3) and not el.startswith(("if", "for")):
            lbl = self.new_label("x")
            el = f"{lbl}: {el}"
            self.labels.append(lbl)
        return el

    # --------------------------------------------------------------- the spec
    def valid(self, text: str) -> bool:
        self.loads += 1
        try:
            archdsl.load(text).analyze()
            return True
        except ArchError:
            return False

    def spec(self) -> str:
        c, h, w = self.pick([1, 2, 3, 3]), self.r.randint(4, 20), self.r.randint(4, 20)
        if self.p(0.7):
            w = h
        blocks = [BLOCKS[b] for b in BLOCKS]
        name = self.hostile_name("block", "")
        block = f"block {name}(c) {{\n    conv3-{{c}} - relu\n}}"
        if name and self.valid(f"{block}\ninput 3x8x8\n{name}(4)"):  # a keyword or an op's name is not a block's
            self.block = name
            blocks.append(block)
        head = (
            ["import residual as res"]
            + blocks
            + [f"flag = {self.r.randint(0, 1)}", "classes = 5", "hidden = 12", "filters = 6", f"input {c}x{h}x{w}"]
        )
        if self.p(0.1):
            head[-1] = f"input ({c * h * w})"
        lines: list[str] = []
        for _ in range(self.r.randint(2, 8)):
            labels, pools = list(self.labels), list(self.pools)
            for _ in range(self.tries):
                el = self.element()
                new_line = not lines or self.p(0.3)
                cand = lines + [el] if new_line else lines[:-1] + [f"{lines[-1]} - {el}"]
                if self.valid("\n".join(head + cand)):
                    lines = cand
                    break
                self.labels, self.pools = list(labels), list(pools)  # the candidate's labels went with it
        if not lines:
            lines = ["relu"]
        if self.labels and self.p(0.3):  # a second head and named outputs (an output names a label bare)
            main, aux = self.hostile_name("label", "main"), self.hostile_name("label", "aux")
            side = self.hostile_name("output", "side")
            cand = lines[:-1] + [
                f"{lines[-1]} - {main}: identity",
                f"@{self.pick(self.labels)} - {aux}: relu",
                f"output {main}, {aux} as {side}",
            ]
            if self.valid("\n".join(head + cand)):
                lines = cand
        text = "\n".join(head + lines)
        if self.p(self.hostile / 2):  # in a network named like a builtin, a keyword, an attribute
            net = self.hostile_name("network", "net") if self.hostile else "net"
            cand = "\n".join(
                head[:-1] + [f"network {net} {{", "    " + head[-1]] + ["    " + line for line in lines] + ["}"]
            )
            if self.valid(cand):
                text = cand
        return text
