"""Property: for random VALID specs, the analysis is the compiled module, and so is its generated source.

The parameter and buffer counts, the state_dict (keys in order, shapes) and every output
shape of a real forward pass (batch 2, eval mode) equal what ``analyze()`` computed without
torch; the module built from ``source()`` on the CPU takes the compiled state_dict (strict) and
gives the same outputs (atol 1e-5). The specs come from :class:`valid.ValidGen`: small maps and
few channels, so that a case costs a few milliseconds of torch; a share of their labels, groups,
blocks, networks and outputs are named like Python keywords, nn.Module attributes and builtins, so
compile() may refuse a spec (then source() must refuse it too).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import archdsl
from archdsl import ArchError

from .grammar import seeds
from .harness import (
    CASE_SECONDS,
    Failure,
    built_from_source,
    check_rendering,
    examples,
    known_bug,
    same_state,
    time_limit,
)
from .valid import ValidGen

BATCH = 2
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")


def check_consistent(text: str, may_refuse: bool = False) -> bool:
    """The analysis is the compiled module, and the module ``source()`` generates is the same model: built on
    the CPU, it takes the compiled module's state_dict (strict), and gives the same outputs in eval mode.
    With ``may_refuse``, compile() may refuse the spec with an ArchError (a label that cannot name a module),
    and then source() must refuse it alike; returns whether the spec was compiled."""
    net = archdsl.load(text)
    a = net.analyze()
    if known_bug("contract", net):
        return False
    assert net.input_contract().admits(a.input_shape), (
        f"{text}\nthe contract {net.input_contract().describe()} refuses the declared input {a.input_shape}"
    )
    try:
        gm = net.compile()
    except ArchError as err:
        if not may_refuse:
            raise
        check_rendering(err)
        with pytest.raises(ArchError) as again:
            net.source()
        assert str(again.value) == str(err), f"{text}\ncompile: {err}\nsource:  {again.value}"
        return False
    gm.eval()
    assert a.totals.params == sum(p.numel() for p in gm.parameters()), text
    assert a.totals.buffers == sum(b.numel() for b in gm.buffers()), text
    real = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    expected = a.state_dict_shapes()
    assert list(expected) == list(real) and expected == real, f"{text}\nanalysis {expected}\ntorch    {real}"
    torch.manual_seed(0)
    x = torch.randn(BATCH, *a.input_shape)
    x_before = x.clone()
    with torch.no_grad():
        y = gm(x)
    if "inplace=true" not in text:  # archdsl's own in-place rewrite never overwrites the input (compile.make_inplace)
        assert torch.equal(x, x_before), f"forward changed its input\n{text}"
    x = x_before
    ys = y if isinstance(y, dict) else {next(iter(a.outputs)): y}
    assert set(ys) == set(a.outputs), text
    for name, shape in a.outputs.items():
        real_shape = tuple(ys[name].shape)
        assert real_shape == (BATCH, *shape), f"{text}\n{name}: analysis {shape}, torch {real_shape}"
        assert torch.isfinite(ys[name]).all(), text
    generated = built_from_source(net.source(), "cpu")
    same_state(gm, generated, text)
    generated.load_state_dict(gm.state_dict(), strict=True)
    generated.eval()
    with torch.no_grad():
        y_source = generated(x.clone())
    y_source = y_source if isinstance(y_source, dict) else {next(iter(a.outputs)): y_source}
    assert set(y_source) == set(ys), text
    for name, out in ys.items():
        assert y_source[name].shape == out.shape and torch.allclose(y_source[name], out, atol=1e-5), (
            f"{text}\n{name}: generated source differs from the compiled module by "
            f"{(y_source[name] - out).abs().max().item() if y_source[name].shape == out.shape else 'shape'}"
        )
    return True


@settings(
    max_examples=examples(200), derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(seeds())
def test_analysis_equals_compiled_module(seed):
    """...and, on the way, that the size estimate of every repeat, loop and block call was at most what
    its expansion built (see _Recorder)."""
    text = ValidGen(seed).spec()
    try:
        with time_limit(4 * CASE_SECONDS), pytest.MonkeyPatch.context() as mp:
            _Recorder(mp)
            check_consistent(text, may_refuse=True)
    except AssertionError:
        raise
    except BaseException as err:  # noqa: BLE001 - a valid spec must compile and run
        raise Failure(f"{type(err).__name__}: {err}\non the valid spec\n{text}") from err


# ------------------------------------------------ the size bound never exceeds the expansion
class _Recorder:
    """Wraps an Elaborator: every estimate it checks (``expect``) is compared, once the element has
    been expanded, with the nodes and steps the expansion really took."""

    def __init__(self, monkeypatch):
        from archdsl.lang.elaborate import Elaborator

        self.checked = 0
        records: list[tuple[int, int, int, int, int]] = []
        expect, element = Elaborator.expect, Elaborator._element
        recorder = self

        def recording_expect(el, what, nodes, steps, times, span, hint):
            expect(el, what, nodes, steps, times, span, hint)
            records.append((el.nesting, len(el.g), el.steps, nodes * (times or 1), steps * (times or 1)))

        def checking_element(el, *args, **kwargs):
            try:
                out = element(el, *args, **kwargs)
            except BaseException:
                del records[:]  # an error ends the expansion: nothing to compare
                raise
            while records and records[-1][0] == el.nesting:
                _, nodes_then, steps_then, nodes, steps = records.pop()
                assert len(el.g) - nodes_then >= nodes, f"bound {nodes} nodes, built {len(el.g) - nodes_then}"
                assert el.steps - steps_then >= steps, f"bound {steps} steps, took {el.steps - steps_then}"
                recorder.checked += 1
            return out

        monkeypatch.setattr(Elaborator, "expect", recording_expect)
        monkeypatch.setattr(Elaborator, "_element", checking_element)


@pytest.fixture
def recorder(monkeypatch):
    return _Recorder(monkeypatch)


def test_the_bound_is_a_lower_bound_on_the_library(recorder):
    """Refusing before expanding is only safe if the estimate never exceeds what is built: on every
    network of the library (loops, recursive blocks, imports), the estimate is at most the expansion."""
    from archdsl.lang import library

    for name in library.entries():
        archdsl.load(name)
    assert recorder.checked > 1000
