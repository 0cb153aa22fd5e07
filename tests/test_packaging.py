"""An installed wheel carries grammar/ and specs/, so archdsl works from any folder, and the cache entries a first
run would make (archdsl/prebuilt/, hatch_build.py), so that a cold cache is as fast as a warm one."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_finds_grammar_and_library(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("archdsl-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys, archdsl, archdsl.resources as p\n"
        f"assert archdsl.__file__.startswith({str(target)!r})\n"
        f"assert str(p.grammar_path()).startswith({str(target)!r})\n"
        "net = archdsl.load('vgg16')\n"
        "print(net.analyze().totals.params, net.input_contract().describe())\n"
        "print(sorted(m for m in ('lark', 'sympy') if m in sys.modules))"
    )
    cache = tmp_path / "cache"  # a cold cache: what the wheel ships serves the library network
    env = {**os.environ, "PYTHONPATH": str(target), "ARCHDSL_CACHE_DIR": str(cache)}
    env.pop("ARCHDSL_NO_CACHE", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert out.strip().splitlines() == ["138357544 3xHxW with H >= 32, W >= 32", "[]"]
    shipped = {p.name.split("-")[0] for p in (target / "archdsl" / "prebuilt").iterdir()}
    assert shipped == {"lark", "ast", "contract"}  # hatch_build.py: the entries a first run would make
    assert not cache.exists() or not any(cache.iterdir())  # nothing was made, so nothing stored
