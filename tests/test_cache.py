"""The per-user cache (archdsl/cache.py): parsed library specs and the parser's tables.

A warm cache must give the same AST as parsing, must never be read from a folder others can
write (a pickle runs code when loaded), and any damage to it is a miss, not an error.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import archdsl
from archdsl import cache, library
from archdsl.files import parse_spec, read_spec
from archdsl.parse import parse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("ARCHDSL_CACHE_DIR", str(where))
    monkeypatch.delenv("ARCHDSL_NO_CACHE", raising=False)
    return where


def library_file(name: str = "vgg16") -> tuple[str, str]:
    path = library.lookup(name).path
    return read_spec(path), str(path)


def test_a_library_spec_is_parsed_once(cache_dir):
    text, file = library_file()
    first = parse_spec(text, file)
    entries = sorted(p.name for p in cache_dir.iterdir())
    assert any(n.startswith("ast-") for n in entries)
    assert oct(cache_dir.stat().st_mode & 0o777) == oct(0o700)
    assert parse_spec(text, file) == first == parse(text, file)
    # what comes back is the cached object, spans and all: errors point at the same places
    again = parse_spec(text, file)
    assert [s.span for s in again.top.stmts] == [s.span for s in first.top.stmts]


def test_user_files_and_inline_text_are_not_cached(cache_dir, tmp_path):
    spec = tmp_path / "mine.arch"
    spec.write_text("input 3x8x8\nconv3-8 - relu\n")
    archdsl.load(str(spec)).analyze()
    archdsl.load("conv3-4 - relu", input="3x8x8").analyze()
    assert not cache_dir.exists() or not any(p.name.startswith("ast-") for p in cache_dir.iterdir())


def test_a_warm_report_does_not_import_the_parser(cache_dir):
    env = dict(os.environ, ARCHDSL_CACHE_DIR=str(cache_dir))
    code = ("import sys, io, contextlib\nfrom archdsl.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): assert main(['report', 'vgg16']) == 0\n"
            "print('lark' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr for r in runs]
    assert any(p.name.startswith("lark-") for p in cache_dir.iterdir())  # the parser's tables, for other files


def test_a_damaged_entry_is_a_miss(cache_dir):
    text, file = library_file("resnet18")
    good = parse_spec(text, file)
    [entry] = [p for p in cache_dir.iterdir() if p.name.startswith("ast-")]
    entry.write_bytes(b"not a pickle")
    assert parse_spec(text, file) == good
    assert pickle.loads(entry.read_bytes()) == good  # rewritten


def test_a_folder_others_can_write_is_never_read(cache_dir):
    text, file = library_file()
    parse_spec(text, file)
    [entry] = [p for p in cache_dir.iterdir() if p.name.startswith("ast-")]
    os.chmod(cache_dir, 0o777)
    try:
        assert cache.folder() is None and cache.entry("ast", file, text) is None
        entry.write_bytes(pickle.dumps("planted"))
        assert parse_spec(text, file) != "planted"
    finally:
        os.chmod(cache_dir, 0o700)
    assert parse_spec(text, file) == "planted"  # once the folder is private again it is trusted


def test_the_cache_can_be_turned_off_or_be_unwritable(cache_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHDSL_NO_CACHE", "1")
    text, file = library_file()
    assert parse_spec(text, file) == parse(text, file)
    assert not cache_dir.exists()
    monkeypatch.delenv("ARCHDSL_NO_CACHE")
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ARCHDSL_CACHE_DIR", str(blocker / "cache"))  # cannot be made
    assert cache.folder() is None
    assert archdsl.load("vgg16").analyze().totals.params == 138_357_544


def test_entries_depend_on_the_text_and_the_code(cache_dir, monkeypatch):
    a = cache.entry("ast", "f.arch", "relu")
    assert a != cache.entry("ast", "f.arch", "relu ") != cache.entry("ast", "g.arch", "relu")
    monkeypatch.setattr(cache, "code_version", lambda: "another grammar")
    assert cache.entry("ast", "f.arch", "relu") != a
