"""Compiled models are right at every input size their contract admits, and say so at the others.

One loop over the whole library: every network is compiled once at its spec's size and run (batch 1,
eval) at two other sizes its input contract admits, chosen from the contract (the smallest ones, and
not square, so that height and width are told apart). At each size:

- the output shapes equal the analysis of the spec loaded at that size;
- the values equal those of a model compiled at that size with the same state_dict;
- the generated standalone source (``archdsl compile -o``), given the same state_dict, gives the same values.

At a size the contract refuses (or with the wrong channels) the model raises ``InputSizeError`` naming
the network, the size it got and the sizes it takes — never a torch error from deep inside.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl.backend.layers import InputSizeError
from archdsl.lang import library

# every network of the library once: (file, network), as `archdsl list` shows them
CASES = sorted({(e.path, e.network) for e in library.entries().values()}, key=lambda c: (str(c[0]), c[1] or ""))
IDS = [f"{path.stem}:{network}" if network else path.stem for path, network in CASES]


# networks that run per region: a few regions are enough to check the shapes (their analysis is exact at any R)
FEW_REGIONS = {"rcnn_alexnet": {"rois": 2}, "fast_rcnn_vgg16": {"rois": 3}, "mask_rcnn_mask_head": {"rois": 3}}


@cache
def _net(path: Path, network: str | None) -> archdsl.Net:
    return archdsl.load(str(path), network=network, **FEW_REGIONS.get(network, {}))


def _inputs(net: archdsl.Net, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``x`` as the network's first input, and example values for its others (``input boxes (R, 4)``)."""
    more = net.example_inputs(x.shape[0], seed=1, device=x.device)
    return {**more, next(iter(more)): x}


def members(s, count: int, skip: int) -> list[int]:
    """The ``count`` smallest sizes of a contract's set, ``skip`` (the declared size) left out."""
    out = [n for n in range(1, s.start + 2 * s.period * count + 1) if n in s and n != skip][:count]
    assert len(out) == count, f"the contract admits fewer than {count} sizes besides {skip}: {s.describe()}"
    return out


def other_sizes(net: archdsl.Net) -> list[tuple[int, int]]:
    """Two admitted sizes other than the declared one, neither of them square where the contract allows."""
    c = net.input_contract()
    _, h0, w0 = c.shape
    hs, ws = members(c.height, 2, h0), members(c.width, 2, w0)
    return [(hs[0], ws[1]), (hs[1], ws[0])]


def refused_shape(net: archdsl.Net) -> tuple[int, ...]:
    """A per-sample shape the contract refuses: a refused height if there is one, else a wrong channel count."""
    c = net.input_contract()
    ch, h0, w0 = c.shape
    bad = next((n for n in range(1, 2048) if n not in c.height), None)
    return (ch, bad, w0) if bad is not None else (ch + 1, h0, w0)


def outputs(y) -> dict[str, torch.Tensor]:
    return y if isinstance(y, dict) else {"output": y}


def generated_model(net: archdsl.Net):
    namespace: dict = {}
    exec(compile(net.source(), f"<{net.name}.py>", "exec"), namespace)  # our own generated source
    with torch.device("meta"):
        return namespace["build"]()


@pytest.mark.parametrize(("path", "network"), CASES, ids=IDS)
def test_compiled_once_right_at_other_sizes(path: Path, network: str | None):
    net = _net(path, network)
    if len(net.analyze().input_shape) != 3:
        pytest.skip("a vector input has one size")
    model = net.compile(seed=0).eval()
    state = model.state_dict()
    source = generated_model(net).eval()
    source.load_state_dict(state, assign=True)
    for h, w in other_sizes(net):
        shape = (net.analyze().input_shape[0], h, w)
        at_size = archdsl.load(str(path), network=network, input=shape, **FEW_REGIONS.get(network, {}))
        fresh = at_size.compile(device="meta").eval()
        fresh.load_state_dict(state, assign=True)
        x = _inputs(at_size, torch.randn(1, *shape, generator=torch.Generator().manual_seed(h * 1000 + w)))
        with torch.no_grad():
            got, want, generated = outputs(model(**x)), outputs(fresh(**x)), outputs(source(**x))
        expected = at_size.analyze().outputs
        assert {k: tuple(v.shape[1:]) for k, v in got.items()} == {k: tuple(v) for k, v in expected.items()}, shape
        rows = at_size.analyze().output_rows
        assert all(v.shape[0] <= rows[k] for k, v in got.items()), shape  # one image: at most R rows per region
        for name in got:
            torch.testing.assert_close(got[name], want[name], rtol=0, atol=0, msg=f"{name} at {shape}")
            torch.testing.assert_close(generated[name], got[name], rtol=0, atol=0, msg=f"source, {name} at {shape}")


@pytest.mark.parametrize(("path", "network"), CASES, ids=IDS)
def test_refused_size_is_a_clear_error(path: Path, network: str | None):
    net = _net(path, network)
    model = net.compile(device="meta")
    shape = refused_shape(net) if len(net.analyze().input_shape) == 3 else (net.analyze().input_shape[0] + 1,)
    with pytest.raises(InputSizeError) as err:
        model(**_inputs(net, torch.zeros(1, *shape, device="meta")))
    message = str(err.value)
    assert message.startswith(
        f"{net.name} takes N x {net.input_contract().describe()}; got an input of {'x'.join(map(str, (1, *shape)))}"
    )


# ----------------------------------------------------------------------------- the issue's acceptance


@pytest.mark.parametrize("name", ["fcn32s", "fcn16s", "fcn8s", "fcn_resnet50"])
def test_fcn_maps_have_the_input_size(name: str):
    model = archdsl.load(name).compile(device="meta")
    for h, w in ((300, 260), (388, 500)):
        out = outputs(model(torch.zeros(1, 3, h, w, device="meta")))
        assert [tuple(v.shape) for v in out.values()] == [(1, 21, h, w)], (name, h, w)


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("unet", [(188, 188), (204, 252)]),
        ("unet_padded", [(32, 48), (80, 64)]),
        ("deconvnet", [(224, 256), (320, 240)]),
        ("ssd300", [(268, 300), (512, 512)]),
    ],
)
def test_segmentation_and_detection_at_two_sizes(name: str, sizes):
    net = archdsl.load(name)
    model = net.compile(device="meta").eval()
    for h, w in sizes:
        shape = (net.analyze().input_shape[0], h, w)
        assert net.input_contract().admits(shape)
        got = {k: tuple(v.shape[1:]) for k, v in outputs(model(torch.zeros(1, *shape, device="meta"))).items()}
        assert got == dict(archdsl.load(name, input=shape).analyze().outputs), (name, shape)


CLASSIFIERS = [
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "densenet121",
    "vgg16",
    "vgg16_bn",
    "mobilenet_v2",
    "squeezenet1_1",
    "googlenet",
    "inception_v3",
    "alexnet",
]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_with_adaptive_pooling_run_at_160_and_288(name: str):
    net = archdsl.load(name)
    model = net.compile(device="meta").eval()
    for size in (160, 288):
        out = outputs(model(torch.zeros(1, 3, size, size, device="meta")))
        expected = archdsl.load(name, input=(3, size, size)).analyze().outputs
        assert {k: tuple(v.shape[1:]) for k, v in out.items()} == dict(expected)


@pytest.mark.parametrize(
    ("name", "takes"),
    [("vgg_d", "3xHxW with H = 224..255, W = 224..255"), ("alexnet_paper", "3xHxW with H = 227..258, W = 227..258")],
)
def test_fc_networks_refuse_200_with_the_contract_error(name: str, takes: str):
    """Where an fc follows a flatten the fc fixes the map size: the paper's VGG-D takes 224..255 (its pools
    floor), not 200, and says so instead of torch's 'mat1 and mat2 shapes cannot be multiplied'."""
    model = archdsl.load(name).compile(device="meta")
    with pytest.raises(InputSizeError) as err:
        model(torch.zeros(1, 3, 200, 200, device="meta"))
    nearest = {"vgg_d": "224x224", "alexnet_paper": "227x227"}[name]
    assert str(err.value) == (
        f"{name} takes N x {takes}; got an input of 1x3x200x200; the nearest sizes that work: {nearest}"
    )


def test_contracts_of_the_issue():
    """The contracts, exactly (the conditions come from the ops' own rules on symbolic sizes)."""
    takes = {n: archdsl.load(n).input_contract().describe() for n in ("unet", "fcn8s", "resnet50", "vgg16", "lenet5")}
    assert takes == {
        "unet": "1xHxW with H >= 188, W >= 188",  # the crops are floor-centred, as the analysis
        "fcn8s": "3xHxW with every H, every W",  # conv1's 100-pixel padding
        # below 17 the last stage's maps are 1x1 and a projection's stride would not matter
        # there, but the analysis then derives stride 1: the contract keeps what it can prove
        "resnet50": "3xHxW with H >= 17, W >= 17",
        "vgg16": "3xHxW with H >= 32, W >= 32",
        "lenet5": "1xHxW with H = 32..35, W = 32..35",
    }


def test_wrong_channels_and_rank_are_contract_errors():
    model = archdsl.load("resnet18").compile(device="meta")
    for shape in ((1, 1, 64, 64), (3, 64, 64), (1, 3, 64, 64, 1)):
        with pytest.raises(InputSizeError, match=r"^resnet18 takes N x 3xHxW with H >= 17, W >= 17; got an input of "):
            model(torch.zeros(*shape, device="meta"))


def test_the_check_can_be_left_out_or_turned_off():
    net = archdsl.load("vgg_d")
    assert not hasattr(net.compile(device="meta", check_input=False), "input_contract")
    model = net.compile(device="meta")
    model.input_contract.enabled = False
    with pytest.raises(
        RuntimeError, match="18432"
    ):  # torch's own error (mat1 and mat2 on the CPU): what the check prevents
        model(torch.zeros(1, 3, 200, 200, device="meta"))


def test_generated_source_names_no_absolute_path_and_carries_the_contract(tmp_path):
    src = archdsl.load("unet").source()
    assert str(Path.cwd()) not in src and "/specs/" not in src
    assert '"""unet: generated by archdsl from unet.arch.' in src
    assert "Input N x 1xHxW with H >= 188, W >= 188 (compiled at 1x572x572)" in src
    assert "attach(self, 'input_contract', InputCheck('unet', 3, 1, [1, 188, [0], []], [1, 188, [0], []]" in src


def test_torchscript_checks_the_contract_too():
    scripted = torch.jit.script(archdsl.load("resnet18").compile())
    assert tuple(scripted(torch.zeros(1, 3, 33, 40)).shape) == (1, 1000)
    with pytest.raises(
        torch.jit.Error,
        match="resnet18 takes N x 3xHxW with H >= 17, W >= 17; got an input of "
        "1x3x10x10; the nearest sizes that work: 17x17",
    ):
        scripted(torch.zeros(1, 3, 10, 10))


# ----------------------------------------------------------------------------- dynamic sizes in torch

DYNAMIC = ["resnet18", "fcn32s", "unet_padded"]  # a classifier with global pooling, an FCN, a UNet


def _small_sizes(name: str) -> list[tuple[int, int]]:
    from archdsl.backend.export_onnx import size_ranges

    net = archdsl.load(name)
    ranges = size_ranges(net)
    (h, hs), (w, ws) = ranges["height"], ranges["width"]
    return [(h, w + ws), (h + 2 * hs, w)]


@pytest.mark.parametrize("name", DYNAMIC)
def test_torch_compile_dynamic(name: str):
    torch._dynamo.reset()
    model = archdsl.load(name).compile(seed=0).eval()
    compiled = torch.compile(model, backend="eager", dynamic=True, fullgraph=True)
    with torch.no_grad():
        for h, w in _small_sizes(name):
            x = torch.randn(1, model.input_contract.channels, h, w)
            torch.testing.assert_close(outputs(compiled(x)), outputs(model(x)))
        bad = torch.randn(1, model.input_contract.channels + 1, 40, 40)
        # the contract holds in the compiled graph too: a full graph cannot raise, so dynamo reports it ...
        with pytest.raises(Exception, match=f"InputSizeError\\('{name} takes N x "):
            compiled(bad)
        # ... and a graph that may break raises it as it is
        with pytest.raises(InputSizeError, match=f"^{name} takes N x .*; got an input of 1x"):
            torch.compile(model, backend="eager", dynamic=True)(bad)


# fcn32s's Caffe pools (ceil mode) give torch.export guards it cannot prove for a range of sizes (the ONNX
# exporter falls back to runtime assertions there); torchvision's FCN stands for the FCNs here
@pytest.mark.parametrize("name", ["resnet18", "fcn_resnet50", "unet_padded"])
def test_torch_export_dynamic_height_and_width(name: str):
    from archdsl.backend.export_onnx import size_dim, size_ranges

    net = archdsl.load(name)
    model = net.compile(seed=0).eval()
    ranges = size_ranges(net, exact=name == "unet_padded")  # H = 32 + 16k: the crops' guards are provable
    dims = {
        0: torch.export.Dim("batch"),
        2: size_dim("height", *ranges["height"]),
        3: size_dim("width", *ranges["width"]),
    }
    x = torch.randn(2, *net.analyze().input_shape)
    program = torch.export.export(model, (x,), dynamic_shapes=(dims,))
    (h, hs), (w, ws) = ranges["height"], ranges["width"]
    with torch.no_grad():
        for height, width in ((h, w + ws), (h + 2 * hs, w)):
            x = torch.randn(1, net.analyze().input_shape[0], height, width)
            torch.testing.assert_close(outputs(program.module()(x)), outputs(model(x)))


@pytest.mark.parametrize("name", ["fcn32s", "unet_padded"])
def test_onnx_with_dynamic_sizes_in_onnxruntime(name: str, tmp_path):
    for pkg in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(pkg, reason=f"ONNX export tests need {pkg}")
    from archdsl import to_onnx

    done = to_onnx(name, tmp_path / f"{name}.onnx")
    assert set(done.sizes) == {"height", "width"}
    assert done.check().ok() and done.check(size=done.other_size()).ok()
    assert done.other_size() != done.input_shape[1:]


# ----------------------------------------------------------------------------- torchvision's fcn_resnet50
# torchvision cannot be installed beside this torch (README): this is its model written out as torchvision's
# segmentation/fcn.py and models/resnet.py build it (replace_stride_with_dilation=[False, True, True], FCNHead,
# bilinear interpolation to the input size, align_corners=False), with torchvision's module names.


class _Bottleneck(torch.nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int, dilation: int, downsample):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _Backbone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes, self.dilation = 64, 1
        self.layer1 = self._layer(64, 3, 1, False)
        self.layer2 = self._layer(128, 4, 2, False)
        self.layer3 = self._layer(256, 6, 2, True)
        self.layer4 = self._layer(512, 3, 2, True)

    def _layer(self, planes: int, blocks: int, stride: int, dilate: bool):
        nn = torch.nn
        previous = self.dilation
        if dilate:
            self.dilation, stride = self.dilation * stride, 1
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [_Bottleneck(self.inplanes, planes, stride, previous, downsample)]
        self.inplanes = planes * 4
        layers += [_Bottleneck(self.inplanes, planes, 1, self.dilation, None) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class _TorchvisionFCNResNet50(torch.nn.Module):
    def __init__(self, classes: int = 21):
        super().__init__()
        nn = torch.nn
        self.backbone = _Backbone()
        self.classifier = nn.Sequential(
            nn.Conv2d(2048, 512, 3, padding=1, bias=False),
            nn.BatchNorm2d(512),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(512, classes, 1),
        )

    def forward(self, x):
        size = x.shape[-2:]
        x = self.classifier(self.backbone(x))
        return {"out": torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)}


def test_fcn_resnet50_compiled_at_224_equals_torchvision_at_300x260():
    model = archdsl.load("fcn_resnet50").compile(seed=0).eval()
    reference = _TorchvisionFCNResNet50().eval()
    reference.load_state_dict(model.state_dict())  # torchvision's keys, in its order (test_segmentation.py)
    x = torch.randn(1, 3, 300, 260, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        got, want = model(x)["out"], reference(x)["out"]
    assert tuple(got.shape) == (1, 21, 300, 260)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_the_nearest_sizes_of_a_huge_input_are_found_without_a_scan():
    """Below a bounded set the search starts at its top, not at the input's size (10^8 steps before)."""
    model = archdsl.load("vgg_d").compile(device="meta")
    with pytest.raises(
        InputSizeError,
        match=r"got an input of 1x3x100000000x224; the nearest sizes that work: "
        r"255x224$",
    ):
        model(torch.zeros(1, 3, 10**8, 224, device="meta"))
