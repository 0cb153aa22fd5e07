"""archdsl/ops/schema.py: an op's arguments are checked without pydantic where they are plainly valid, and the
check accepts only what pydantic accepts, making the same values of it; pydantic words every refusal."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

import archdsl
from archdsl.ops import REGISTRY, schema
from archdsl.ops.base import OpProblem

# values a spec can give an argument: the language's numbers, words, booleans and tuples, and a few it cannot
VALUES = [
    0, 1, 2, 3, -1, 7, 2**40, 0.0, 0.5, 1.0, 2.0, -0.5, 1e-3, True, False, None, "same", "valid", "none", "relu",
    "channels", "last", "nearest", "bilinear", "tanh", "conv", "conv_bn", "x", "3", (), (1,), (2, 2), (1, 2),
    (0, 3), (3, 0), (-1, 1), (1, 2, 3, 4), (0, 0, 1, 1), (1.0, 2.0), (0.5, 1, 2), (1, (2, 3)), [2, 2], [1], ("a", 1),
]  # fmt: skip


def _schemas() -> list[type[schema.Params]]:
    return sorted({cls.Params for cls in REGISTRY.values()}, key=lambda p: p.__name__)


def _pydantic(params: type[schema.Params], values: dict) -> dict | None:
    try:
        return dict(schema.pydantic_model(params)(**values))
    except ValidationError:
        return None


def _same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 here)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _cases(params: type[schema.Params]):
    """Every field alone at every value, the others at their defaults (a required one at a valid value); and
    pairs of fields (the rules between them: groups must divide out, padding at most half the kernel)."""
    fields = params.model_fields
    required = {k: _valid(params, k) for k, f in fields.items() if f.is_required()}
    for key in fields:
        for v in VALUES:
            yield {**required, key: v}
    for a, b in itertools.combinations(list(fields)[:4], 2):
        for va, vb in itertools.product([1, 2, 3, (2, 2), 0.5, None, "same"], repeat=2):
            yield {**required, a: va, b: vb}
    yield {**required, "not_a_field": 1}
    if required:
        yield {}


def _valid(params: type[schema.Params], key: str):
    for v in VALUES:
        if _pydantic(params, {**{k: 1 for k, f in params.model_fields.items() if f.is_required()}, key: v}):
            return v
    for v in ("x", (1, 1), 8):
        return v


@pytest.mark.parametrize("params", _schemas(), ids=lambda p: p.__name__)
def test_the_check_accepts_only_what_pydantic_accepts_and_makes_the_same_values(params):
    accepted = 0
    for values in _cases(params):
        mine = schema._checked(params, values)
        theirs = _pydantic(params, values)
        if mine is None:
            continue  # not plain: pydantic decides (it made `theirs`, or the error)
        accepted += 1
        assert theirs is not None, f"{params.__name__}{values}: accepted here, refused by pydantic"
        got = mine.model_dump()
        assert list(got) == list(theirs) and all(_same(got[k], theirs[k]) for k in got), (values, got, theirs)
    assert accepted or not params.model_fields or all(f.is_required() for f in params.model_fields.values())


def test_what_the_check_is_not_sure_of_goes_to_pydantic_with_the_same_result():
    """A list for a pair, 3.0 for an int: pydantic's lax reading, through the model built from the declaration."""
    conv = REGISTRY["conv"].make({"out": 8, "k": [1, 3], "s": 2.0})
    assert conv.p.k == (1, 3) and conv.p.s == 2 and type(conv.p.s) is int
    assert conv.p == REGISTRY["conv"].make({"out": 8, "k": (1, 3), "s": 2}).p


def test_refusals_are_pydantics_worded_by_archdsl():
    with pytest.raises(OpProblem, match=r"conv: out channels 64 are not divisible by groups=3"):
        REGISTRY["conv"].make({"out": 64, "groups": 3})
    with pytest.raises(OpProblem, match=r"conv: bad value 'x' for 'k': expected an integer or a pair"):
        REGISTRY["conv"].make({"out": 64, "k": "x"})
    with pytest.raises(OpProblem, match=r"conv takes no argument 'kernal'"):
        REGISTRY["conv"].make({"out": 64, "kernal": 3})


def test_instances_are_immutable_shared_and_survive_copies_and_pickles():
    import copy
    import pickle

    a = REGISTRY["conv"].make({"out": 8}).p
    b = REGISTRY["conv"].make({"out": 8}).p
    assert a is b and a.p == 1  # the same arguments, the same instance; the padding settled by its validator
    assert copy.deepcopy(a) is a and pickle.loads(pickle.dumps(a)) == a
    one = REGISTRY["conv"].make({"out": 8, "bias": 1}).p  # 1 is not the same argument as True: checked anew
    assert one is not a and one == a and one.bias is True
    with pytest.raises(TypeError, match="immutable"):
        a.out = 9
    assert repr(a).startswith("ConvParams(out=8, k=3, s=1, p=1")


def test_check_and_report_import_neither_pydantic_nor_rich(tmp_path):
    """From a warm cache (the second run), as a user's second command: no pydantic, rich, lark, sympy, torch."""
    code = (
        "import sys\nfrom archdsl.cli import main\n"
        "assert main(['check', 'vgg16']) == 0 and main(['report', 'resnet50']) == 0\n"
        "assert main(['report', 'vgg16', '--format', 'csv']) == 0\n"
        "print(sorted(m for m in ('pydantic', 'rich', 'lark', 'sympy', 'torch') if m in sys.modules))"
    )
    env = {**os.environ, "ARCHDSL_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    env.pop("ARCHDSL_NO_CACHE", None)
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.strip().splitlines()[-1] == "[]"
    assert archdsl.load("vgg16").analyze().totals.params == 138_357_544
