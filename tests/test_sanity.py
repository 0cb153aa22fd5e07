"""archdsl.sanity: the initial loss is about ln(C), and the network overfits 20 random samples."""

import io
import math

import pytest
import torch

import archdsl
from archdsl import ArchError
from archdsl.backend.sanity import TOLERANCE, sanity
from archdsl.cli import parser


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models take hundreds of tiny steps: one thread is fastest, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def check_numbers(r, name, classes, shape):
    assert (r.name, r.classes, r.samples, r.input_shape, r.device) == (name, classes, 20, shape, "cpu")
    assert r.expected_loss == math.log(classes)
    assert r.initial_loss >= r.expected_loss - 1e-5  # logsumexp(z) - mean(z) >= ln C, equal for equal logits
    assert abs(r.initial_loss - r.expected_loss) < TOLERANCE
    assert len(r.losses) == r.steps + 1 and r.final_loss == r.losses[-1]
    assert 0 < r.steps <= r.max_steps and r.accuracy == 1.0
    assert r.final_loss < r.losses[0]
    assert r.initial_ok and r.overfit_ok and r.passed


def test_lenet5_passes():
    r = sanity(archdsl.load("lenet5"), 10, device="cpu")
    check_numbers(r, "lenet5", 10, (1, 32, 32))
    text = str(r)
    assert "vs ln(10) = 2.3026" in text and f"100% training accuracy after {r.steps} steps" in text
    assert text.splitlines()[-1].startswith("pass")


def test_a_cifar_resnet_passes():
    r = sanity(archdsl.load("resnet20_cifar"), 10, device="cpu")
    check_numbers(r, "resnet20_cifar", 10, (3, 32, 32))


def test_a_seed_makes_the_run_reproducible():
    net = archdsl.load("lenet5")
    a, b = sanity(net, steps=5, device="cpu", seed=3), sanity(net, steps=5, device="cpu", seed=3)
    assert a.losses == b.losses and a.initial_loss == b.initial_loss


def test_large_initial_logits_fail_the_first_check():
    net = archdsl.load("lenet5")
    model = net.compile(seed=0)
    with torch.no_grad():
        model.out.bias.copy_(torch.linspace(-4, 4, 10))  # one class far ahead from the start
    r = sanity(net, 10, model=model, device="cpu")
    assert r.initial_loss - r.expected_loss > TOLERANCE
    assert not r.initial_ok and not r.passed
    assert "FAIL" in str(r) and "the logits start out large" in str(r)


def test_no_steps_cannot_overfit():
    r = sanity(archdsl.load("lenet5"), steps=0, device="cpu")
    assert r.steps == 0 and len(r.losses) == 1 and r.accuracy < 1
    assert r.initial_ok and not r.overfit_ok and not r.passed


def test_a_frozen_network_cannot_overfit():
    net = archdsl.load("lenet5")
    r = sanity(net, model=net.compile(seed=0, freeze="out"), device="cpu")
    assert r.steps == 0 and not r.overfit_ok


def test_one_output_of_several():
    spec = "input 3x8x8\ntrunk { conv3-8 - relu }\n@trunk - cls: fc-10\n@trunk - box: fc-4\noutput cls, box"
    r = sanity(archdsl.load(spec), 10, output="cls", device="cpu")
    assert r.classes == 10 and r.passed
    with pytest.raises(ArchError, match="unknown output 'clss'"):
        sanity(archdsl.load(spec), output="clss", device="cpu")


def test_what_is_not_a_classifier_of_that_many_classes():
    with pytest.raises(ArchError, match="lenet5 has 10 outputs, not 7 classes") as exc:
        sanity(archdsl.load("lenet5"), 7)
    assert "classes=7" in str(exc.value)
    with pytest.raises(ArchError, match="not a vector of class scores"):
        sanity(archdsl.load("input 3x8x8\nconv3-4"))


def test_the_progress_bar():
    from rich.console import Console

    buf = io.StringIO()
    r = sanity(archdsl.load("lenet5"), device="cpu", progress=True, console=Console(file=buf, width=120))
    assert r.passed
    assert "overfitting 20 samples" in buf.getvalue() and "accuracy 100%" in buf.getvalue()


def run_cli(argv, capsys):
    args = parser("sanity").parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_the_command_exits_0_on_pass_and_1_on_fail(capsys):
    code, out = run_cli(["sanity", "lenet5", "--classes", "10", "--device", "cpu", "--no-progress"], capsys)
    assert code == 0 and out.splitlines()[-1].startswith("pass")
    assert "sanity lenet5: 10 classes, 20 random 1x32x32 samples" in out
    code, out = run_cli(["sanity", "lenet5", "--steps", "0", "--device", "cpu", "--no-progress"], capsys)
    assert code == 1 and out.splitlines()[-1].startswith("FAIL")
    code, out = run_cli(
        [
            "sanity",
            "[CONV-POOL]x2-FC",
            "--input",
            "3x16x16",
            "--classes",
            "5",
            "--samples",
            "8",
            "--init",
            "he",
            "--device",
            "cpu",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0 and "5 classes, 8 random 3x16x16 samples" in out
