"""The language: every example in docs/language.md runs, and each feature behaves as documented.

Doc examples are the ```arch blocks of docs/language.md. A block whose first line is
``# file: NAME.arch`` is also saved under that name, so later examples can import it. A
line ``# → ...`` states the outputs (``10``, ``scores 10, boxes 4x8x8``) and optionally
``N params``; the test checks them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import ArchError, UnknownNameError
from archdsl.ops import REGISTRY, Op
from archdsl.ops.base import KWARG_ALIASES

DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"


def doc_examples() -> list[tuple[int, str]]:
    """(line number, text) of every ```arch block in docs/language.md."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```arch\n(.*?)^```", text, re.S | re.M):
        out.append((text[: m.start()].count("\n") + 2, m.group(1)))
    return out


EXAMPLES = doc_examples()


@pytest.fixture(scope="module")
def doc_dir(tmp_path_factory) -> Path:
    """A folder holding every `# file:` example, so import examples find their files."""
    folder = tmp_path_factory.mktemp("doc_examples")
    for _, text in EXAMPLES:
        m = re.match(r"# file: (\S+\.arch)\n", text)
        if m:
            (folder / m.group(1)).write_text(text, encoding="utf-8")
    return folder


def _expected(text: str) -> tuple[dict[str, tuple[int, ...]] | tuple[int, ...] | None, int | None]:
    m = re.search(r"^# → (.*)$", text, re.M)
    if not m:
        return None, None
    outputs: dict[str, tuple[int, ...]] = {}
    single = None
    params = None
    for item in m.group(1).split(", "):
        item = item.strip()
        if item.endswith(" params"):
            params = int(item.removesuffix(" params").replace(",", ""))
        elif " " in item:
            name, shape = item.split()
            outputs[name] = tuple(int(d) for d in shape.split("x"))
        else:
            single = tuple(int(d) for d in item.split("x"))
    return (outputs or single), params


def test_doc_has_examples():
    assert len(EXAMPLES) >= 20
    assert all(re.search(r"^# → ", text, re.M) for _, text in EXAMPLES), "every example states its output"


@pytest.mark.parametrize("line,text", EXAMPLES, ids=[f"language.md:{n}" for n, _ in EXAMPLES])
def test_doc_example_runs(line: int, text: str, doc_dir: Path):
    spec = doc_dir / f"example_line{line}.arch"
    spec.write_text(text, encoding="utf-8")
    net = archdsl.load(str(spec))
    a = net.analyze()
    outputs, params = _expected(text)
    if isinstance(outputs, dict):
        assert a.outputs == outputs
    elif outputs is not None:
        assert list(a.outputs.values()) == [outputs]
    if params is not None:
        assert a.totals.params == params
    module = net.compile(device="meta")
    assert sum(p.numel() for p in module.parameters()) == a.totals.params
    if a.totals.macs < 200_000_000:  # small enough to run for real: analysis == torch
        module = net.compile()
        with torch.no_grad():
            y = module.eval()(**net.example_inputs(2))
        ys = y if isinstance(y, dict) else {"output": y} if len(a.outputs) == 1 else None
        got = {k: tuple(v.shape[1:]) for k, v in ys.items()}
        assert list(got.values()) == list(a.outputs.values())


def test_the_table_of_ops_is_each_ops_own_reference():
    """docs/language.md's table of ops is generated from the ops (``python -m archdsl.ops``): every op, alias
    and argument is there, and adding an op touches its own file only."""
    from archdsl.ops import reference_table

    doc = DOC.read_text(encoding="utf-8")
    assert reference_table() + "\n" in doc, "docs/language.md's table of ops is stale: paste `python -m archdsl.ops`"
    for name, cls in REGISTRY.items():
        assert cls.reference != Op.reference, f"op {name} has no reference row (Op.reference)"


def test_every_keyword_alias_is_documented():
    doc = DOC.read_text(encoding="utf-8")
    for alias, field in KWARG_ALIASES.items():
        assert f"`{alias}`" in doc, f"keyword alias {alias} (for {field}) is missing from docs/language.md"


# ------------------------------------------------------------------- helpers
def analyze(text: str, **kw):
    kw.setdefault("input", "3x32x32")
    return archdsl.load(text, **kw).analyze()


def names(text: str, **kw) -> list[str]:
    return [layer.name for layer in analyze(text, **kw).layers if layer.name != "input"]


def args(text: str, name: str, **kw) -> dict:
    return analyze(text, **kw).layer(name).args


# --------------------------------------------------------------- shorthands
@pytest.mark.parametrize(
    "written,op,expect",
    [
        ("conv3-64", "conv", dict(out=64, k=3, s=1, p=1, d=1)),
        ("conv5-16", "conv", dict(out=16, k=5, s=1, p=2)),
        ("conv7-64/2", "conv", dict(out=64, k=7, s=2, p=3)),
        ("conv1-8", "conv", dict(out=8, k=1, p=0)),
        ("CONV", "conv", dict(out=32, k=3, s=1, p=1)),
        ("Conv3-8", "conv", dict(out=8, k=3)),
        ("conv3-{2*4}/{1+1}", "conv", dict(out=8, k=3, s=2)),
        ("conv3-64(s=2, bias=false)", "conv", dict(out=64, k=3, s=2, bias=False)),
        ("pool2", "maxpool", dict(k=2, s=2, p=0)),
        ("POOL", "maxpool", dict(k=2, s=2)),
        ("pool3", "maxpool", dict(k=3, s=3)),
        ("maxpool3/2", "maxpool", dict(k=3, s=2)),
        ("avgpool2", "avgpool", dict(k=2, s=2)),
        ("subsample", "avgpool", dict(k=2, s=2)),
        ("lrn-5", "lrn", dict(size=5)),
        ("up2", "upsample", dict(scale=2, mode="nearest")),
        ("upconv2-64", "upconv", dict(out=64, k=2, s=2, p=0)),
        ("deconv4-8/2", "upconv", dict(out=8, k=4, s=2)),
        ("soft-max", "softmax", dict(dim=1)),
        ("Soft-Max", "softmax", dict(dim=1)),
        ("FC-4096", "fc", dict(out=4096)),
        ("dense(10)", "fc", dict(out=10)),
        ("leaky(0.1)", "leaky_relu", dict(slope=0.1)),
        ("dropout", "dropout", dict(p=0.5)),
        ("drop(rate=0.3)", "dropout", dict(p=0.3)),
    ],
)
def test_shorthand_resolution(written, op, expect):
    text = f"conv3-8 - x: {written} - relu"
    layer = analyze(text).layer("x")
    assert layer.op == op
    assert {k: layer.args[k] for k in expect} == expect


@pytest.mark.parametrize("k,d,pad", [(1, 1, 0), (3, 1, 1), (5, 1, 2), (7, 1, 3), (3, 2, 2), (5, 2, 4), (4, 1, 1)])
def test_default_conv_padding_is_k_minus_1_over_2_times_d(k, d, pad):
    assert args(f"x: conv(8, k={k}, d={d})", "x")["p"] == pad


def test_call_forms_are_equivalent():
    forms = [
        "conv(96, k=11, s=4, p=0)",
        "conv(96, 11, 4, 0)",
        "conv11-96/4(p=0)",
        "conv(out_channels=96, kernel_size=11, stride=4, padding=0)",
        "Convolution(filters=96, kernel=11, s=4, p=0)",
    ]
    described = {analyze(f"x: {f}", input="3x227x227").layer("x").describe for f in forms}
    assert described == {"conv(out=96, k=11, s=4, p=0, d=1, groups=1, bias=true)"}


def test_pairs_and_words():
    a = analyze(
        "a: conv(8, k=(1, 7), p=(0, 3)) - b: conv(8, p=same, s=1) - c: upsample(2, bilinear) - "
        "d: maxpool(3, s=2, ceil=true)"
    )
    assert a.layer("a").output_shape == (8, 32, 32)
    assert a.layer("a").param_shapes["weight"] == (8, 3, 1, 7)
    assert a.layer("b").args["p"] == "same"
    assert a.layer("c").args["mode"] == "bilinear" and a.layer("c").output_shape == (8, 64, 64)
    assert a.layer("d").output_shape == (8, 32, 32)  # ceil mode: (64-3)/2 rounded up, + 1


def test_leading_input_and_arrows():
    assert names("INPUT -> conv3-8 -> relu") == names("conv3-8 - relu") == ["0", "1"]
    assert names("INPUT \u2192 conv3-8 \u2192 relu") == ["0", "1"]  # the slides' printed arrow
    a, b = (
        analyze("INPUT \u2192 [[CONV \u2192 RELU]*2 \u2192 POOL]*3 \u2192 FC"),
        analyze("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC"),
    )
    assert a.totals == b.totals and [(x.name, x.output_shape) for x in a.layers] == [
        (x.name, x.output_shape) for x in b.layers
    ]


# ------------------------------------------------------------------- defaults
def test_bare_conv_uses_filters_and_bare_fc_uses_hidden_then_classes():
    a = analyze("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC")
    fcs = [layer.args["out"] for layer in a.layers if layer.op == "fc"]
    convs = {layer.args["out"] for layer in a.layers if layer.op == "conv"}
    assert fcs == [128, 128, 1000] and convs == {32}
    a = analyze("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC", classes=10, filters=8, hidden=64)
    assert [layer.args["out"] for layer in a.layers if layer.op == "fc"] == [64, 64, 10]
    assert {layer.args["out"] for layer in a.layers if layer.op == "conv"} == {8}


def test_bare_fc_before_relu_and_dropout_still_gets_classes():
    a = analyze("conv3-8 - fc - relu - fc - relu - dropout", classes=7)
    assert [layer.args["out"] for layer in a.layers if layer.op == "fc"] == [128, 7]


def test_explicit_fc_is_not_changed():
    assert analyze("conv3-8 - fc-20", classes=7).outputs == {"output": (20,)}


def test_slides_pattern():
    a = analyze("[CONV-POOL]x2-FC", classes=10)
    assert a.outputs == {"output": (10,)}
    assert a.totals.params == 896 + 9248 + (32 * 8 * 8 * 10 + 10)


# ------------------------------------------------------------------- repeats
def test_repeat_spellings_and_counts():
    base = names("conv3-8 - conv3-8 - conv3-8")
    for form in ("[conv3-8]x3", "[conv3-8]*3", "[conv3-8]×3", "[conv3-8]X3", "n = 3\n[conv3-8]x{n}", "[conv3-8]x{1+2}"):
        assert names(form) == base, form


def test_nested_repeats_expand_in_order():
    a = analyze("[[conv3-8 - relu]x2 - maxpool]x2")
    assert [layer.op for layer in a.layers[1:]] == ["conv", "relu", "conv", "relu", "maxpool"] * 2
    assert a.outputs == {"output": (8, 8, 8)}


# -------------------------------------------------------------------- naming
def test_positions_count_labels_too():
    assert names("conv1: conv3-8 - relu - pool: maxpool - conv3-8") == ["conv1", "1", "pool", "3"]


def test_labelled_repeat_naming():
    assert names("layer: [conv3-8 - relu]x2") == ["layer.0.0", "layer.0.1", "layer.1.0", "layer.1.1"]
    block = "block b(c) { residual { conv3-{c} - relu } }\n"
    assert names(block + "layer1: [b(3)]x2") == [
        "layer1.0.0",
        "layer1.0.1",
        "layer1.0.downsample",
        "layer1.0",
        "layer1.1.0",
        "layer1.1.1",
        "layer1.1.downsample",
        "layer1.1",
    ]


def test_doc_naming_example():
    text = (
        "input 3x64x64\nconv1: conv7-64/2 - bn - relu\nlayer1: [conv3-64 - relu]x2\n"
        "layer2: [residual { conv3-64 - bn - relu - conv3-64 - bn }]x2\ngap - fc-10"
    )
    got = names(text)
    assert got[:7] == ["conv1", "1", "2", "layer1.0.0", "layer1.0.1", "layer1.1.0", "layer1.1.1"]
    assert got[7:14] == [
        "layer2.0.0",
        "layer2.0.1",
        "layer2.0.2",
        "layer2.0.3",
        "layer2.0.4",
        "layer2.0.downsample",
        "layer2.0",
    ]
    assert got[-2:] == ["5", "6"]
    assert names("layer: [conv3-8]x2") == ["layer.0", "layer.1"]


def test_unlabelled_repeat_continues_the_group():
    assert names("conv3-8 - [relu - conv3-8]x2") == ["0", "1", "2", "3", "4"]


def test_group_naming_and_single_element_collapse():
    assert names("features { conv3-8 - relu }\nclassifier { fc-10 }") == ["features.0", "features.1", "classifier.0"]
    assert names("layer1 { residual(act=relu) { conv3-3 } }") == ["layer1.0", "layer1.downsample", "layer1"]
    assert names("f: features { conv3-8 }") == ["f.0"]
    doc = "features {\n conv3-32 - relu - maxpool\n conv3-64 - relu - maxpool\n}\nclassifier {\n fc-256 - relu - dropout\n fc-10\n}"
    weights = [layer.name for layer in analyze(doc).layers if layer.params]
    assert weights == ["features.0", "features.3", "classifier.0", "classifier.3"]


def test_merge_branch_naming():
    text = "mix: concat {\n conv1-8\n maxpool(3, s=1, p=1) - conv1-4\n a: conv3-8 - relu\n identity\n}"
    assert names(text) == ["mix.branch1", "mix.branch2.0", "mix.branch2.1", "mix.a", "mix.3", "mix.branch4", "mix"]


def test_block_call_naming():
    text = "block cbr(c) { conv3-{c} - bn - relu }\ncbr(8) - stem: cbr(4)"
    assert names(text) == ["0.0", "0.1", "0.2", "stem.0", "stem.1", "stem.2"]


def test_state_dict_follows_names():
    text = (
        "block basic(c, s=1) {\n residual(act=relu) {\n  conv1: conv(c, k=3, s=s, bias=false) - bn1: bn - relu\n"
        "  conv2: conv(c, k=3, bias=false) - bn2: bn\n }\n}\ninput 8x16x16\nlayer1: [basic(8)]x1\n"
        "layer2: [basic(16, s=2) - basic(16)]x1"
    )
    keys = set(archdsl.load(text).compile(device="meta").state_dict())
    assert {
        "layer1.0.conv1.weight",
        "layer1.0.bn1.running_mean",
        "layer2.0.0.conv1.weight",
        "layer2.0.0.downsample.0.weight",
        "layer2.0.0.downsample.1.weight",
    } <= keys
    assert not any(k.startswith("layer1.0.downsample") for k in keys)  # identity shortcut: no weights


def test_label_names_one_element():
    a = analyze("a: conv3-8 - relu - c: conv3-16\n@a - b: conv1-4\noutput c, b")
    assert a.layer("b").inputs == ["a"]


# ------------------------------------------------------------------ variables
def test_variables_arithmetic_and_overrides():
    text = "width = 16\nconv3-{width} - conv3-{width*2}/2 - conv(width + 7/2, k=3) - conv3-{(width+1) % 5 + 1}"
    a = analyze(text)
    assert [layer.args["out"] for layer in a.layers[1:]] == [16, 32, 19, 3]  # 7/2 is floor division: 3
    a = analyze(text, width=4)
    assert [layer.args["out"] for layer in a.layers[1:]] == [4, 8, 7, 1]
    assert analyze("width = 16\nconv3-{width}", width=4).outputs == {"output": (4, 32, 32)}


def test_override_of_undefined_variable_is_an_error():
    with pytest.raises(UnknownNameError, match="unknown variable 'widht'"):
        archdsl.load("width = 16\nconv3-{width}", input="3x8x8", widht=4)


def test_local_variables_hold_to_the_end_of_their_braces():
    text = "w = 2\nnetwork n {\n input 3x8x8\n g { w = 4\n conv3-{w} }\n conv3-{w}\n}"
    assert [layer.args["out"] for layer in archdsl.load(text).analyze().layers[1:]] == [4, 2]


def test_cli_set_and_classes(capsys):
    from archdsl.cli import main

    assert main(["check", "width = 16\ninput 3x8x8\nconv3-{width} - FC", "--set", "width=2", "--classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "output 3" in out
    assert f"{(2 * 27 + 2) + (2 * 64 * 3 + 3):,} params" in out


# --------------------------------------------------------------------- blocks
def test_block_defaults_keywords_and_bare_calls():
    text = (
        "block b(c, c2=2*c, k=3) { conv(c, k=k) - conv(c2, k=1) }\n"
        "x: b(3) - y: b(4, k=5) - z: b(c=2, c2=7)\nblock stem(c=5) { conv1-{c} }\nstem - stem(c=6)"
    )
    a = analyze(text)
    assert [layer.args["out"] for layer in a.layers[1:]] == [3, 6, 4, 8, 2, 7, 5, 6]
    assert a.layer("y.0").args["k"] == 5


def test_block_default_may_use_file_variables():
    text = "base = 6\nblock b(c=base) { conv1-{c} }\nb"
    assert analyze(text).outputs == {"output": (6, 32, 32)}
    assert analyze(text, base=9).outputs == {"output": (9, 32, 32)}


# --------------------------------------------------------------- merges
def test_concat_shapes_and_channels():
    text = (
        "block inception(c1, c3r, c3, c5r, c5, pp) {\n concat {\n  conv1-{c1}\n"
        "  conv1-{c3r} - conv3-{c3}\n  conv1-{c5r} - conv5-{c5}\n  maxpool(3, s=1, p=1) - conv1-{pp}\n }\n}\n"
        "input 192x28x28\ninception3a: inception(64, 96, 128, 16, 32, 32)"
    )
    a = archdsl.load(text).analyze()
    assert a.outputs == {"output": (256, 28, 28)}
    assert a.layer("inception3a").inputs == [
        "inception3a.branch1",
        "inception3a.branch2.1",
        "inception3a.branch3.1",
        "inception3a.branch4.1",
    ]
    assert a.totals.params == 163_696  # GoogLeNet's inception (3a), with biases


def test_add_and_add_relu():
    a = analyze("conv3-8 - s: add(act=relu) {\n conv3-8\n identity\n}")
    assert a.layer("s").output_shape == (8, 32, 32) and a.layer("s").args == {"act": "relu"}


def test_dense_connectivity_grows_channels():
    a = analyze("conv3-16 - dense: [concat {\n identity\n bn - relu - conv3-12\n}]x4")
    assert a.outputs == {"output": (16 + 4 * 12, 32, 32)}


# ------------------------------------------------------------------- residual
def test_residual_identity_shortcut_has_no_parameters():
    a = analyze("conv3-16 - r: residual { conv3-16 - bn - relu - conv3-16 - bn }")
    assert a.layer("r.downsample").params == 0
    assert a.layer("r").output_shape == (16, 32, 32)


def test_residual_auto_projection_parameters():
    a = analyze("conv3-16 - r: residual(act=relu) { conv3-32/2 - bn - relu - conv3-32 - bn }")
    proj = a.layer("r.downsample")
    assert proj.output_shape == (32, 16, 16)
    assert proj.param_shapes == {"0.weight": (32, 16, 1, 1), "1.weight": (32,), "1.bias": (32,)}
    assert proj.params == 32 * 16 + 64
    assert proj.macs == 32 * 16 * 16 * 16
    a = analyze("conv3-16 - r: residual(proj=conv) { conv3-32/2 }")
    assert a.layer("r.downsample").param_shapes == {"weight": (32, 16, 1, 1), "bias": (32,)}


def test_residual_explicit_shortcut():
    a = analyze("conv3-16 - r: residual { conv3-32/2 - conv3-32 } shortcut { avgpool2 - conv1-32 }")
    assert names("conv3-16 - r: residual { conv3-32/2 - conv3-32 } shortcut { avgpool2 - conv1-32 }") == [
        "0",
        "r.0",
        "r.1",
        "r.downsample.0",
        "r.downsample.1",
        "r",
    ]
    assert a.layer("r.downsample.1").params == 16 * 32 + 32


# ----------------------------------------------------------------- references
def test_reference_starts_a_chain():
    a = analyze("c1: conv3-8 - relu - p: maxpool\n@c1 - h: conv1-2\noutput p, h")
    assert a.layer("h").inputs == ["c1"] and a.outputs == {"p": (8, 16, 16), "h": (2, 32, 32)}


def test_reference_paths_and_scopes():
    text = (
        "features { c1: conv3-8 - relu\n p: maxpool }\nhead { @c1 - conv1-2 }\n@features.p - t: conv1-3\noutput head, t"
    )
    a = analyze(text)
    assert a.layer("head.0").inputs == ["features.c1"]
    assert a.layer("t").inputs == ["features.p"]


def test_crop_to_reference():
    text = (
        "input 1x92x92\ndown1 { conv(16, p=0) - relu - conv(16, p=0) - relu }\n"
        "maxpool - conv(32, p=0) - relu - conv(32, p=0) - relu\nup1: upconv2-16\n"
        "m: concat {\n @down1 - crop(@up1)\n @up1\n}"
    )
    a = archdsl.load(text).analyze()
    assert a.layer("m.branch1").output_shape == (16, 80, 80)
    assert a.layer("m").output_shape == (32, 80, 80)
    net = archdsl.load(text)
    y = net.compile()(torch.randn(1, 1, 92, 92))
    assert tuple(y.shape) == (1, 32, 80, 80)


# --------------------------------------------------------------------- outputs
def test_several_outputs_compile_to_a_dict():
    text = (
        "input 3x32x32\ntrunk: [conv3-8 - relu - maxpool]x2\ngap - scores: fc-10\n@trunk - boxes: conv1-4\n"
        "output scores, boxes as box"
    )
    net = archdsl.load(text)
    assert net.analyze().outputs == {"scores": (10,), "box": (4, 8, 8)}
    y = net.compile()(torch.randn(2, 3, 32, 32))
    assert set(y) == {"scores", "box"} and tuple(y["box"].shape) == (2, 4, 8, 8)


def test_default_output_is_the_last_chain():
    assert analyze("conv3-8\nmaxpool").outputs == {"output": (8, 16, 16)}


# ---------------------------------------------------------------- networks
def test_main_network_and_network_choice():
    text = "network tiny {\n input 1x28x28\n conv5-6 - fc-10\n}\nnetwork small {\n input 3x32x32\n conv3-8\n}"
    assert archdsl.load(text).analyze().input_shape == (3, 32, 32)  # the last one
    assert archdsl.load(text, network="tiny").analyze().input_shape == (1, 28, 28)


# --------------------------------------------------------------------- imports
TRUNK = """# a trunk to import
width = 8
network trunk {
  input 3x32x32
  c1: conv3-{width} - relu
  pool1: maxpool
  c2: conv3-{2*width} - relu
  pool2: maxpool
  fc-10
}
block head(n) { conv1-{n} }
"""


def test_import_relative_path_upto_and_overrides(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "trunk.arch").write_text(TRUNK)
    main = tmp_path / "main.arch"
    main.write_text('import "lib/trunk.arch" as t\ninput 3x64x64\nfeatures: t(upto=@pool2, width=4)\nt.head(5)\n')
    a = archdsl.load(str(main)).analyze()
    assert a.outputs == {"output": (5, 16, 16)}
    assert [layer.name for layer in a.layers][:3] == ["input", "features.c1", "features.1"]
    assert a.layer("features.c2").args["out"] == 8  # width=4 overrides the file's 8
    assert not any(layer.op == "fc" for layer in a.layers)  # cut after pool2
    assert a.layer("features.c1").source.startswith(str(tmp_path / "lib" / "trunk.arch") + ":5:")


def test_import_network_by_name_and_whole(tmp_path: Path):
    (tmp_path / "trunk.arch").write_text(TRUNK)
    main = tmp_path / "main.arch"
    main.write_text('import "trunk.arch"\ninput 3x32x32\ntrunk.trunk(upto=@c2) - trunk.head(3)\n')
    assert archdsl.load(str(main)).analyze().outputs == {"output": (3, 16, 16)}
    main.write_text('import "trunk.arch" as t\ninput 3x32x32\nt\n')
    assert archdsl.load(str(main)).analyze().outputs == {"output": (10,)}


def test_import_library_spec():
    a = archdsl.load("import vgg16\ninput 3x224x224\nbackbone: vgg16(upto=@pool5)\nscore: conv1-21").analyze()
    assert a.outputs == {"output": (21, 7, 7)}
    assert a.totals.params == 14_714_688 + 21 * 512 + 21


# ---------------------------------------------------------- comments and lines
def test_line_continuation_and_comments():
    text = (
        "# LeNet-like\ninput 1x32x32   # the input\nconv5-6 - tanh -   # continues\n    avgpool2\n"
        "conv5-16 \\\n   - tanh\n[fc-120 -\n fc-84]\nfc(10,\n bias=true)  # last\n\n\n"
    )
    a = archdsl.load(text).analyze()
    assert [layer.op for layer in a.layers] == ["input", "conv", "tanh", "avgpool", "conv", "tanh", "fc", "fc", "fc"]
    assert a.outputs == {"output": (10,)}


def test_new_line_ends_a_statement():
    assert names("conv3-8\nrelu") == names("conv3-8 - relu")
    with pytest.raises(ArchError):
        analyze("[conv3-8\nrelu]")  # inside brackets a line break is a space: '-' is still needed


# ------------------------------------------------------- conditions and loops
def _names(text: str, **kw) -> list[str]:
    return [layer.name for layer in archdsl.load(text, **kw).analyze().layers]


@pytest.mark.parametrize("bn,names", [(1, ["0", "1", "2", "3"]), (0, ["0", "1", "2"])])
def test_if_runs_in_place_like_make_layers(bn, names):
    text = "bn = 0\ninput 3x8x8\nconv3-8 - if bn { bn } - relu - maxpool"
    assert _names(text, bn=bn) == ["input", *names]


def test_else_on_the_next_line_and_else_if():
    text = """mode = 0
input 3x8x8
if mode == 1 { conv3-8 }
else if mode == 2 { conv3-16 }
else {
    conv3-32
}"""
    for mode, channels in ((1, 8), (2, 16), (3, 32)):
        assert archdsl.load(text, mode=mode).analyze().outputs["output"] == (channels, 8, 8)


def test_for_unpacks_and_names_with_quoted_labels():
    text = """input 3x16x16
for b, (c, n) in ((1, (8, 2)), (2, (16, 1))) {
    "stage{b}": [conv3-{c} - relu]x{n}
}"""
    with pytest.raises(ArchError):  # nested unpacking is not in the language: a clear error, not a crash
        archdsl.load(text).analyze()
    text = """input 3x16x16
for b, c, n in ((1, 8, 2), (2, 16, 1)) {
    "stage{b}": [conv3-{c} - relu]x{n}
}"""
    assert _names(text)[1:] == ["stage1.0.0", "stage1.0.1", "stage1.1.0", "stage1.1.1", "stage2.0.0", "stage2.0.1"]


def test_expressions_index_call_and_short_circuit():
    text = """cfg = (8, 16, 32)
input 3x8x8
conv3-{cfg[len(cfg) - 1]} - conv3-{max(cfg[0], 12)} - conv3-{min(4, 2 * 3)}
if 0 and cfg[7] { relu }
if 1 or cfg[7] { relu }
if not (cfg[0] != 8) { identity }"""
    a = archdsl.load(text).analyze()
    assert [layer.output_shape[0] for layer in a.layers[1:4]] == [32, 12, 4]
    assert [layer.op for layer in a.layers[4:]] == ["relu", "identity"]


def test_an_if_can_hold_the_output_line():
    text = """aux = 0
input 3x8x8
trunk: conv3-8 - relu
gap - logits: fc-10
if aux {
    @trunk - gap - side: fc-4
    output logits, side
}"""
    assert archdsl.load(text).analyze().outputs == {"output": (10,)}
    assert archdsl.load(text, aux=1).analyze().outputs == {"logits": (10,), "side": (4,)}


def test_conditional_expression_one_item_tuple_and_quoted_group():
    text = """cfg = (3,)
input 3x8x8
for i in range(2) {
    "layer{i + 1}" {
        conv3-{8 if i == 0 else 16}
        relu
    }
}
conv3-{cfg[0]}"""
    a = archdsl.load(text).analyze()
    assert [(x.name, x.output_shape[0]) for x in a.layers[1:]] == [
        ("layer1.0", 8),
        ("layer1.1", 8),
        ("layer2.0", 16),
        ("layer2.1", 16),
        ("2", 3),
    ]


def test_a_network_that_is_one_block_call_owns_its_layers():
    """`network vgg16 { vgg(D) }` names the block's layers features.0, classifier.6, not 0.features.0."""
    text = """block net(c) {
    features { conv3-{c} - relu - maxpool }
    classifier { fc-10 }
}
network small {
    input 3x8x8
    net(8)
}
network labelled {
    input 3x8x8
    body: net(8)
}"""
    assert _names(text, network="small")[1:] == ["features.0", "features.1", "features.2", "classifier.0"]
    assert _names(text, network="labelled")[1] == "body.features.0"


def test_a_block_that_chooses_with_if_shares_its_scope():
    """An if that picks one residual (or group) is the block's body: no extra naming level."""
    text = """block unit(c, s=1) {
    width = c
    if s == 1 { residual { conv1: conv3-{width} } }
    else { residual { conv1: conv3-{width}/2 } shortcut { decimate(2) - pad_channels(c) } }
}
input 8x8x8
layer: [unit(8)]x1
down: unit(16, 2)"""
    assert _names(text)[1:] == [
        "layer.0.conv1",
        "layer.0.downsample",
        "layer.0",
        "down.conv1",
        "down.downsample.0",
        "down.downsample.1",
        "down",
    ]


def test_int_and_round():
    text = "alpha = 0.75\ninput 3x8x8\nconv3-{int(alpha * 30)} - conv3-{round(alpha * 30)} - conv3-{round(2.5)}"
    a = archdsl.load(text).analyze()
    assert [x.output_shape[0] for x in a.layers[1:]] == [22, 22, 2]  # 22.5 → 22 both ways; round(2.5) = 2


def test_variables_of_a_network_can_be_set_from_outside():
    text = """network a {
    w = 8
    input 3x8x8
    conv3-{w}
}
network b {
    input 3x8x8
    conv3-4
}"""
    assert archdsl.load(text, network="a").analyze().outputs["output"] == (8, 8, 8)
    assert archdsl.load(text, network="a", w=16).analyze().outputs["output"] == (16, 8, 8)
    with pytest.raises(UnknownNameError, match="unknown variable 'w'") as info:
        archdsl.load(text, network="b", w=16)
    assert "network 'b' does not define 'w'" in info.value.hint
    with pytest.raises(UnknownNameError, match="unknown variable 'ww'") as info:
        archdsl.load(text, network="a", ww=16)
    assert info.value.hint == "did you mean 'w'?"


def test_a_variable_of_the_file_and_of_a_network_takes_the_value_set_from_outside_in_both(tmp_path: Path):
    """rcnn.arch has rois = 300 at the top and rois = 2000 inside fast_rcnn_vgg16: load(..., rois=4) sets both
    (it set only the file's, which the network's own line then hid)."""
    text = """w = 4
network a {
    w = 8
    input 3x8x8
    conv3-{w}
}
network b {
    input 3x8x8
    conv3-{w}
}"""
    assert archdsl.load(text, network="a").analyze().outputs["output"] == (8, 8, 8)
    assert archdsl.load(text, network="a", w=16).analyze().outputs["output"] == (16, 8, 8)
    assert archdsl.load(text, network="b", w=16).analyze().outputs["output"] == (16, 8, 8)
    (tmp_path / "two.arch").write_text(text)
    (tmp_path / "main.arch").write_text('import "two.arch"\ninput 3x8x8\ntwo.a(w=5)\n')
    assert archdsl.load(str(tmp_path / "main.arch")).analyze().outputs["output"] == (5, 8, 8)


def test_a_merge_of_labelled_branches_joins_the_enclosing_group():
    """Inception-ResNet: `residual { concat { branch0: ... } - conv2d: ... }` names branch0 and conv2d
    side by side, as timm's modules are; a group as a branch keeps its own name."""
    text = """input 8x8x8
block35: residual(act=relu, scale=0.17) {
    concat {
        branch0: conv1-4
        branch1 { conv1-4 - conv3-4 }
    }
    conv2d: conv1-8
}"""
    names = [x.name for x in archdsl.load(text).analyze().layers if x.params]
    assert names == ["block35.branch0", "block35.branch1.0", "block35.branch1.1", "block35.conv2d"]


def test_a_shortcut_may_choose_with_if():
    """`shortcut { if s != 1 { ... } }`: the layers of the chosen body are downsample.0, .1; when the
    condition is false and there is no else, the shortcut is the identity."""
    text = """block unit(c, s=1) {
    residual(act=relu) { conv1: conv3-{c}/{s} } shortcut {
        if s != 1 { decimate(s) - pad_channels(c) }
    }
}
input 8x8x8
a: unit(8)
b: unit(16, 2)"""
    a = archdsl.load(text).analyze()
    assert [x.name for x in a.layers[1:]] == ["a.conv1", "a", "b.conv1", "b.downsample.0", "b.downsample.1", "b"]
    assert a.layer("a").inputs == ["a.conv1", "input"]


def test_nested_groups_keep_both_names_and_refs_find_unlabelled_layers():
    text = """input 3x8x8
trunk: conv3-8
head {
    cls { conv3-4 - relu }
    "conv" { conv1-2 }
}
@cls.0 - box: conv1-4
output head, box"""
    a = archdsl.load(text).analyze()
    names = [x.name for x in a.layers if x.params]
    assert names == ["trunk", "head.cls.0", "head.conv.0", "box"]
    assert a.layer("box").inputs == ["head.cls.0"]


def test_references_built_from_expressions_and_a_named_single_output():
    text = """input 3x16x16
for s in range(1, 3) { conv3-4 - "pool{s}": maxpool(indices=true) }
for s in range(2, 0, -1) { unpool(@"pool{s}") - conv3-4 }
conv1-2 - seg: identity
output seg as out"""
    net = archdsl.load(text)
    a = net.analyze()
    assert a.outputs == {"out": (2, 16, 16)}
    assert [x.args["ref"] for x in a.layers if x.op == "unpool"] == ["pool2", "pool1"]
    y = net.compile()(torch.randn(1, 3, 16, 16))
    assert isinstance(y, dict) and tuple(y["out"].shape) == (1, 2, 16, 16)  # like torchvision's {"out": ...}


BRANCHES = "{\n  conv3-8\n  conv3-8\n}"


@pytest.mark.parametrize("name", ["mul", "multiply", "concat", "cat", "add", "sum", "mean"])
def test_a_braced_merge_name_is_the_merge(name):
    """Issue 15's audit: `mul { a ⏎ b }` once silently became a group running a, then b."""
    a = archdsl.load(f"input 3x8x8\n{name} {BRANCHES}").analyze()
    merge = a.layers[-1]
    assert merge.kind.merge and len(merge.inputs) == 2 and a.layers[1].inputs == ["input"] == a.layers[2].inputs


@pytest.mark.parametrize(
    "text,message",
    [
        (f"maximum {BRANCHES}", "'maximum' is not an op of archdsl, and a braced name is a group"),
        (f"cocnat {BRANCHES}", "'cocnat' is not an op of archdsl"),
        (f"relu {BRANCHES}", "relu takes no { ... } body"),
        ("conv3-8 - mul - relu", "mul takes its branches in braces"),
    ],
)
def test_a_construct_that_is_no_op_is_an_error_never_a_silent_group(text, message):
    with pytest.raises(archdsl.ArchError, match=re.escape(message)):
        archdsl.load("input 3x8x8\n" + text)


@pytest.mark.parametrize("name", ["maximum", "relu", "block1-0", "features"])
def test_a_group_may_be_named_anything_quoted(name):
    a = archdsl.load(f'input 3x8x8\n"{name}" {BRANCHES}').analyze()
    assert [x.name for x in a.layers[1:]] == [f"{name}.0", f"{name}.1"]
