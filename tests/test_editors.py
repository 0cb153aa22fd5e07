"""editors/: the VS Code extension's files are valid and point at each other, and every pattern of the
TextMate grammar compiles (Python's re reads the subset of Oniguruma they use)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["match"]] if "match" in node else []
        return found + [p for value in node.values() for p in patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in patterns(value)]
    return []


def test_the_extension_declares_the_grammar_it_ships():
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".arch"] and grammar["language"] == language["id"] == "arch"
    syntax = json.loads((ROOT / grammar["path"]).read_text(encoding="utf-8"))
    assert syntax["scopeName"] == grammar["scopeName"] == "source.arch"
    json.loads((ROOT / language["configuration"]).read_text(encoding="utf-8"))


def test_every_pattern_compiles_and_every_include_exists():
    syntax = json.loads((ROOT / "syntaxes" / "arch.tmLanguage.json").read_text(encoding="utf-8"))
    found = patterns(syntax)
    assert len(found) >= 15
    for pattern in found:
        re.compile(pattern)
    includes = {p["include"].lstrip("#") for p in syntax["patterns"]}
    assert includes == set(syntax["repository"])
    label = re.compile(syntax["repository"]["label"]["patterns"][0]["match"])
    assert label.match('"block1-0": conv3-8') and label.match("conv1: conv3-8") and not label.match("x = 3")
