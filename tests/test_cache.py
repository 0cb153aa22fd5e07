"""The per-user cache (archdsl/cache.py): parsed library specs and the parser's tables.

A warm cache must give the same AST as parsing. It must never be read from a folder or an entry
others can use, through a symbolic link, or from the root, a top-level or the home folder; its
files are private whatever the umask; nothing in it can run code when loaded; and any damage to
it (a bad hash, a wrong type of value, a FIFO) is a miss, not an error or a hang.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import archdsl
from archdsl import cache
from archdsl.lang import library
from archdsl.lang.files import parse_spec, read_spec
from archdsl.lang.parse import _are_tables, parse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("ARCHDSL_CACHE_DIR", str(where))
    monkeypatch.delenv("ARCHDSL_NO_CACHE", raising=False)
    return where


def only_entry(folder: Path, prefix: str) -> Path:
    [entry] = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    return entry


def read_entry(entry: Path, local: str | None = None):
    """What an entry holds, read as the cache reads it (header, hash, restricted unpickler; a library AST's
    entry refers to its file's path, ``local``)."""
    fd = os.open(entry.parent, os.O_RDONLY)
    try:
        return cache.load(fd, entry.name, local)
    finally:
        os.close(fd)


def plant(entry: Path, value, *, payload: bytes | None = None) -> None:
    """Write an entry as the cache would (a sound header), holding ``value`` or raw ``payload``."""
    payload = pickle.dumps(value) if payload is None else payload
    entry.write_bytes(cache._header(entry.name, payload) + payload)
    os.chmod(entry, 0o600)


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
    code = (
        "import sys, io, contextlib\nfrom archdsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): assert main(['report', 'vgg16']) == 0\n"
        "print('lark' in sys.modules)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr for r in runs]
    assert any(p.name.startswith("lark-") for p in cache_dir.iterdir())  # the parser's tables, for other files


def test_a_damaged_entry_is_a_miss(cache_dir):
    text, file = library_file("resnet18")
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    entry.write_bytes(b"not a pickle")
    assert parse_spec(text, file) == good
    assert read_entry(entry, file) == good  # rewritten


def test_a_folder_others_can_use_is_never_read_or_written(cache_dir):
    text, file = library_file()
    parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    for mode in (0o777, 0o755, 0o750, 0o701):
        os.chmod(cache_dir, mode)
        try:
            assert cache.folder() is None and cache.entry("ast", file, text) is None
            plant(entry, "planted")
            assert parse_spec(text, file) != "planted"
            assert read_entry(entry) == "planted"  # not rewritten either
        finally:
            os.chmod(cache_dir, 0o700)
    # once the folder is private again it is read, but what an entry holds is checked: a word is no AST
    assert parse_spec(text, file) == parse(text, file)
    assert read_entry(entry, file) == parse(text, file)  # rewritten


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
    monkeypatch.setattr(cache, "code_version", lambda kind="ast": "another grammar")
    assert cache.entry("ast", "f.arch", "relu") != a


def test_a_contract_entry_depends_on_the_solver_and_the_ops():
    """Contracts were keyed by the parser's code only: one worked out by a solver since fixed was read again."""
    assert set(cache.SOURCES["contract"]) >= {"ir/symbolic/*.py", "ir/sizes.py", "ir/contract.py", "ops/*.py"}
    assert cache.code_version("contract") != cache.code_version("ast")


# ------------------------------------------------------------------ poisoning (issue 13, item 4)
def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def test_entries_are_private_whatever_the_umask(cache_dir):
    """The lark tables were written with plain open(): 0666 under umask 000, so anyone could plant code."""
    done = run_python(
        "import os\nos.umask(0)\nimport archdsl\narchdsl.load('vgg16').analyze()\n"
        "from archdsl.lang.parse import parse\nparse('relu')",
        {"ARCHDSL_CACHE_DIR": str(cache_dir)},
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in cache_dir.iterdir())
    assert any(n.startswith("lark-") for n in names) and any(n.startswith("ast-") for n in names), names
    assert not any(n.startswith(".tmp-") for n in names)
    assert oct(cache_dir.stat().st_mode & 0o777) == oct(0o700)
    assert {oct(p.stat().st_mode & 0o777) for p in cache_dir.iterdir()} == {oct(0o600)}


@pytest.mark.parametrize("mode", [0o666, 0o644, 0o620, 0o604])
def test_an_entry_others_can_use_is_never_read(cache_dir, mode):
    text, file = library_file()
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    os.chmod(entry, mode)
    calls = []
    original = cache._Unpickler.load
    try:
        cache._Unpickler.load = lambda self: calls.append(1) or original(self)
        assert parse_spec(text, file) == good
    finally:
        cache._Unpickler.load = original
    assert not calls  # refused on its mode, before anything was unpickled
    assert oct(entry.stat().st_mode & 0o777) == oct(0o600)  # replaced by a private one


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file away")
def test_an_entry_or_folder_another_user_owns_is_never_read(cache_dir):
    text, file = library_file()
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    plant(entry, "planted")
    os.chown(entry, 65534, 65534)
    assert read_entry(entry) is None and parse_spec(text, file) == good
    os.chown(cache_dir, 65534, 65534)
    try:
        assert cache.folder() is None
    finally:
        os.chown(cache_dir, 0, 0)


def test_the_hash_is_checked_before_unpickling_and_nothing_unpickled_can_run_code(cache_dir, tmp_path):
    text, file = library_file()
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    payload = pickle.dumps(Evil())
    entry.write_bytes(cache._header(entry.name, pickle.dumps("something else")) + payload)  # a hash that does not match
    calls = []
    original = cache._Unpickler.load
    try:
        cache._Unpickler.load = lambda self: calls.append(1) or original(self)
        assert parse_spec(text, file) == good
        assert not calls
        plant(entry, None, payload=payload)  # a sound header: the unpickler refuses os.mkdir
        assert read_entry(entry) is None and calls
    finally:
        cache._Unpickler.load = original
    assert parse_spec(text, file) == good
    assert not marker.exists()
    plant(entry, None, payload=payload)
    entry.rename(entry.with_name(cache.key("ast", "other.arch", "relu")))  # a sound entry under another name
    assert read_entry(entry.with_name(cache.key("ast", "other.arch", "relu"))) is None


def test_the_old_lark_cache_file_is_not_unpickled(cache_dir, tmp_path):
    """Lark's own cache format unpickled its file before checking the grammar's hash."""
    marker = tmp_path / "ran"
    evil = b"0" * 64 + b"\n" + pickle.dumps(_Evil(str(marker)))
    cache_dir.mkdir(mode=0o700)
    for name in (cache.key("lark", "tables"), cache.key("lark", "tables", __import__("lark").__version__)):
        (cache_dir / name).write_bytes(evil)
        os.chmod(cache_dir / name, 0o600)
    done = run_python(
        "from archdsl.lang.parse import parse\nprint(parse('relu').top.stmts[0])", {"ARCHDSL_CACHE_DIR": str(cache_dir)}
    )
    assert done.returncode == 0 and "relu" in done.stdout, done.stderr
    assert not marker.exists()


class _Evil:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize("folder", ["/", "/tmp", "//", "/tmp/..", "~"])
def test_the_root_a_top_level_folder_or_home_is_never_the_cache(monkeypatch, folder):
    monkeypatch.setenv("ARCHDSL_CACHE_DIR", os.path.expanduser(folder))
    monkeypatch.delenv("ARCHDSL_NO_CACHE", raising=False)
    assert cache.folder() is None
    assert cache.cached("ast", ("x",), lambda: "made") == "made"


def test_a_folder_that_is_a_symlink_is_never_used(tmp_path, monkeypatch):
    """A planted link made a root process write its pickles where the link pointed."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "cache"
    link.symlink_to(target)
    monkeypatch.setenv("ARCHDSL_CACHE_DIR", str(link))
    monkeypatch.delenv("ARCHDSL_NO_CACHE", raising=False)
    text, file = library_file()
    assert cache.folder() is None
    assert parse_spec(text, file) == parse(text, file)
    assert not any(target.iterdir())


def test_an_entry_that_is_a_symlink_is_neither_followed_nor_written_through(cache_dir, tmp_path):
    text, file = library_file()
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    victim = tmp_path / "victim"
    victim.write_bytes(entry.read_bytes())  # a sound entry, but reached through a link
    os.chmod(victim, 0o600)
    entry.unlink()
    entry.symlink_to(victim)
    before = victim.read_bytes()
    assert read_entry(entry) is None
    assert parse_spec(text, file) == good
    assert victim.read_bytes() == before  # the link was replaced, not written through
    assert not entry.is_symlink() and read_entry(entry, file) == good


def test_a_wrong_type_of_value_in_an_entry_is_a_miss(cache_dir):
    text, file = library_file()
    good = parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    for wrong in ({"top": None}, ["a", "list"], 42, parse("relu", "other.arch")):
        plant(entry, wrong)
        assert parse_spec(text, file) == good
    parse_relu = "from archdsl.lang.parse import parse\nprint(parse('relu').top.stmts[0])"
    assert run_python(parse_relu, {"ARCHDSL_CACHE_DIR": str(cache_dir)}).returncode == 0
    lark_entry = only_entry(cache_dir, "lark-")
    for wrong in ({"data": {}, "memo": {}}, {"data": 1}, "tables"):
        plant(lark_entry, wrong)
        done = run_python(parse_relu, {"ARCHDSL_CACHE_DIR": str(cache_dir)})
        assert done.returncode == 0 and "relu" in done.stdout and not done.stderr, done.stderr
        assert _are_tables(read_entry(lark_entry)) and read_entry(lark_entry) != wrong  # built and stored again


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_folder_in_place_of_an_entry_is_a_miss_not_a_hang(cache_dir):
    text, file = library_file()
    parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    entry.unlink()
    os.mkfifo(entry, 0o600)
    code = (
        "from archdsl.lang import library\nfrom archdsl.lang.files import parse_spec, read_spec\n"
        "p = library.lookup('vgg16').path\nprint(len(parse_spec(read_spec(p), str(p)).networks))"
    )
    done = run_python(code, {"ARCHDSL_CACHE_DIR": str(cache_dir)}, timeout=30)
    assert done.returncode == 0 and int(done.stdout) > 1, done.stderr
    entry.unlink()
    entry.mkdir(mode=0o700)
    done = run_python(code, {"ARCHDSL_CACHE_DIR": str(cache_dir)}, timeout=30)
    assert done.returncode == 0 and int(done.stdout) > 1, done.stderr


def test_a_library_ast_entry_refers_to_its_path_so_that_any_installation_reads_it(cache_dir):
    """The entry of a library spec is keyed by its place in the library and holds a reference where its path
    stands: read for a spec library elsewhere (a wheel's prebuilt entries, another checkout) it names that path."""
    text, file = library_file()
    parse_spec(text, file)
    entry = only_entry(cache_dir, "ast-")
    assert file.encode() not in entry.read_bytes()
    elsewhere = "/elsewhere/archdsl/specs/classic/vgg.arch"
    moved = read_entry(entry, elsewhere)
    assert moved.path == elsewhere and moved.top.stmts[0].span.file == elsewhere
    assert moved == parse(text, elsewhere)
    assert read_entry(entry) is None  # a read that gives no path is a miss
