"""Property: for random VALID specs, the analysis is the compiled module.

The parameter and buffer counts, the state_dict (keys in order, shapes) and every output
shape of a real forward pass (batch 2, eval mode) equal what ``analyze()`` computed without
torch. The specs come from :class:`valid.ValidGen`: small maps and few channels, so that a
case costs a few milliseconds of torch.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import archdsl

from .grammar import seeds
from .harness import CASE_SECONDS, Failure, examples, time_limit
from .valid import ValidGen

BATCH = 2
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")



def check_consistent(text: str) -> None:
    net = archdsl.load(text)
    a = net.analyze()
    gm = net.compile()
    gm.eval()
    assert a.totals.params == sum(p.numel() for p in gm.parameters()), text
    assert a.totals.buffers == sum(b.numel() for b in gm.buffers()), text
    real = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    expected = a.state_dict_shapes()
    assert list(expected) == list(real) and expected == real, f"{text}\nanalysis {expected}\ntorch    {real}"
    torch.manual_seed(0)
    with torch.no_grad():
        y = gm(torch.randn(BATCH, *a.input_shape))
    ys = y if isinstance(y, dict) else {next(iter(a.outputs)): y}
    assert set(ys) == set(a.outputs), text
    for name, shape in a.outputs.items():
        real_shape = tuple(ys[name].shape)
        assert real_shape == (BATCH, *shape), f"{text}\n{name}: analysis {shape}, torch {real_shape}"
        assert torch.isfinite(ys[name]).all(), text


@settings(max_examples=examples(150), derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(seeds())
def test_analysis_equals_compiled_module(seed):
    """...and, on the way, that the size estimate of every repeat, loop and block call was at most what
    its expansion built (see _Recorder)."""
    text = ValidGen(seed).spec()
    try:
        with time_limit(4 * CASE_SECONDS), pytest.MonkeyPatch.context() as mp:
            _Recorder(mp)
            check_consistent(text)
    except AssertionError:
        raise
    except BaseException as err:  # noqa: BLE001 - a valid spec must compile and run
        raise Failure(f"{type(err).__name__}: {err}\non the valid spec\n{text}") from err


# ------------------------------------------------ the size bound never exceeds the expansion
class _Recorder:
    """Wraps an Elaborator: every estimate it checks (``expect``) is compared, once the element has
    been expanded, with the nodes and steps the expansion really took."""

    def __init__(self, monkeypatch):
        from archdsl.elaborate import Elaborator
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
    from archdsl import library
    for name in library.entries():
        archdsl.load(name)
    assert recorder.checked > 1000

