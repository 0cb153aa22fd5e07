"""Hatch's build hook for the wheel: the cache entries every user would make on a first run, made once here and
shipped in ``archdsl/prebuilt/`` (archdsl/cache.py reads them where the user's cache has none).

They are the parser's LALR tables, the parsed library spec files (their entries keep a reference where the
file's path stands, filled in by the machine that reads them) and the input contract of every library network
at its declared size: on a cold cache ``archdsl report vgg16`` built the tables (~90 ms), imported lark and
parsed vgg.arch (~30 ms) and solved the contract with sympy (~280 ms) before printing anything (docs/design.md,
"Start-up"). Each entry's name hashes the code that makes it, so an entry is read only by the very code it was
built with.

Built by running this checkout's archdsl in the build's Python with a fresh cache folder; where that fails (a
build environment without lark or sympy) the wheel is built without them and says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MAKE = """
import archdsl
from archdsl.lang import library
from archdsl.lang.parse import _parser

_parser()
for name in library.entries():
    archdsl.load(name).input_contract()
"""
SHIPPED = ("lark-", "ast-", "contract-")


class PrebuiltHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        self._folder = Path(tempfile.mkdtemp(prefix="archdsl-prebuilt-"))
        cache, shipped = self._folder / "cache", self._folder / "prebuilt"
        env = {**os.environ, "ARCHDSL_CACHE_DIR": str(cache), "PYTHONPATH": self.root, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("ARCHDSL_NO_CACHE", None)
        done = subprocess.run([sys.executable, "-c", MAKE], cwd=self.root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["?"])[-1]
            self.app.display_warning(f"archdsl: no prebuilt cache entries in the wheel ({why})")
            return
        shipped.mkdir()
        for entry in cache.iterdir():
            if entry.name.startswith(SHIPPED):
                shutil.copyfile(entry, shipped / entry.name)
        build_data["force_include"][str(shipped)] = "archdsl/prebuilt"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
