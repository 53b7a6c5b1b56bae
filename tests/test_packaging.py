"""``pip wheel .`` makes a usable ``collab`` package: the app with its templates, static files,
migrations and codes.json, none of project/, tests/, bench/; its dependencies are requirements.txt's
ranges. (tests/test_host_project.py installs the wheel into a fresh virtualenv and runs a host.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ONLY = {"dj-database-url", "psycopg"}  # this repository's project/settings.py, not the app


def build_wheel(source: Path, out: Path) -> zipfile.ZipFile:
    """The wheel of ``source`` (no build isolation: hatchling from this virtualenv, no network)."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    (wheel,) = out.glob("collab-*.whl")
    return zipfile.ZipFile(wheel)


def source_copy(tmp_path: Path) -> Path:
    """The files a build reads, copied (so the test can add a built bundle without touching the tree)."""
    copy = tmp_path / "src"
    copy.mkdir()
    shutil.copytree(ROOT / "collab", copy / "collab", ignore=shutil.ignore_patterns("__pycache__", "build"))
    for name in ("pyproject.toml", "README.md", ".gitignore"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def requirements(lines: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(line) for line in lines]
    return {r.name.lower(): r for r in parsed}


def test_the_wheel_holds_the_app_and_nothing_else(tmp_path: Path) -> None:
    source = source_copy(tmp_path)
    names = set(build_wheel(source, tmp_path / "plain").namelist())
    for expected in (
        "collab/apps.py",
        "collab/conf.py",
        "collab/migrations/0001_initial.py",
        "collab/templates/collab/editor.html",
        "collab/templates/collab/embed/editor.html",
        "collab/templatetags/collab.py",
        "collab/static/collab/client.js",
        "collab/static/collab/embed.js",
        "collab/static/collab/codes.json",
    ):
        assert expected in names, expected
    tops = {name.split("/")[0] for name in names}
    assert tops == {"collab", "collab-0.1.0.dist-info"}, tops  # no project/, tests/, bench/
    assert not [n for n in names if "__pycache__" in n or n.startswith("collab/frontend/")]
    assert not [n for n in names if n.startswith("collab/static/collab/build/")]

    bundle = source / "collab" / "static" / "collab" / "build"  # what `make frontend` makes, git-ignored
    bundle.mkdir()
    (bundle / "yjs-editor.js").write_text("export {};\n")
    with_bundle = set(build_wheel(source, tmp_path / "bundled").namelist())
    assert "collab/static/collab/build/yjs-editor.js" in with_bundle


def test_runtime_dependencies_are_declared_with_requirements_txt_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = requirements(project["dependencies"])
    extras = requirements([r for group in project["optional-dependencies"].values() for r in group])
    pinned = requirements(
        [
            line
            for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")
        ]
    )
    for name, requirement in {**declared, **extras}.items():
        assert name in pinned, f"{name} is not in requirements.txt"
        assert requirement.specifier == pinned[name].specifier, (name, requirement, pinned[name])
    assert set(pinned) - set(declared) - set(extras) == PROJECT_ONLY
    for needed in ("django", "channels", "daphne", "djangorestframework", "pycrdt", "pydantic"):
        assert needed in declared


@pytest.mark.parametrize("module", ["project", "tests", "bench"])
def test_the_app_never_imports_the_repository_around_it(module: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "collab").rglob("*.py")
        if f"from {module}" in path.read_text() or f"import {module}" in path.read_text()
    ]
    assert offenders == []
