"""collab.ot must stay pure: no Django, no asyncio, no I/O, nothing outside the stdlib.

``find_impurities`` is reusable for other pure code, e.g.::

    find_impurities(ROOT / "collab" / "protocol.py", allowed=("collab.ot",))
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Stdlib modules that do I/O, touch the OS or the clock, add randomness or run code
# dynamically, plus the project's framework and network dependencies.
_NETWORK = {"asyncio", "socket", "ssl", "select", "selectors", "http", "urllib"}
_PROTOCOLS = {
    "ftplib",
    "smtplib",
    "imaplib",
    "poplib",
    "socketserver",
    "xmlrpc",
    "email",
}
_PROCESSES = {"subprocess", "multiprocessing", "threading", "concurrent", "signal"}
_FILES = {"os", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "mailbox"}
_STORAGE = {"sqlite3", "dbm", "shelve", "pickle", "marshal", "logging", "webbrowser"}
_NONDETERMINISM = {"time", "datetime", "random", "secrets", "uuid"}
_DYNAMIC = {"importlib", "ctypes", "sys", "builtins"}
_PROJECT_DEPS = {"django", "channels", "daphne", "redis", "websockets"}
IMPURE_MODULES = frozenset().union(
    _NETWORK,
    _PROTOCOLS,
    _PROCESSES,
    _FILES,
    _STORAGE,
    _NONDETERMINISM,
    _DYNAMIC,
    _PROJECT_DEPS,
)
IMPURE_CALLS = frozenset({"open", "print", "input", "eval", "exec", "compile", "__import__"})


def _module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def find_impurities(
    target: Path,
    forbidden: frozenset[str] | set[str] = IMPURE_MODULES,
    *,
    allowed: tuple[str, ...] = (),
    root: Path = ROOT,
) -> list[str]:
    """Problems in a package directory or module file, as ``"path:line: message"``.

    An import is a problem if its top-level name is ``forbidden``, or if it is
    neither stdlib nor inside ``target`` itself or a package listed in ``allowed``.
    Relative imports are resolved first. Calls to I/O builtins are flagged too.
    """
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    own = _module_name(target, root)
    problems: list[str] = []
    for path in files:
        package = _module_name(path, root).rpartition(".")[0]  # for relative imports
        where = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base) if node.level else ""
                module_name = ".".join(filter(None, [prefix, node.module or ""]))
                names = [f"{module_name}.{alias.name}" for alias in node.names]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in IMPURE_CALLS
            ):
                problems.append(f"{where}:{line}: calls {node.func.id}()")
            for name in names:
                top = name.split(".")[0]
                inside = any(name == p or name.startswith(p + ".") for p in (own, *allowed))
                if top in forbidden:
                    problems.append(f"{where}:{line}: imports forbidden {name}")
                elif not inside and top not in sys.stdlib_module_names:
                    problems.append(f"{where}:{line}: imports non-stdlib {name}")
    return problems


def test_collab_ot_is_pure() -> None:
    target = ROOT / "collab" / "ot"
    assert len(list(target.glob("*.py"))) >= 4
    assert find_impurities(target) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import django.db", "imports forbidden django.db"),
        ("from asyncio import sleep", "imports forbidden asyncio.sleep"),
        ("import socket", "imports forbidden socket"),
        ("import os.path", "imports forbidden os.path"),
        ("import hypothesis", "imports non-stdlib hypothesis"),
        ("from .. import views", "imports non-stdlib pkg.views"),
        ("from collab import models", "imports non-stdlib collab.models"),
        ("open('x')", "calls open()"),
    ],
)
def test_scanner_flags(tmp_path: Path, source: str, problem: str) -> None:
    package = tmp_path / "pkg" / "pure"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import mod\nfrom .mod import f\n")
    (package / "mod.py").write_text(f"import re\nfrom typing import Any\n{source}\n")
    assert find_impurities(package, root=tmp_path) == [f"pkg/pure/mod.py:3: {problem}"]
