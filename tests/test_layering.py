"""The house rules that keep archdsl easy to find one's way in, checked on the source (``ast``).

- Ops own everything about themselves: no module outside ``archdsl/ops/`` compares an op with an op's
  name (``layer.op == "conv"``, ``op.name in ("add", "residual")``) or keeps a set of op names; it asks
  the op (``layer.kind.pointwise``, ``Op.title``). Adding an op then touches its own file.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from archdsl.ops import REGISTRY

ROOT = Path(__file__).resolve().parent.parent / "archdsl"
OP_NAMES = frozenset(REGISTRY)


def _strings(node: ast.AST) -> list[str]:
    """The string constants of a comparison's operand: a string, or a tuple / list / set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def _is_op(node: ast.AST) -> bool:
    """An expression that holds an op's name: ``x.op``, ``x.name``, ``op`` (not ``name``, ``kind``: node names,
    box kinds and body kinds share words with ops)."""
    return isinstance(node, ast.Attribute) and node.attr in ("op", "name") or isinstance(node, ast.Name) and \
        node.id == "op"


def op_name_uses(source: str) -> list[tuple[int, str]]:
    """(line, op name) for every comparison of an op with an op's name, and (line, names) for every literal
    collection of op names alone (two or more) elsewhere."""
    tree = ast.parse(source)
    found, compared = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(_is_op(x) for x in (node.left, *node.comparators)):
            for operand in (node.left, *node.comparators):
                compared.add(id(operand))
                found += [(node.lineno, s) for s in _strings(operand) if s in OP_NAMES]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Set, ast.Tuple, ast.List)) and id(node) not in compared:
            names = _strings(node)
            if len(names) >= 2 and len(names) == len(node.elts) and all(n in OP_NAMES for n in names):
                found.append((node.lineno, ", ".join(names)))
    return sorted(found)


def modules_outside_ops() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py")) if "ops" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("path", modules_outside_ops(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_ops_switches_on_op_names(path: Path):
    uses = op_name_uses(path.read_text(encoding="utf-8"))
    assert not uses, "\n".join(f"{path.name}:{line}: compares with op name(s) {name}: ask the op instead"
                               for line, name in uses)


@pytest.mark.parametrize("source,caught", [
    ('if layer.op == "conv":\n    pass\n', [(1, "conv")]),
    ('if op.name in ("add", "residual"):\n    pass\n', [(1, "add"), (1, "residual")]),
    ('FOLDABLE = frozenset({"bn", "relu", "tanh"})\n', [(1, "bn, relu, tanh")]),
    ('if box.kind == "block" or node.name == "input":\n    pass\n', [(1, "input")]),
    ('if kind == "residual" or name == "input" or layer.saves == "input":\n    pass\n', []),
    ('ROW = ("name", "input", "takes")\nif x.op == "block":\n    pass\n', []),
], ids=["equal", "in-tuple", "name-set", "input", "other-words", "not-ops"])
def test_the_rule_catches_what_it_should(source: str, caught: list):
    assert op_name_uses(source) == caught
