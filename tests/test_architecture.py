"""The layout rules of the code, checked on its source (an AST walk; nothing is imported):

- data flows one way: ingest/ never imports bot/ (the writer knows nothing of its readers);
- only bot/discord imports discord;
- only the store modules talk to the databases (import chromadb or sqlite3);
- nothing reads settings or loads a model at import time (settings are built lazily);
- modules of bot/ and ingest/ stay under MAX_MODULE_LINES lines, functions under
  MAX_FUNCTION_LINES, except the files listed in SIZE_ALLOWED (each with why; shrink the list).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "ingest", "eval")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# Modules that may import chromadb / sqlite3: the corpus store (the package ingest/store/), the
# lease on the embedded store, and the Discord side's own stores in its file discord.sqlite3:
# sent answers and feedback (bot/discord/store.py), digest schedules and claims, watches and
# their deliveries (bot/discord/subscription_store.py: the subscription tables and their
# claim-first rule, apart from the service that schedules them, bot/discord/subscriptions.py).
# And eval/model_catalogue.py, which reads the models.dev bundle's own SQLite file (not a
# newsbot database) to derive ingest/modelnames/catalogue.json.
STORE_MODULES = re.compile(
    r"ingest/store/\w+\.py|ingest/lease\.py|bot/discord/(?:subscription_)?store\.py"
    r"|eval/model_catalogue\.py"
)

# Over a size limit today; each is being split by another branch of issue 10 (or by the
# answer-quality issue). Remove an entry once its file fits: the test then holds it to it.
SIZE_ALLOWED = {}

# An import inside a function says why on its line: start-up time, an optional dependency, or
# an import cycle it breaks. Nothing is exempt.
LAZY_REASON = re.compile(r"#\s*lazy: .*(start-up|optional|import cycle)")

# Calls that read settings or load a model: never at import time.
SETTINGS_CALL = re.compile(r"(?:get|load)_\w*settings|\w*Settings")
MODEL_CALLS = frozenset(
    {"Embedder", "SentenceTransformer", "CrossEncoder", "Llama", "from_pretrained", "load_model"}
)


def _modules(*packages: str) -> list[str]:
    return sorted(
        p.relative_to(REPO).as_posix() for pkg in packages for p in (REPO / pkg).rglob("*.py")
    )


@cache
def _tree(rel: str) -> ast.Module:
    return ast.parse((REPO / rel).read_text(encoding="utf-8"), filename=rel)


def _imports(rel: str) -> Iterator[tuple[int, str]]:
    return _imports_in(_tree(rel), rel.rsplit("/", 1)[0].replace("/", "."))


def _imports_in(tree: ast.Module, package: str) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every import anywhere in the tree, lazy ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name.split(".")[0]


def _lazy_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports inside a function body (TYPE_CHECKING blocks and module-level imports are not)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    yield sub


def _unexplained_lazy_imports(rel: str, source: str) -> list[str]:
    lines = source.splitlines()
    return [
        f"{rel}:{node.lineno}: {lines[node.lineno - 1].strip()}"
        for node in _lazy_imports(ast.parse(source))
        if not any(LAZY_REASON.search(lines[n - 1])
                   for n in range(node.lineno, (node.end_lineno or node.lineno) + 1))
    ]  # fmt: skip


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _import_time_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls run when the module is imported: everything outside function bodies (module and
    class bodies, decorators, default values), not inside a def or a lambda."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            todo.extend(node.decorator_list)
            todo.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def _functions(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function and method."""
    todo: list[tuple[str, ast.AST]] = [("", tree)]
    while todo:
        prefix, node = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    yield name, child.lineno, (child.end_lineno or start) - start + 1
                todo.append((name + ".", child))


# ------------------------------------------------------------------ import direction


def test_ingest_never_imports_bot() -> None:
    bad = [f"{rel}:{line}" for rel in _modules("ingest") for line, top in _imports(rel)
           if top == "bot"]  # fmt: skip
    assert not bad, f"ingest/ must not import bot/ (data flows one way): {bad}"


def test_only_bot_discord_imports_discord() -> None:
    bad = [
        f"{rel}:{line}"
        for rel in _modules(*PACKAGES)
        if not rel.startswith("bot/discord/")
        for line, top in _imports(rel)
        if top == "discord"
    ]
    assert not bad, f"only bot/discord may import discord: {bad}"


def test_only_store_modules_import_the_databases() -> None:
    bad = [
        f"{rel}:{line} imports {top}"
        for rel in _modules(*PACKAGES)
        if not STORE_MODULES.fullmatch(rel)
        for line, top in _imports(rel)
        if top in ("chromadb", "sqlite3")
    ]
    assert not bad, f"only the store modules may import chromadb/sqlite3: {bad}"


def test_nothing_reads_settings_or_loads_a_model_at_import_time() -> None:
    bad = [
        f"{rel}:{call.lineno} {_call_name(call)}()"
        for rel in _modules(*PACKAGES)
        for call in _import_time_calls(_tree(rel))
        if SETTINGS_CALL.fullmatch(_call_name(call)) or _call_name(call) in MODEL_CALLS
    ]
    assert not bad, f"settings are read and models loaded lazily, never on import: {bad}"


def test_imports_are_at_the_top_unless_they_say_why() -> None:
    """An import inside a function hides a dependency: it is at the top of its module unless
    it waits for start-up time, an optional dependency or an import cycle, and says so."""
    bad = [
        problem
        for rel in _modules(*PACKAGES)
        for problem in _unexplained_lazy_imports(rel, (REPO / rel).read_text(encoding="utf-8"))
    ]
    assert not bad, f"move these imports to the top of their module, or say why: {bad}"


# ------------------------------------------------------------------ tests
TOP_LEVEL_TESTS = ["test_architecture.py", "test_fakediscord.py", "test_packaging.py"]


def test_tests_are_laid_out_like_the_code() -> None:
    """A module's tests are found from its path: each folder of tests/ with test files is a
    package of the code (tests/bot/discord/ for bot/discord/), with no __init__.py of its own
    (it would shadow that package); only repo-wide checks and the fake Discord's own tests sit
    at the top."""
    tests = REPO / "tests"
    folders = {p.parent.relative_to(tests) for p in tests.rglob("test_*.py")} - {Path(".")}
    not_code = sorted(str(f) for f in folders if not (REPO / f / "__init__.py").is_file())
    assert not not_code, f"test folders that are no package of the code: {not_code}"
    shadowing = sorted(str(f) for f in folders if (tests / f / "__init__.py").exists())
    assert not shadowing, f"test folders must not be packages: {shadowing}"
    assert sorted(p.name for p in tests.glob("test_*.py")) == TOP_LEVEL_TESTS


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize("rel", _modules("bot", "ingest"))
def test_module_and_function_sizes(rel: str) -> None:
    if rel in SIZE_ALLOWED:
        pytest.skip(f"allowed for now: {SIZE_ALLOWED[rel]}")
    lines = len((REPO / rel).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{rel}: {lines} lines (max {MAX_MODULE_LINES})"
    long = [f"{name} ({n} lines, line {line})" for name, line, n in _functions(_tree(rel))
            if n > MAX_FUNCTION_LINES]  # fmt: skip
    assert not long, f"{rel}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_size_allow_list_holds_only_files_over_a_limit() -> None:
    """An entry whose file was split (or fits now) must go, so the list only ever shrinks."""
    stale = []
    for rel in SIZE_ALLOWED:
        if not (REPO / rel).is_file():
            stale.append(f"{rel} (gone)")
            continue
        lines = len((REPO / rel).read_text(encoding="utf-8").splitlines())
        longest = max((n for _, _, n in _functions(_tree(rel))), default=0)
        if lines <= MAX_MODULE_LINES and longest <= MAX_FUNCTION_LINES:
            stale.append(f"{rel} (fits: {lines} lines, longest function {longest})")
    assert not stale, f"remove from SIZE_ALLOWED: {stale}"


# ------------------------------------------------------------------ the checks can fail


def test_the_checks_find_what_they_look_for() -> None:
    """Each rule on a small source that breaks it (so a rule cannot pass by finding nothing)."""
    src = """
import sqlite3
from bot.answer import text
from . import sibling
SETTINGS = get_settings()
class C:
    model = SentenceTransformer("x")
    def method(self, s=load_settings()):
        return Embedder()  # at call time: allowed
def f():
    import discord
    return get_settings()
"""
    tree = ast.parse(src)
    imports = sorted(_imports_in(tree, "bot.answer"))
    assert imports == [(2, "sqlite3"), (3, "bot"), (4, "bot"), (11, "discord")]
    calls = sorted(_call_name(c) for c in _import_time_calls(tree))
    assert calls == ["SentenceTransformer", "get_settings", "load_settings"]
    assert [(n, length) for n, _, length in _functions(tree)] == [("f", 3), ("C.method", 2)]
    assert STORE_MODULES.fullmatch("ingest/store/vectors.py")
    assert not STORE_MODULES.fullmatch("ingest/storehouse.py")
    assert STORE_MODULES.fullmatch("bot/discord/subscription_store.py")
    assert not STORE_MODULES.fullmatch("bot/discord/subscriptions.py")
    lazy = "def g():\n    import numpy\n    import torch  # lazy: start-up time\n"
    assert _unexplained_lazy_imports("m.py", lazy) == ["m.py:2: import numpy"]
    assert SETTINGS_CALL.fullmatch("get_bot_settings") and SETTINGS_CALL.fullmatch("Settings")
    assert not SETTINGS_CALL.fullmatch("SettingsConfigDict")


# ------------------------------------------------------------------ the test session


def test_the_session_runs_without_the_developers_configuration() -> None:
    """conftest.py: no `.env` in the working directory (Settings would read it), which is not
    the checkout, and no NEWSBOT_*/DISCORD_* variable of the developer's shell."""
    cwd = Path.cwd()
    assert cwd != REPO and REPO not in cwd.parents
    assert not (cwd / ".env").exists()
    leaked = [
        n
        for n in os.environ
        if n.startswith(("NEWSBOT_", "DISCORD_")) and not n.startswith("NEWSBOT_TEST_")
    ]
    assert not leaked
