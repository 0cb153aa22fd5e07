"""compile()'s training options: seeded and named initialisation, loading weights with a clear account
of what does not fit, and freezing for transfer learning (docs/training.md)."""

import math

import pytest
import torch

import archdsl
from archdsl import ArchError, UnknownNameError
from archdsl.backend.weights import WeightsError, WeightsWarning, frozen_nodes

SMALL = "input 3x8x8\nconv3-8 - bn - relu - conv3-8 - bn - relu - gap - fc-5"
BIG_CONV = "input 256x4x4\nconv3-256 - relu - big: conv3-512 - relu - gap - head: fc-1000"


def equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ seeds
def test_the_same_seed_gives_the_same_weights():
    net = archdsl.load(SMALL)
    a, b, c = net.compile(seed=0).state_dict(), net.compile(seed=0).state_dict(), net.compile(seed=1).state_dict()
    assert equal(a, b)
    assert not torch.equal(a["0.weight"], c["0.weight"]) and not torch.equal(a["7.weight"], c["7.weight"])


def test_a_seed_leaves_torchs_global_generator_alone():
    net = archdsl.load(SMALL)
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    net.compile(seed=0)
    assert torch.equal(torch.rand(4), expected)


def test_no_seed_follows_torchs_global_generator():
    net = archdsl.load(SMALL)
    torch.manual_seed(3)
    a = net.compile().state_dict()
    torch.manual_seed(3)
    b = net.compile(init="torch").state_dict()
    torch.manual_seed(4)
    c = net.compile().state_dict()
    assert equal(a, b) and not equal(a, c)


def test_a_seed_gives_the_same_weights_in_another_dtype():
    net = archdsl.load(SMALL)
    a = net.compile(seed=0).state_dict()
    b = net.compile(seed=0, dtype=torch.float64).state_dict()
    assert b["0.weight"].dtype == torch.float64
    assert equal({k: v.double() if v.is_floating_point() else v for k, v in a.items()}, b)


# ------------------------------------------------------------------ init schemes
def _std(t: torch.Tensor) -> float:
    return t.double().std().item()


def test_he_init_is_kaiming_normal_fan_out():
    model = archdsl.load(BIG_CONV).compile(init="he", seed=0)
    w = model.big.weight  # 512x256x3x3: fan_out = 512 * 9
    assert w.shape == (512, 256, 3, 3)
    assert _std(w) == pytest.approx(math.sqrt(2 / (512 * 9)), rel=0.02)
    assert abs(w.double().mean().item()) < 1e-3
    assert not model.big.bias.any() and not model.head.bias.any()
    # the fc keeps torch's default weight, U(±1/sqrt(fan_in))
    assert _std(model.head.weight) == pytest.approx(1 / math.sqrt(3 * 512), rel=0.02)


def test_xavier_init_is_glorot_uniform():
    model = archdsl.load(BIG_CONV).compile(init="xavier", seed=0)
    fan_in, fan_out = 256 * 9, 512 * 9
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert _std(model.big.weight) == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert model.big.weight.abs().max().item() <= bound
    head_bound = math.sqrt(6 / (512 + 1000))
    assert _std(model.head.weight) == pytest.approx(head_bound / math.sqrt(3), rel=0.02)
    assert not model.big.bias.any() and not model.head.bias.any()


def test_torch_init_is_torchs_default():
    model = archdsl.load(BIG_CONV).compile(seed=0)
    assert _std(model.big.weight) == pytest.approx(1 / math.sqrt(3 * 256 * 9), rel=0.02)  # kaiming_uniform(a=√5)
    assert model.big.bias.abs().max().item() > 0


def test_he_init_sets_norm_layers_to_one_and_zero():
    model = archdsl.load("resnet20_cifar").compile(init="he", seed=0)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 19
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
    assert _std(model.get_submodule("layer3.2.conv2").weight) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)


@pytest.mark.parametrize("scheme", ["he", "xavier"])
def test_skipped_default_init_leaves_nothing_unset(scheme, monkeypatch):
    """compile builds the modules a scheme overwrites without torch's default init (weights.REINITIALISED):
    their storage starts as whatever memory held. Filled with NaN here, none may survive the scheme."""
    made = []
    real = torch.nn.utils.skip_init

    def poisoned(cls, *args, **kwargs):
        module = real(cls, *args, **kwargs)
        with torch.no_grad():
            for p in module.parameters():
                p.fill_(float("nan"))
        made.append(cls.__name__)
        return module

    monkeypatch.setattr(torch.nn.utils, "skip_init", poisoned)
    spec = (
        "input 3x16x16\nconv3-8 - bn - relu - residual { conv3-8 - conv1-8(bias=false) } - "
        "deconv(8, k=2, s=2) - dwconv3 - gap - fc-10"
    )
    model = archdsl.load(spec).compile(init=scheme)
    assert made.count("Conv2d") == 4 and made.count("ConvTranspose2d") == 1
    assert made.count("Linear") == (1 if scheme == "xavier" else 0)
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())


def test_the_spec_can_declare_its_init():
    spec = 'init = "he"\n' + BIG_CONV
    he = math.sqrt(2 / (512 * 9))
    assert _std(archdsl.load(spec).compile(seed=0).big.weight) == pytest.approx(he, rel=0.02)
    # compile's argument wins, and so does a variable override at load
    torch_default = 1 / math.sqrt(3 * 256 * 9)
    assert _std(archdsl.load(spec).compile(seed=0, init="torch").big.weight) == pytest.approx(torch_default, rel=0.02)
    xavier = math.sqrt(2 / (256 * 9 + 512 * 9))
    assert _std(archdsl.load(spec, init="xavier").compile(seed=0).big.weight) == pytest.approx(xavier, rel=0.02)


def test_an_unknown_init_scheme_suggests():
    with pytest.raises(UnknownNameError, match="unknown init scheme 'hee'") as exc:
        archdsl.load(SMALL).compile(init="hee")
    assert "did you mean 'he'" in str(exc.value)
    with pytest.raises(UnknownNameError, match="the spec's variable `init`") as exc:
        archdsl.load('init = "glorot"\n' + SMALL).compile(device="meta")
    assert "torch, he, xavier" in str(exc.value)


# ------------------------------------------------------------------ loading weights
def test_weights_round_trip_from_a_file_and_a_dict(tmp_path):
    net = archdsl.load(SMALL)
    source = net.compile(seed=0).state_dict()
    torch.save(source, tmp_path / "w.pth")
    model = net.compile(seed=1, weights=tmp_path / "w.pth")
    assert equal(model.state_dict(), source)
    assert len(model.weights_report.loaded) == len(source) and model.weights_report.ok
    assert equal(net.compile(seed=2, weights=str(tmp_path / "w.pth")).state_dict(), source)
    assert equal(net.compile(seed=3, weights=source).state_dict(), source)


def test_a_renamed_key_is_reported_with_the_nearest_name():
    net = archdsl.load("resnet20_cifar")
    sd = net.compile(seed=0).state_dict()
    sd["layer2.1.convl.weight"] = sd.pop("layer2.1.conv1.weight")
    with pytest.raises(WeightsError) as exc:
        net.compile(weights=sd)
    text = str(exc.value)
    assert isinstance(exc.value, ArchError)
    assert "1 missing, 1 unexpected" in text
    assert "layer2.1.conv1.weight 32x32x3x3 — did you mean 'layer2.1.convl.weight'" in text
    assert "layer2.1.convl.weight 32x32x3x3 — did you mean 'layer2.1.conv1.weight'" in text


def test_missing_keys_are_listed_first_few_and_counted():
    net = archdsl.load("resnet20_cifar")
    sd = {k: v for k, v in net.compile(seed=0).state_dict().items() if not k.startswith("layer3.")}
    missing = [k for k in net.compile(device="meta").state_dict() if k.startswith("layer3.")]
    with pytest.raises(WeightsError, match=f"{len(missing)} missing") as exc:
        net.compile(weights=sd)
    text = str(exc.value)
    assert missing[0] in text and missing[4] in text and missing[5] not in text
    assert f"... and {len(missing) - 5} more" in text


def test_a_wrong_shape_shows_both_shapes():
    net = archdsl.load(SMALL)
    sd = net.compile(seed=0).state_dict()
    sd["3.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(WeightsError, match="1 with another shape") as exc:
        net.compile(weights=sd)
    assert "3.weight: the model has 8x8x3x3, the weights 8x8x5x5" in str(exc.value)


def test_not_strict_loads_what_fits_and_warns():
    net = archdsl.load(SMALL)
    sd = net.compile(seed=0).state_dict()
    sd["3.weight"] = torch.zeros(8, 8, 5, 5)
    del sd["1.bias"]
    sd["extra.weight"] = torch.zeros(3)
    fresh = net.compile(seed=1).state_dict()
    with pytest.warns(WeightsWarning, match="1 missing, 1 unexpected, 1 with another shape"):
        model = net.compile(seed=1, weights=sd, strict=False)
    got = model.state_dict()
    assert torch.equal(got["3.weight"], fresh["3.weight"]) and torch.equal(got["1.bias"], fresh["1.bias"])
    assert torch.equal(got["0.weight"], sd["0.weight"]) and torch.equal(got["7.weight"], sd["7.weight"])


def test_wrapped_and_older_state_dicts_load(tmp_path):
    net = archdsl.load(SMALL)
    sd = net.compile(seed=0).state_dict()
    ddp = {"module." + k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": ddp, "epoch": 3}, tmp_path / "ckpt.pth")
    model = net.compile(seed=1, weights=tmp_path / "ckpt.pth")
    assert model.weights_report.stripped == "module."
    assert model.weights_report.defaulted == ["1.num_batches_tracked", "4.num_batches_tracked"]
    assert equal(model.state_dict(), sd)


def test_bad_weights_are_arch_errors(tmp_path):
    net = archdsl.load(SMALL)
    with pytest.raises(WeightsError, match="no such weights file"):
        net.compile(weights=tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read junk.pth"):
        net.compile(weights=tmp_path / "junk.pth")
    with pytest.raises(ArchError, match="no weights were given"):
        net.compile(reinit="7")
    with pytest.raises(UnknownNameError, match="unknown label 'fc' in reinit"):
        net.compile(device="meta", weights=net.compile(device="meta").state_dict(), reinit="fc")


def test_weights_of_another_network_say_so():
    with pytest.raises(WeightsError) as exc:
        archdsl.load("resnet20_cifar").compile(device="meta", weights=archdsl.load(SMALL).compile(seed=0).state_dict())
    assert "are they another network's?" in str(exc.value)


# ------------------------------------------------------------------ transfer learning
@pytest.fixture(scope="module")
def imagenet_resnet18(tmp_path_factory):
    """A 1000-class resnet18's state_dict saved to a file, as torchvision's pretrained file would be."""
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    source = archdsl.load("resnet18").compile(seed=0).state_dict()
    torch.save(source, path)
    return path, source


def test_a_head_for_other_classes_is_named_with_a_remedy(imagenet_resnet18):
    path, _ = imagenet_resnet18
    net = archdsl.load("resnet18", classes=10)
    with pytest.raises(WeightsError, match="2 with another shape") as exc:
        net.compile(device="meta", weights=path)
    text = str(exc.value)
    assert "fc.weight: the model has 10x512, the weights 1000x512" in text
    assert "fc.bias: the model has 10, the weights 1000" in text
    assert "skip_mismatched=True" in text and "reinit='fc'" in text


def test_fine_tuning_the_head_trains_only_the_head(imagenet_resnet18):
    path, source = imagenet_resnet18
    net = archdsl.load("resnet18", classes=10, input="3x64x64")  # same weights, a faster forward
    with pytest.warns(WeightsWarning, match="fc.weight: the model has 10x512, the weights 1000x512"):
        model = net.compile(seed=1, weights=path, skip_mismatched=True, freeze="avgpool")
    report = model.weights_report
    assert report.skipped == ["fc.weight", "fc.bias"] and len(report.loaded) == len(source) - 2
    params = dict(model.named_parameters())
    trainable = [k for k, p in params.items() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    assert len(params) == 62 and not any(p.requires_grad for k, p in params.items() if not k.startswith("fc."))
    # everything but the head is the pretrained network's; the head is the new model's own init
    state = model.state_dict()
    assert all(torch.equal(state[k], source[k]) for k in state if not k.startswith("fc."))
    assert torch.equal(state["fc.weight"], net.compile(seed=1).state_dict()["fc.weight"])

    before = {k: p.detach().clone() for k, p in params.items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 3, 5, 9]))
    loss.backward()
    opt.step()
    changed = [k for k, p in params.items() if not torch.equal(p, before[k])]
    assert changed == ["fc.weight", "fc.bias"]
    assert all(params[k].grad is None for k in params if not k.startswith("fc."))


def test_reinit_keeps_a_head_of_the_same_shape_new(imagenet_resnet18):
    path, source = imagenet_resnet18
    net = archdsl.load("resnet18")
    model = net.compile(seed=5, weights=path, reinit="fc")
    own = net.compile(seed=5).state_dict()
    state = model.state_dict()
    assert torch.equal(state["fc.weight"], own["fc.weight"]) and not torch.equal(
        state["fc.weight"], source["fc.weight"]
    )
    assert torch.equal(state["layer4.1.conv2.weight"], source["layer4.1.conv2.weight"])


def test_freeze_takes_everything_that_feeds_the_label():
    net = archdsl.load("resnet18")
    model = net.compile(device="meta", freeze="layer3")
    trainable = {k.split(".")[0] for k, p in model.named_parameters() if p.requires_grad}
    frozen = {k.split(".")[0] for k, p in model.named_parameters() if not p.requires_grad}
    assert trainable == {"layer4", "fc"} and frozen == {"conv1", "bn1", "layer1", "layer2", "layer3"}
    # in a branching network, a side branch that does not feed the label stays trainable
    spec = "input 3x16x16\ntrunk { conv3-8 - relu }\n@trunk - cls: fc-10\n@trunk - box: fc-4\noutput cls, box"
    model = archdsl.load(spec).compile(freeze="cls")
    assert {k for k, p in model.named_parameters() if p.requires_grad} == {"box.weight", "box.bias"}
    assert frozen_nodes(archdsl.load(spec).graph, ["trunk"]) >= {"trunk.0", "trunk.1"}


def test_freeze_an_unknown_label_suggests():
    with pytest.raises(UnknownNameError, match="unknown label 'layr3' in freeze") as exc:
        archdsl.load("resnet18").compile(device="meta", freeze="layr3")
    assert "did you mean 'layer3'" in str(exc.value)


def test_the_resnet_specs_declare_he_init():
    """specs/classic/resnet.arch says `init = "he"`: conv weights have std sqrt(2 / fan_out)."""
    import math

    model = archdsl.load("resnet18").compile(seed=0)
    w = model.get_submodule("layer4.0.conv2").weight.detach()  # 512 x 512 x 3 x 3: fan_out = 4608
    assert abs(float(w.std()) / math.sqrt(2 / (512 * 9)) - 1) < 0.02
