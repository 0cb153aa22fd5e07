"""archdsl.export: ONNX (checked with onnxruntime) and TorchScript files of compiled networks, and
of the standalone source ``archdsl compile`` writes, agree with the torch module in eval mode.

The ONNX tests need onnx, onnxscript and onnxruntime and are skipped, saying so, where one is
missing. BN's running statistics and affine parameters are randomised before export (a fresh
BN is nearly the identity, which would hide a wrongly folded or dropped normalisation)."""

import time

import pytest
import torch

import archdsl
from archdsl import to_onnx, to_torchscript
from archdsl.backend import export, export_onnx
from archdsl.backend.export_onnx import check_onnx
from archdsl.cli import parser

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # deprecated in torch 2.13

TOL = 1e-4  # the bound on max abs diff between the ONNX file and torch


def needs_onnx():
    for pkg in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(pkg, reason=f"ONNX export tests need {pkg} (pip install onnx onnxscript onnxruntime)")


def randomised(name: str, seed: int = 0, **variables) -> torch.nn.Module:
    """The seeded compiled network with every BN's statistics and affine made non-trivial."""
    torch.manual_seed(seed)
    module = archdsl.load(name, **variables).compile()
    g = torch.Generator().manual_seed(seed + 1)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            if m.affine:  # undoes most of the variance's scaling per channel, so outputs stay near 1
                m.weight.data.copy_((m.running_var + m.eps).sqrt() * (0.8 + 0.2 * torch.rand(n, generator=g)))
                m.bias.data.copy_(0.1 * torch.randn(n, generator=g))
    return module


def onnx_io(path):
    """(input name, its dims), [(output name, its dims)]; a symbolic dim is its name (a str)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def dims(v):
        return [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]

    (inp,) = model.graph.input
    return (inp.name, dims(inp)), [(o.name, dims(o)) for o in model.graph.output], model.opset_import


# (library name, variables, batches run through onnxruntime). Every file is traced at batch 2 with
# a symbolic batch axis; batch 1 and 3 runs show it holds. unet (572x572) runs at batch 1 only: one
# sample takes seconds in torch and in onnxruntime on 2 cores.
ONNX_CASES = [
    ("resnet50", {}, (1,)),
    ("googlenet", {}, (3,)),
    ("googlenet", {"aux": 1}, (1, 3)),
    ("unet", {}, (1,)),
    ("ssd300", {}, (3,)),
]


@pytest.mark.parametrize(
    "name,variables,batches",
    ONNX_CASES,
    ids=[n + "".join(f"-{k}{v}" for k, v in kw.items()) for n, kw, _ in ONNX_CASES],
)
def test_onnx_matches_torch(tmp_path, name, variables, batches):
    needs_onnx()
    a = archdsl.load(name, **variables).analyze()
    module = randomised(name, **variables)
    start = time.perf_counter()
    if name == "resnet50":  # the spec + weights= path
        done = to_onnx(name, tmp_path / f"{name}.onnx", weights=module.state_dict(), **variables)
    else:
        done = to_onnx(module, tmp_path / f"{name}.onnx", input=a.input_shape)
    seconds = time.perf_counter() - start
    (in_name, in_dims), outs, opsets = onnx_io(done.path)
    assert in_name == "input"
    assert isinstance(in_dims[0], str)  # a symbolic batch axis
    if done.sizes:  # a spec: height and width symbolic too, over its input contract (test_any_size.py)
        assert in_dims[1] == a.input_shape[0] and all(isinstance(d, str) for d in in_dims[2:])
    else:  # a torch module: the spatial sizes as given
        assert in_dims[1:] == list(a.input_shape)
    names = list(a.outputs)
    assert [o for o, _ in outs] == names == done.outputs
    if len(names) == 1 and not variables:
        assert names == ["output"]
    for o, dims in outs:
        assert dims[0] == in_dims[0] and dims[1:] == list(a.outputs[o])
    assert [op.version for op in opsets if op.domain in ("", "ai.onnx")] == [export_onnx.OPSET]
    assert not (tmp_path / f"{name}.onnx.data").exists()  # under 2 GB the weights are in the file
    for batch in batches:
        diffs = done.check(batch=batch)
        assert set(diffs) == set(names)
        assert max(diffs.values()) <= TOL, (batch, diffs, diffs.scale)
        print(
            f"{name} {variables}: export {seconds:.1f} s, batch {batch}: max abs diff {max(diffs.values()):.2e}, "
            f"outputs up to {max(diffs.scale.values()):.3g}"
        )


def test_onnx_from_generated_source(tmp_path):
    """``archdsl compile``'s standalone module (resnet18) exports too, and all three agree."""
    needs_onnx()
    net = archdsl.load("resnet18")
    namespace: dict = {}
    exec(compile(net.source(), "resnet18_generated.py", "exec"), namespace)
    generated = namespace["build"]()
    compiled = randomised("resnet18")
    generated.load_state_dict(compiled.state_dict())
    done = to_onnx(generated, tmp_path / "gen.onnx", input=net.analyze().input_shape)
    assert type(done.module).__name__ == "Resnet18" and done.module is generated
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    assert check_onnx(done.path, generated, x)["output"] <= TOL
    assert check_onnx(done.path, compiled.eval(), x)["output"] <= TOL


def test_onnx_static_batch_and_opset(tmp_path):
    needs_onnx()
    import onnxruntime

    done = to_onnx(
        "conv3-8 - bn - relu - maxpool - fc-5",
        tmp_path / "s.onnx",
        input="3x16x16",
        dynamic_batch=False,
        batch=2,
        opset=17,
    )
    (_, in_dims), outs, opsets = onnx_io(done.path)
    assert in_dims == [2, 3, 16, 16] and outs == [("output", [2, 5])]
    assert [op.version for op in opsets if op.domain in ("", "ai.onnx")] == [17]
    assert done.check()["output"] <= TOL  # at its own batch of 2
    session = onnxruntime.InferenceSession(str(done.path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"input": torch.randn(3, 3, 16, 16).numpy()})


def test_missing_package_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(export_onnx, "ONNX_PACKAGES", ("archdsl_no_such_package",))
    with pytest.raises(export.MissingPackage, match="pip install archdsl_no_such_package"):
        to_onnx("conv3-8", tmp_path / "m.onnx", input="3x8x8")
    assert cli(["conv3-8", "--input", "3x8x8", "-o", str(tmp_path / "m.onnx")]) == 3
    assert "needs the package archdsl_no_such_package" in capsys.readouterr().err


# --- TorchScript ---------------------------------------------------------------------------------

# (name, variables, the method "auto" ends up with): FractalNet's MeanJoin takes *xs, which
# TorchScript cannot compile, so it is traced; DropPath (resnet110_stochastic_depth) scripts.
SCRIPT_CASES = [
    ("resnet18", {}, "script"),
    ("googlenet", {}, "script"),
    ("densenet121", {}, "script"),
    ("resnet110_stochastic_depth", {}, "script"),
    ("fractalnet", {"columns": 2}, "trace"),
]


@pytest.mark.parametrize("name,variables,method", SCRIPT_CASES, ids=[c[0] for c in SCRIPT_CASES])
def test_torchscript_matches_eager(tmp_path, name, variables, method, recwarn):
    a = archdsl.load(name, **variables).analyze()
    done = to_torchscript(randomised(name, **variables), tmp_path / f"{name}.pt", input=a.input_shape)
    assert done.method == f"torch.jit.{method}"
    if method == "trace":
        assert "variable number of arguments" in done.note and "layers.py" in done.note
        assert any("traced instead" in str(w.message) for w in recwarn)
    else:
        assert done.note == ""
    diffs = done.check(batch=1)
    assert list(diffs) == list(a.outputs)
    # resnet110_stochastic_depth's outputs reach ~5e6 (its residual sums grow with depth): relative there
    assert diffs.ok(1e-6), (diffs, diffs.scale)


def test_scripted_drop_path_keeps_training_behaviour(tmp_path):
    """A scripted archive still switches: in train mode DropPath draws the same masks as eager."""
    done = to_torchscript("resnet110_stochastic_depth", tmp_path / "sd.pt")
    loaded = torch.jit.load(str(done.path))
    eager = done.module
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    outs = []
    for m in (eager.train(), loaded.train()):
        torch.manual_seed(7)
        with torch.no_grad():
            outs.append(m(x))
    eval_out = eager.eval()(x).detach()
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert not torch.allclose(outs[0], eval_out, atol=1e-3)  # it did drop paths


def test_module_mode_is_restored(tmp_path):
    module = archdsl.load("conv3-4 - bn - relu - dropout(0.5) - fc-3", input="3x8x8").compile().train()
    to_torchscript(module, tmp_path / "m.pt", input="3x8x8")
    assert module.training


def test_a_module_needs_input(tmp_path):
    module = archdsl.load("conv3-4", input="3x8x8").compile()
    with pytest.raises(TypeError, match="input="):
        to_torchscript(module, tmp_path / "m.pt")


# --- the command ---------------------------------------------------------------------------------


def cli(argv: list[str]) -> int:
    """``archdsl export ARGV``: the command's own run(), without main()'s handlers."""
    args = parser("export").parse_args(["export", *argv])
    return args.func(args)


def test_cli_onnx_with_check(tmp_path, capsys):
    needs_onnx()
    out = tmp_path / "lenet.onnx"
    assert cli(["lenet5", "--classes", "7", "-o", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}: ONNX opset {export_onnx.OPSET}" in text
    assert "check (onnxruntime, batch 1, 1x32x32): max abs diff output" in text and "(of values up to" in text
    assert "1x33x33" not in text  # lenet5 takes 32..35 only: its file keeps the sizes fixed, one check
    assert onnx_io(out)[1][0][1][1:] == [7]


def test_cli_torchscript_by_suffix(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert cli(["conv3-8 - relu - gap - fc-4", "--input", "3x16x16", "-o", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert "TorchScript via torch.jit.script" in text and "check (torch.jit.load, batch 1, 3x16x16)" in text
    assert torch.jit.load(str(out))(torch.randn(3, 3, 16, 16)).shape == (3, 4)


def test_check_tolerance_is_relative_above_one():
    """A default-initialised ResNet-110 reaches outputs near 6e8, where float32 alone differs by ~200."""
    assert export.Diffs({"output": 192.0}, {"output": 5.66e8}).ok()
    assert not export.Diffs({"output": 192.0}, {"output": 1e5}).ok()
    assert export.Diffs({"a": 9e-5, "b": 0.0}, {"a": 0.03, "b": 0.0}).ok()
    assert not export.Diffs({"a": 2e-4}, {"a": 0.03}).ok()


def test_cli_failed_check_exits_4(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        export.Exported, "check", lambda self, batch=None, size=None: export.Diffs({"output": 0.5}, {"output": 2.0})
    )
    assert cli(["conv3-4 - gap", "--input", "3x8x8", "-o", str(tmp_path / "m.pt"), "--check"]) == 4
    assert "differs from the torch module" in capsys.readouterr().err


def test_cli_usage_errors(tmp_path, capsys):
    assert cli(["conv3-8", "--input", "3x8x8", "-o", str(tmp_path / "m.txt")]) == 2
    assert "writes .onnx or .pt" in capsys.readouterr().err
    assert cli(["conv3-8", "--input", "3x8x8", "-o", str(tmp_path / "m.onnx"), "--batch", "0"]) == 2
    with pytest.raises(archdsl.ArchError):  # the spec's own errors go to archdsl.cli's handler (exit 1)
        cli(["conv3-8 - nosuchop", "--input", "3x8x8", "-o", str(tmp_path / "m.pt")])
