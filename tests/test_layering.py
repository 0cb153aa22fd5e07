"""The house rules that keep archdsl easy to find one's way in, checked on the source (``ast``).

- Imports point one way, down the stages (docs/design.md): a module imports only its own package and the
  units ranked below its own in ``RANKS``, imports inside functions included. ``archdsl.ir`` never
  imports the language, torch's backend, a view or the command line; nothing but ``archdsl/__init__``
  imports the CLI.
- Public functions and methods (and every op method) say the types they take and give. Two exceptions:
  ``backend/layers.py``, whose classes' source is copied into every generated model as it stands (the
  golden sources pin it), and ``lang/to_ast.py``, lark's callbacks (``meta``, children), one per grammar
  rule, which nobody calls by hand.
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
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("op", "name")
        or isinstance(node, ast.Name)
        and node.id == "op"
    )


def op_name_uses(source: str) -> list[tuple[int, str]]:
    """(line, op name) for every comparison of an op with an op's name, and (line, names) for every literal
    collection of op names alone (two or more) elsewhere but in ``__all__``."""
    tree = ast.parse(source)
    found, compared = [], set()
    for node in ast.walk(tree):  # a module's __all__ names its functions, which may share an op's name (roi_pool)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            compared.add(id(node.value))
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


# each unit's rank: a module may import a unit of lower rank, or its own unit; never one of its rank or above
RANKS = {
    "errors": 0,
    "limits": 0,
    "resources": 0,  # what every stage uses: errors, limits, where the data lies
    "output": 1,
    "cache": 1,  # writing files safely; the per-user cache
    "ops": 2,  # every op, defined once
    "ir": 3,  # the graph and its analysis (no torch)
    "lang": 4,  # text → graph
    "backend": 5,
    "views": 5,  # graph → torch; analysis → tables and diagrams (neither imports the other)
    "pipeline": 6,
    "detect": 6,  # the one module naming every stage; archdsl.detect, backend.detect's public name
    "lsp": 7,  # the language server (archdsl lsp): editors' view of the stages; only the CLI imports it
    "cli": 8,  # the command line
    "__init__": 9,  # ``import archdsl``: load, Net, ... on first use
}


def unit(module: str) -> str:
    """``archdsl.ir.symbolic.walk`` → ``ir``; ``archdsl`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every archdsl module ``source`` imports, at the top or inside a function."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "archdsl"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "archdsl":
                if node.module is None or target == "archdsl":  # from . import x: x may be a module
                    found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, target))
    return found


def wrong_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import against the direction."""
    own = unit(module)
    return [
        (line, target)
        for line, target in imported(source, module, is_package)
        if unit(target) != own and RANKS.get(unit(target), 0) >= RANKS[own]
    ]


def every_module() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", every_module(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_stages(path: Path):
    module = module_name(path)
    assert unit(module) in RANKS, f"{module}: a unit the layering does not know; give it a rank in RANKS"
    wrong = wrong_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    assert not wrong, "\n".join(
        f"{path.relative_to(ROOT)}:{line}: imports {target}, which is not below "
        f"{unit(module)} (tests/test_layering.py RANKS)"
        for line, target in wrong
    )


@pytest.mark.parametrize(
    "source,module,caught",
    [
        ("def f():\n    from ..cli import main\n", "archdsl.ir.analysis", [(2, "archdsl.cli")]),
        ("from ..views.html import html_table\n", "archdsl.ir.analysis", [(1, "archdsl.views.html")]),
        ("from ..backend import compile\n", "archdsl.views.dot", [(1, "archdsl.backend")]),
        ("import archdsl.pipeline\n", "archdsl.lang.files", [(1, "archdsl.pipeline")]),
        ("from .. import pipeline, errors\n", "archdsl.backend.export", [(1, "archdsl.pipeline")]),
        (
            "from ..ir.graph import Graph\nfrom .ast import Node\nfrom ..errors import ArchError\n",
            "archdsl.lang.elaborate",
            [],
        ),
        ("from ..pipeline import load\n", "archdsl.cli.common", []),
    ],
    ids=["cli-in-a-function", "ir-imports-a-view", "sibling-stages", "absolute", "from-dot", "allowed", "cli-down"],
)
def test_the_import_rule_catches_what_it_should(source: str, module: str, caught: list):
    assert wrong_imports(source, module) == caught


def modules_outside_ops() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py")) if "ops" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("path", modules_outside_ops(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_ops_switches_on_op_names(path: Path):
    uses = op_name_uses(path.read_text(encoding="utf-8"))
    assert not uses, "\n".join(
        f"{path.name}:{line}: compares with op name(s) {name}: ask the op instead" for line, name in uses
    )


@pytest.mark.parametrize(
    "source,caught",
    [
        ('if layer.op == "conv":\n    pass\n', [(1, "conv")]),
        ('if op.name in ("add", "residual"):\n    pass\n', [(1, "add"), (1, "residual")]),
        ('FOLDABLE = frozenset({"bn", "relu", "tanh"})\n', [(1, "bn, relu, tanh")]),
        ('if box.kind == "block" or node.name == "input":\n    pass\n', [(1, "input")]),
        ('if kind == "residual" or name == "input" or layer.saves == "input":\n    pass\n', []),
        ('ROW = ("name", "input", "takes")\nif x.op == "block":\n    pass\n', []),
    ],
    ids=["equal", "in-tuple", "name-set", "input", "other-words", "not-ops"],
)
def test_the_rule_catches_what_it_should(source: str, caught: list):
    assert op_name_uses(source) == caught


UNTYPED = {"backend/layers.py", "lang/to_ast.py"}  # the module docstring says why


def untyped_public(source: str) -> list[str]:
    """The public functions and methods (not ``_x``, not in a ``_X`` class) missing a parameter's or the
    return's annotation."""
    out = []

    def visit(body: list, private: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, private or node.name.startswith("_"))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not private:
                if node.name.startswith("_"):
                    continue
                a = node.args
                params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
                params += [p for p in (a.vararg, a.kwarg) if p is not None]
                if node.returns is None or any(p.annotation is None for p in params):
                    out.append(f"{node.lineno}: {node.name}")

    visit(ast.parse(source).body, False)
    return out


@pytest.mark.parametrize(
    "path",
    [p for p in every_module() if str(p.relative_to(ROOT)) not in UNTYPED],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_public_functions_have_type_hints(path: Path):
    missing = untyped_public(path.read_text(encoding="utf-8"))
    assert not missing, f"{path.relative_to(ROOT)}: annotate " + ", ".join(missing)


def test_the_type_hint_rule_catches_what_it_should():
    source = (
        "def a(x: int) -> int: ...\ndef b(x): ...\ndef c(x: int): ...\ndef _d(x): ...\n"
        "class E:\n    def f(self, *xs: int) -> None: ...\n    def g(self, **kw) -> None: ...\n"
        "class _F:\n    def h(self, x): ...\n"
    )
    assert untyped_public(source) == ["2: b", "3: c", "7: g"]
