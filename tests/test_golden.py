"""Golden files: what archdsl writes for every library network, compared byte for byte.

For each network of the spec library, ``tests/golden/<name>.*`` holds its report as JSON
(``archdsl report --format json``), its diagram as DOT and as TikZ (``archdsl render -o x.dot`` /
``x.tex``) and its generated PyTorch source (``archdsl compile``). A change to any of them fails here
with a diff; a change made on purpose is written back with

    .venv/bin/python tests/test_golden.py            # every network
    .venv/bin/python tests/test_golden.py vgg16 unet # some

and the diff of tests/golden/ is then reviewed with the change. Library spec paths are written
relative to the library's folder (``classic/lenet5.arch:24:1``), so the files do not depend on
where the project lies.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

import archdsl
from archdsl.lang import library
from archdsl.views import diagram as draw
from archdsl.views import dot, report
from archdsl.views.tikz import to_tikz

GOLDEN = Path(__file__).resolve().parent / "golden"
NAMES = sorted(library.entries())


def outputs(name: str) -> dict[str, str]:
    """The four texts archdsl writes for a library network, by file suffix."""
    net = archdsl.load(name)
    d = draw.diagram(net)
    root = str(library.spec_root()) + "/"
    return {
        "json": report.to_json(net.analyze()).replace(root, ""),
        "dot": dot.to_dot(d),
        "tex": to_tikz(d),
        "py": net.source(),
    }


def _diff(old: str, new: str, path: Path, most: int = 40) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"{path.name} (golden)", "now", lineterm=""))
    return "\n".join(lines[:most] + ([f"... {len(lines) - most} more lines"] if len(lines) > most else []))


@pytest.mark.parametrize("name", NAMES)
def test_output_is_golden(name: str):
    for suffix, text in outputs(name).items():
        path = GOLDEN / f"{name}.{suffix}"
        assert path.exists(), f"{path.name} is missing: run .venv/bin/python tests/test_golden.py {name}"
        golden = path.read_text(encoding="utf-8")
        assert text == golden, (
            f"{path.name} changed (on purpose? .venv/bin/python tests/test_golden.py {name}):\n"
            + _diff(golden, text, path)
        )


def test_no_golden_file_without_its_network():
    stale = sorted(p.name for p in GOLDEN.iterdir() if p.name.rsplit(".", 1)[0] not in NAMES)
    assert not stale, f"golden files of networks no longer in the library: {stale}"


def update(names: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in names:
        for suffix, text in outputs(name).items():
            (GOLDEN / f"{name}.{suffix}").write_text(text, encoding="utf-8")
        print(f"wrote tests/golden/{name}.*")


if __name__ == "__main__":
    update(sys.argv[1:] or NAMES)
