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

from functools import lru_cache
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import library
from archdsl.layers import InputSizeError

# every network of the library once: (file, network), as `archdsl list` shows them
CASES = sorted({(e.path, e.network) for e in library.entries().values()}, key=lambda c: (str(c[0]), c[1] or ""))
IDS = [f"{path.stem}:{network}" if network else path.stem for path, network in CASES]


@lru_cache(maxsize=None)
def _net(path: Path, network: str | None) -> archdsl.Net:
    return archdsl.load(str(path), network=network)


def members(s, count: int, skip: int) -> list[int]:
    """The ``count`` smallest sizes of a contract's set, ``skip`` (the declared size) left out."""
    out, n = [], 1
    while len(out) < count:
        if n in s and n != skip:
            out.append(n)
        n += 1
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
        at_size = archdsl.load(str(path), network=network, input=shape)
        fresh = at_size.compile(device="meta").eval()
        fresh.load_state_dict(state, assign=True)
        x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(h * 1000 + w))
        with torch.no_grad():
            got, want, generated = outputs(model(x)), outputs(fresh(x)), outputs(source(x))
        expected = at_size.analyze().outputs
        assert {k: tuple(v.shape[1:]) for k, v in got.items()} == {k: tuple(v) for k, v in expected.items()}, shape
        for name in got:
            torch.testing.assert_close(got[name], want[name], rtol=0, atol=0, msg=f"{name} at {shape}")
            torch.testing.assert_close(generated[name], got[name], rtol=0, atol=0, msg=f"source, {name} at {shape}")


@pytest.mark.parametrize(("path", "network"), CASES, ids=IDS)
def test_refused_size_is_a_clear_error(path: Path, network: str | None):
    net = _net(path, network)
    model = net.compile(device="meta")
    shape = refused_shape(net) if len(net.analyze().input_shape) == 3 else (net.analyze().input_shape[0] + 1,)
    with pytest.raises(InputSizeError) as err:
        model(torch.zeros(1, *shape, device="meta"))
    message = str(err.value)
    assert message.startswith(f"{net.name} takes N x {net.input_contract().describe()}; got an input of "
                              f"{'x'.join(map(str, (1, *shape)))}")
