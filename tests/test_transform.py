"""OverFeat's sliding window: `fully_convolutional()` / `archdsl convert --fully-conv`."""

from __future__ import annotations

import pytest
import torch

import archdsl
from archdsl import ArchError
from archdsl.cli import main


def _converted(name: str, input: str | None = None, **kw):
    net = archdsl.load(name, **kw)
    return net, net.fully_convolutional(input=input)


@pytest.mark.parametrize("name,kw", [("alexnet", {}), ("lenet5", {}), ("resnet18", {})])
def test_same_outputs_at_the_training_size(name, kw):
    net, fc = _converted(name, **kw)
    a, b = net.analyze(), fc.analyze()
    assert b.totals.params == a.totals.params
    assert b.outputs["output"] == (*a.outputs["output"], 1, 1)
    torch.manual_seed(0)
    original = net.compile().eval()
    conv = fc.compile().eval()
    conv.load_state_dict(fc.convert_weights(original.state_dict()))  # strict: the same keys
    x = torch.randn(2, *a.input_shape)
    with torch.no_grad():
        assert torch.allclose(conv(x).flatten(1), original(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "name,input,scores",
    [
        ("alexnet", "3x288x288", (1000, 3, 3)),  # features 8x8 → fc6 as a 6x6 conv: 3x3 windows, 32 px apart
        ("vgg16", "3x320x320", (1000, 4, 4)),  # features 10x10 → fc6 as a 7x7 conv
        ("resnet18", "3x256x256", (1000, 2, 2)),  # layer4 8x8 → the 7x7 average pool at stride 1 → 2x2
        ("lenet5", "1x64x64", (10, 9, 9)),
    ],
)
def test_a_larger_input_gives_a_map_of_scores(name, input, scores):
    net, fc = _converted(name, input)
    a = fc.analyze()
    assert a.outputs["output"] == scores
    assert a.input_shape == tuple(int(d) for d in input.split("x"))
    model = fc.compile(device="meta")
    y = model(torch.empty(1, *a.input_shape, device="meta"))
    assert tuple(y.shape[1:]) == scores


def test_the_converted_layers():
    _, fc = _converted("alexnet")
    layers = {x.name: x for x in fc.analyze().layers}
    assert layers["avgpool"].op == "identity"  # adaptive 6x6 pool of a 6x6 map: nothing to do
    assert layers["classifier.1"].describe.startswith("conv(out=4096, k=(6, 6), s=1, p=0")
    assert layers["classifier.4"].describe.startswith("conv(out=4096, k=(1, 1)")
    assert layers["classifier.6"].describe.startswith("conv(out=1000, k=(1, 1)")


@pytest.mark.parametrize(
    "text,message",
    [
        ("input 3x8x8\nconv3-8 - gap - fc-10 - reshape(5, 2)", "cannot make '3' fully convolutional: reshape"),
        ("input 3x8x8\nconv3-8 - adaptive_avgpool(2) - fc-10", "cannot make '1' fully convolutional: it pools 8x8x8"),
        (
            "input 3x8x8\nreshape(192) - fc-10",
            "cannot make '1' fully convolutional: its input is a vector that no convolution made",
        ),
        (
            "input 3x8x8\nconv3-8 - gap - flatten - fc(10, flatten=false)",
            r"cannot make '3' fully convolutional: it works on a vector here \(flatten=false\)",
        ),
    ],
)
def test_what_has_no_convolutional_form_is_refused(text, message):
    with pytest.raises(ArchError, match=message) as info:
        archdsl.load(text).fully_convolutional()
    assert info.value.span is not None and info.value.hint


def test_convert_weights_needs_a_converted_network():
    with pytest.raises(ArchError, match="convert_weights belongs to a network made by fully_convolutional"):
        archdsl.load("lenet5").convert_weights({})


def test_cli_convert(tmp_path, capsys):
    net = archdsl.load("lenet5")
    weights = tmp_path / "lenet5.pth"
    torch.save(net.compile().state_dict(), weights)
    out = tmp_path / "lenet5_fc.py"
    assert (
        main(["convert", "--fully-conv", "lenet5", "--input", "1x64x64", "-o", str(out), "--weights", str(weights)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "lenet5 as a fully convolutional network: input 1x64x64 → output 10x9x9" in printed
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    model = namespace["build"]().eval()
    model.load_state_dict(torch.load(tmp_path / "lenet5.fully_conv.pth", weights_only=True))
    assert tuple(model(torch.randn(1, 1, 64, 64)).shape) == (1, 10, 9, 9)
    assert main(["convert", "--fully-conv", "lenet5"]) == 0  # no -o: the report of the converted network
    assert "output 10x1x1" in capsys.readouterr().out
    assert main(["convert", "lenet5"]) == 2
    assert "convert needs a conversion: --fully-conv" in capsys.readouterr().err


def test_a_per_position_fc_stays_as_it_is_in_a_fully_convolutional_network():
    net = archdsl.load("input 8x6x6\nconv3-8 - permute(1, 2, 0) - fc(4, flatten=false) - permute(2, 0, 1)")
    conv = net.fully_convolutional(input="8x10x10")
    assert conv.analyze().outputs["output"] == (4, 10, 10)
    assert conv.analyze().layer("2").describe == net.analyze().layer("2").describe
