"""Bad input never hurts: generated and mutated specs end in an analysis or an ArchError.

Every case must give either a valid analysis (and then a module that agrees with it, compiled on
the meta device, and a ``source()`` that parses and builds the same state_dict; or a compile()
and source() that both refuse it with the same ArchError) or an ArchError that renders as
``file:line:col: message`` with its line and caret. Any other
exception (a traceback), a RecursionError or MemoryError, or a case running longer than a
few seconds fails. The runs are reproducible (``derandomize=True``, no example database);
``ARCHDSL_FUZZ_EXAMPLES=200000`` makes a long campaign of them (see tests/fuzz/README.md).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl import ArchError

from .grammar import NameGen, SpecGen, seeds
from .harness import (
    CASE_SECONDS,
    MAIN_EXAMPLES,
    Failure,
    built_from_source,
    check_rendering,
    examples,
    known_bug,
    outcome,
    same_state,
    time_limit,
)
from .mutate import SPECS, mutate, spec_files
from .test_consistency import _Recorder

FAST = dict(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


def outputs_of(y, analysis) -> dict:
    return y if isinstance(y, dict) else {next(iter(analysis.outputs)): y}


def agrees_on_meta(text: str, analysis, run_source: bool = True, **kwargs) -> None:
    """A spec the analysis accepts compiles (on the meta device: nothing is allocated), and its forward
    pass gives the analysed parameter count and output shapes; or compile() refuses it with an ArchError
    (a label that cannot name a module) and source() refuses it with the same error. Its source() parses
    and, with ``run_source``, runs as a module whose build() makes the compiled module's state_dict (keys,
    order, shapes) and the same output shapes."""
    try:
        with time_limit(10):
            net = archdsl.load(text, **kwargs)
            if known_bug("contract", net):
                return
            try:
                gm = net.compile(device="meta")
            except ArchError as err:
                refused_alike(net, err, text)
                return
            x = torch.empty(2, *analysis.input_shape, device="meta")
            with torch.no_grad():
                y = outputs_of(gm(x), analysis)
            source = net.source()
            if run_source:
                generated = built_from_source(source, "meta")
                with torch.no_grad():
                    y_source = outputs_of(generated(x), analysis)
    except Failure:
        raise
    except BaseException as err:  # noqa: BLE001 - an accepted spec must compile (or be refused cleanly)
        raise Failure(f"{type(err).__name__} compiling the accepted spec\n{text!r}\n{err}") from err
    assert analysis.totals.params == sum(p.numel() for p in gm.parameters()), text
    assert {k: tuple(v.shape[1:]) for k, v in y.items()} == dict(analysis.outputs), text
    assert source.startswith('"""'), text
    if run_source:
        same_state(gm, generated, text)
        assert {k: v.shape for k, v in y_source.items()} == {k: v.shape for k, v in y.items()}, text


def refused_alike(net, err: ArchError, text: str) -> None:
    """compile() refused the analysed spec: the error renders like any other, and source() refuses it too."""
    check_rendering(err)
    try:
        net.source()
    except ArchError as again:
        assert str(again) == str(err), f"{text!r}\ncompile: {err}\nsource:  {again}"
    else:
        raise Failure(f"source() wrote what compile() refused ({err.message})\n{text!r}")


def check(text: str, run_source: bool = True, **kwargs):
    result = outcome(text, **kwargs)
    if not isinstance(result, ArchError) and result.totals.params < 10**9:
        agrees_on_meta(text, result, run_source, **kwargs)
    return result


@settings(max_examples=examples(MAIN_EXAMPLES), **FAST)
@given(seeds())
def test_generated_specs(seed):
    """Every construct of the language, with arguments that mostly make sense; the size estimate of
    each repeat, loop and block call never exceeds what its expansion built."""
    with pytest.MonkeyPatch.context() as mp:
        _Recorder(mp)
        check(SpecGen(seed).spec())


@settings(max_examples=examples(600), **FAST)
@given(seeds())
def test_generated_specs_with_junk(seed):
    """The same with stray characters, unicode, bad separators and nonsense values."""
    check(SpecGen(seed, wild=0.05, sane=0.5).spec())


@settings(max_examples=examples(1500), **FAST)
@given(seeds())
def test_hostile_names(seed):
    """Labels, groups, blocks, networks and outputs named like Python keywords, nn.Module attributes, builtins
    and the names generated source uses: an ArchError at load or compile (and then source() refuses alike),
    or a module whose generated source builds the same state_dict."""
    check(NameGen(seed).spec())


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(SPECS).with_suffix("")))
def test_mutated_library_specs(path):
    """Each library spec with tokens deleted, duplicated or swapped, numbers made 0, negative, huge or
    fractional, names changed, lines dropped or doubled, brackets lost, unicode put in."""

    @settings(max_examples=examples(10), **FAST)
    @given(seeds())
    def mutated(seed):
        text, network = mutate(path, seed)
        with_network = {"network": network} if network else {}
        outcome_of = outcome(text, seconds=2 * CASE_SECONDS, **with_network)  # no compile: large networks
        assert outcome_of is not None

    mutated()


PIECES = [
    "conv3-8",
    "conv",
    "relu",
    "maxpool",
    "pool2",
    "fc-10",
    "FC",
    "bn",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "x2",
    "x{n}",
    "*3",
    "-",
    "->",
    " - ",
    ",",
    "=",
    "k=3",
    "@a",
    "a:",
    "a",
    "n = 2",
    "\n",
    "concat {",
    "residual {",
    "} shortcut {",
    "identity",
    "block b(c) {",
    "b(4)",
    "input 3x16x16",
    "output a",
    "crop(@a)",
    "#c",
    "\\\n",
    "1.5",
    "-{n*2}",
    "/2",
    "soft-max",
    "import x",
    "network n {",
    '"s"',
    ";",
    "$",
    "if n {",
    "} else {",
    "for i in range(3) {",
    '"l{i}":',
    "x100000",
    "for i in (1, 2) {",
    "upto=@a",
]


@settings(max_examples=examples(300), **FAST)
@given(st.lists(st.sampled_from(PIECES), max_size=14).map(" ".join))
def test_token_soup(text):
    check(text, input="3x16x16")


@settings(max_examples=examples(200), **FAST)
@given(st.text(alphabet='[]{}()-x*@:=,.#/\\\n 0123456789abcfknoprsuvxCFOP"é×', max_size=40))
def test_character_soup(text):
    check(text, input="3x16x16")
