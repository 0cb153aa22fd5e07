"""Each op's analytic rule against the real torch module: shapes, parameters, state_dict shapes."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archdsl
from archdsl import ArchError, ShapeError


def check(text: str, input: str):
    """Analytic output shape, params and state_dict shapes equal the compiled module's."""
    net = archdsl.load(text, input=input)
    a = net.analyze()
    model = net.compile().eval()
    x = torch.randn(2, *a.input_shape)
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape[1:]) == a.outputs["output"], text
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == a.state_dict_shapes()
    return a


TWO_STAGE = """m: conv3-8/2 - o: conv1-9
@m - d: conv1-36
@o - r: proposals(@d, sizes=(4, 8, 16), post_nms=5)
@m - {roi} - fc-6"""


@pytest.mark.parametrize(
    "text,input,shape",
    [
        ("conv(8, k=11, s=4, p=0)", "3x227x227", (8, 55, 55)),
        ("conv3-16/2", "3x33x33", (16, 17, 17)),
        ("conv(16, k=3, d=2)", "3x20x20", (16, 20, 20)),
        ("conv(16, k=(3, 5), s=(1, 2), p=(1, 2))", "3x20x21", (16, 20, 11)),
        ("conv(16, k=3, p=same)", "4x9x9", (16, 9, 9)),
        ("conv(16, k=4, p=same)", "4x9x9", (16, 9, 9)),
        ("conv(16, k=3, groups=4)", "8x9x9", (16, 9, 9)),
        ("conv(8, k=3, groups=8, bias=false)", "8x9x9", (8, 9, 9)),
        ("upconv(8, k=2)", "4x14x14", (8, 28, 28)),
        ("upconv(8, k=4, s=2, p=1)", "4x7x7", (8, 14, 14)),
        ("upconv(8, k=3, s=2, p=1, output_padding=1)", "4x7x7", (8, 14, 14)),
        ("maxpool", "3x9x9", (3, 4, 4)),
        ("maxpool(3, s=2)", "3x55x55", (3, 27, 27)),
        ("maxpool(3, s=2, ceil=true)", "3x112x112", (3, 56, 56)),
        ("maxpool(2, s=2, ceil=true)", "3x9x9", (3, 5, 5)),
        ("maxpool(3, s=2, p=1, ceil=true)", "3x8x8", (3, 5, 5)),
        ("avgpool(2)", "6x28x28", (6, 14, 14)),
        ("avgpool(3, s=1, p=1, count_include_pad=false)", "6x7x7", (6, 7, 7)),
        ("gap", "6x7x5", (6, 1, 1)),
        ("adaptive_avgpool(7)", "6x13x13", (6, 7, 7)),
        ("fc-10", "3x4x4", (10,)),
        ("flatten - fc(10, bias=false)", "3x4x4", (10,)),
        ("fc-12 - reshape(3, 4)", "3x4x4", (3, 4)),
        ("fc-12 - reshape(-1, 2)", "3x4x4", (6, 2)),
        ("bn", "5x4x4", (5, 4, 4)),
        ("fc-6 - bn", "5x4x4", (6,)),
        ("lrn(5)", "8x4x4", (8, 4, 4)),
        ("dropout(0.3) - relu - leaky(0.1) - tanh - sigmoid - identity - softmax", "8x4x4", (8, 4, 4)),
        ("upsample(2)", "3x5x5", (3, 10, 10)),
        ("upsample(2, mode=bilinear)", "3x5x5", (3, 10, 10)),
        ("zeropad(1)", "3x5x5", (3, 7, 7)),
        ("zeropad(1, 2, 3, 4)", "3x5x5", (3, 12, 8)),
        ("dwconv3/2", "6x9x9", (6, 5, 5)),
        ("dwconv(k=5, multiplier=2, bias=false)", "3x9x9", (6, 9, 9)),
        ("relu6 - drop_path(0.2)", "3x5x5", (3, 5, 5)),
        ("hardswish - hardsigmoid - gelu - gelu(approximate=tanh)", "3x5x5", (3, 5, 5)),
        ("frozen_bn - layernorm - groupnorm(2) - ls: scale(0.5)", "4x5x5", (4, 5, 5)),
        (
            "concat {\n chunk(2, 0)\n chunk(2, 1) - conv1-2\n} - channel_shuffle(2) - split(1, 3, part=1)",
            "4x5x5",
            (3, 5, 5),
        ),
        ("fc-6 - frozen_bn - layernorm - gn(3)", "3x4x4", (6,)),
        ("permute(1, 2, 0) - layernorm(over=last) - fc(7, flatten=false)", "4x5x6", (5, 6, 7)),
        ("mul {\n identity\n gate { gap - conv1-2 - relu - conv1-4 - hardsigmoid }\n}", "4x5x5", (4, 5, 5)),
        ("add(act=hardswish) {\n identity\n conv3-3\n}", "3x5x5", (3, 5, 5)),
        ("decimate(2) - pad_channels(8)", "3x5x5", (8, 3, 3)),
        ("mean(drop=0.1) {\n conv3-4\n conv1-4\n}", "3x5x5", (4, 5, 5)),
        ("residual(scale=0.2) { conv3-3 }", "3x5x5", (3, 5, 5)),
        ("a: conv3-4 - p: maxpool(indices=true) - conv3-4 - unpool(@p)", "3x9x9", (4, 9, 9)),
        ("a: conv3-4 - maxpool - resize_to(@a)", "3x9x9", (4, 9, 9)),
        ("a: conv3-4 - upconv(4, k=4, s=2) - crop(@a, offset=1)", "3x7x7", (4, 7, 7)),
        ("s: l2norm(10)", "3x5x5", (3, 5, 5)),
        ("conv3-8 - permute(1, 2, 0) - reshape(-1, 4)", "3x5x5", (50, 4)),
        ("fc-10 - permute(0)", "3x4x4", (10,)),  # one dimension, like reshape(10)
        ("conv3-4 - silu - fc-6 - swish(inplace=true)", "3x5x5", (6,)),
        # two-stage detection: proposals from a small RPN, pooled per region (one row per region)
        (TWO_STAGE.format(roi="roi_pool(@r, 2)"), "3x16x16", (6,)),
        (TWO_STAGE.format(roi="roi_align(@r, (2, 3), sampling_ratio=2)"), "3x16x16", (6,)),
        (TWO_STAGE.format(roi="roi_align(@r, 2, aligned=true)"), "3x16x16", (6,)),
    ],
)
def test_op_matches_torch(text, input, shape):
    a = check(text, input)
    assert a.outputs["output"] == shape


def test_conv_counts():
    a = archdsl.load("conv(96, k=11, s=4, p=0)", input="3x227x227").analyze()
    conv = a.layer("0")
    assert conv.params == 34_944
    assert conv.param_shapes == {"weight": (96, 3, 11, 11), "bias": (96,)}
    assert conv.macs == 55 * 55 * 96 * 3 * 11 * 11
    assert conv.receptive_field.size == (11, 11) and conv.receptive_field.stride == (4.0, 4.0)


def test_grouped_conv_params():
    a = archdsl.load("conv(256, k=5, groups=2)", input="96x27x27").analyze()
    assert a.totals.params == 5 * 5 * 48 * 256 + 256


def test_bn_buffers_are_not_params():
    a = archdsl.load("conv(8, k=3, bias=false) - bn", input="3x8x8").analyze()
    assert a.totals.params == 8 * 3 * 9 + 16
    assert a.totals.buffers == 8 + 8 + 1
    assert a.layer("1").buffer_shapes == {"running_mean": (8,), "running_var": (8,), "num_batches_tracked": ()}


def test_three_3x3_convs_see_7x7():
    a = archdsl.load("[conv3-8]x3", input="3x32x32").analyze()
    assert a.layers[-1].receptive_field.size == (7, 7)


def test_receptive_field_of_branches_is_the_largest():
    text = "concat {\n conv1-4\n conv5-4\n}"
    a = archdsl.load(text, input="3x16x16").analyze()
    assert a.layers[-1].receptive_field.size == (5, 5)


def test_same_padding_needs_stride_1():
    with pytest.raises(ShapeError, match="padding='same' needs stride 1"):
        archdsl.load("conv(8, k=3, s=2, p=same)", input="3x8x8").analyze()


def test_unknown_mode_is_rejected():
    with pytest.raises(ArchError, match="mode"):
        archdsl.load("upsample(2, mode=bicubic)", input="3x8x8")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_shape_rule_matches_torch(n, k, s, p, d):
    text = f"conv(4, k={k}, s={s}, p={p}, d={d})"
    try:
        a = archdsl.load(text, input=f"2x{n}x{n}").analyze()
    except ShapeError:
        assert (n + 2 * p - d * (k - 1) - 1) < 0
        return
    y = torch.nn.functional.conv2d(torch.zeros(1, 2, n, n), torch.zeros(4, 2, k, k), stride=s, padding=p, dilation=d)
    assert a.outputs["output"] == tuple(y.shape[1:])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), ceil=st.booleans())
def test_pool_shape_rule_matches_torch(n, k, s, p, ceil):
    if 2 * p > k:
        return
    text = f"maxpool({k}, s={s}, p={p}, ceil={'true' if ceil else 'false'})"
    try:
        a = archdsl.load(text, input=f"2x{n}x{n}").analyze()
    except ShapeError:
        with pytest.raises(RuntimeError):
            torch.nn.functional.max_pool2d(torch.zeros(1, 2, n, n), k, s, p, ceil_mode=ceil)
        return
    y = torch.nn.functional.max_pool2d(torch.zeros(1, 2, n, n), k, s, p, ceil_mode=ceil)
    assert a.outputs["output"] == tuple(y.shape[1:])


def test_every_op_is_in_the_table_above():
    """Each registered op (but the ones the language makes for itself) has a row in test_op_matches_torch."""
    from archdsl.ops import REGISTRY

    source = open(__file__, encoding="utf-8").read()
    table = source[source.index('"text,input,shape"') : source.index("def test_op_matches_torch")]
    made_by_the_language = {"input", "projection", "concat", "add", "flatten", "group"}
    for name, cls in REGISTRY.items():
        if name in made_by_the_language:
            continue
        assert any(
            f'"{alias}' in table or f" {alias}" in table or f"({alias}" in table or f"- {alias}" in table
            for alias in (name, *cls.aliases)
        ), f"op {name} has no row in test_op_matches_torch"


def test_unpool_puts_each_value_back_where_its_maximum_was():
    net = archdsl.load("p: maxpool(indices=true) - unpool(@p)", input="1x4x4")
    model = net.compile().eval()
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = model(x)
    expected = torch.zeros(1, 1, 4, 4)
    for r, c in ((1, 1), (1, 3), (3, 1), (3, 3)):  # the maxima of the four 2x2 windows
        expected[0, 0, r, c] = x[0, 0, r, c]
    assert torch.equal(y, expected)


def test_l2norm_scales_unit_vectors():
    net = archdsl.load("w: l2norm(20)", input="3x2x2")
    model = net.compile().eval()
    y = model(torch.randn(1, 3, 2, 2))
    assert torch.allclose(y.norm(dim=1), torch.full((1, 2, 2), 20.0))
    assert list(model.state_dict()) == ["w"]


def test_silu_is_x_times_sigmoid_x():
    """The op added in one file (archdsl/ops/activation.py) to show that an op owns everything about itself."""
    net = archdsl.load("input 3x4x4\nconv3-4 - a: silu - fc-2", input="3x4x4")
    layer = net.analyze().layers[2]
    assert (layer.op, layer.params, layer.macs, layer.macs_all, layer.saves) == ("silu", 0, 0, 64, "input")
    assert layer.kind.pointwise and layer.kind.title(layer.args, [], layer.output_shape) == "silu"
    model = net.compile(seed=0)
    assert isinstance(model.a, torch.nn.SiLU)
    x = torch.randn(1, 3, 4, 4)
    y = model.get_submodule("0")(x)
    assert torch.allclose(model.a(y), y * torch.sigmoid(y), atol=1e-6)


def test_the_new_normalisations_compute_what_torch_and_torchvision_do():
    """layernorm over channels is nn.LayerNorm on the channels-last map (torchvision's LayerNorm2d); frozen_bn
    is BatchNorm2d in eval mode with the same statistics (torchvision's FrozenBatchNorm2d); scale multiplies
    each channel by its own learnable value."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 4)
    ln = archdsl.load("layernorm(eps=1e-6)", input="6x5x4").compile().eval()
    with torch.no_grad():
        ln.get_submodule("0").weight.uniform_(0.5, 1.5)
        ln.get_submodule("0").bias.uniform_(-1, 1)
    ref = torch.nn.LayerNorm(6, eps=1e-6)
    ref.load_state_dict(ln.get_submodule("0").state_dict())
    torch.testing.assert_close(ln(x), ref(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    frozen = archdsl.load("frozen_bn", input="6x5x4").compile().eval()
    bn = torch.nn.BatchNorm2d(6).eval()
    state = {
        "weight": torch.rand(6) + 0.5,
        "bias": torch.randn(6),
        "running_mean": torch.randn(6),
        "running_var": torch.rand(6) + 0.5,
    }
    frozen.load_state_dict({f"0.{k}": v for k, v in state.items()})
    bn.load_state_dict(state, strict=False)
    torch.testing.assert_close(frozen(x), bn(x))
    assert [k for k, _ in frozen.named_parameters()] == [] and "0.num_batches_tracked" not in frozen.state_dict()
    scaled = archdsl.load("s: scale(0.25)", input="6x5x4").compile()
    assert tuple(scaled.state_dict()["s"].shape) == (6, 1, 1)
    torch.testing.assert_close(scaled(x), 0.25 * x)


def test_mul_broadcasts_a_gate_and_refuses_what_does_not_broadcast():
    net = archdsl.load("mul {\n identity\n g: gap\n}", input="3x4x4")
    model = net.compile()
    x = torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(model(x), x * x.mean((2, 3), keepdim=True))
    assert net.analyze().layers[-1].output_shape == (3, 4, 4)
    with pytest.raises(archdsl.ShapeError, match="branch 2 is 2x4x4, branch 1 is 3x4x4"):
        archdsl.load("mul {\n identity\n conv1-2\n}", input="3x4x4").analyze()


def test_a_per_position_fc_is_nn_linear_over_the_last_dimension():
    net = archdsl.load("fc(7, flatten=false)", input="5x6x4")
    a = net.analyze()
    assert a.outputs["output"] == (5, 6, 7) and a.layers[-1].param_shapes == {"weight": (7, 4), "bias": (7,)}
    assert a.layers[-1].macs == 5 * 6 * 7 * 4
    model = net.compile()
    x = torch.randn(2, 5, 6, 4)
    lin = model.get_submodule("0")
    torch.testing.assert_close(model(x), x @ lin.weight.T + lin.bias)


def test_channel_ops_are_torchs_chunk_split_and_torchvisions_channel_shuffle():
    x = torch.randn(2, 6, 3, 3)

    def run(text: str) -> torch.Tensor:
        return archdsl.load(text, input="6x3x3").compile()(x)

    torch.testing.assert_close(run("chunk(3, 1)"), x[:, 2:4])
    torch.testing.assert_close(run("split(1, 2, 3, part=2)"), x[:, 3:])
    shuffled = x.view(2, 3, 2, 3, 3).transpose(1, 2).reshape(2, 6, 3, 3)  # torchvision's channel_shuffle, groups=3
    torch.testing.assert_close(run("channel_shuffle(3)"), shuffled)


def test_a_gate_widens_the_receptive_field_but_not_the_jump():
    """A pooled gate sees the whole map, but broadcast over it has no positions of its own: after mul the
    jump is the map branch's (it once took the pool's, and grew 32x at every squeeze-and-excitation)."""
    a = archdsl.load("conv3-16/2 - g: mul {\n identity\n gap - conv1-4 - relu - conv1-16 - sigmoid\n} - conv3-16/2",
                     input="16x32x32").analyze()  # fmt: skip
    assert a.layer("g").receptive_field.size == (33, 33) and a.layer("g").receptive_field.stride == (2.0, 2.0)
    assert a.layers[-1].receptive_field.size == (37, 37) and a.layers[-1].receptive_field.stride == (4.0, 4.0)
