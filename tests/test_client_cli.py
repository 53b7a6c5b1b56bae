"""The command line's own promises, without a server: ``append`` adds lines, and without
websockets ``python -m collab.client`` says how to run it (the live half is in test_client.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from collab.client.cli import as_line, parser
from tests.support.live import ROOT

# a Python without the websockets library: importing it fails as it would there
WITHOUT_WEBSOCKETS = """
import runpy, sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "websockets":
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
sys.argv[1:] = {args!r}
"""


def without_websockets(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_WEBSOCKETS.format(args=list(args)) + code],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("document", "text", "added"),
    [
        ("", "first", "first"),
        ("start", "one more line", "\none more line"),
        ("start\n", "one more line", "one more line"),
        ("start\r\n", "x", "x"),
        ("start", "two\nlines\n", "\ntwo\nlines\n"),
        ("start\n\n", "", ""),
    ],
)
def test_append_starts_a_new_line_unless_there_is_one(document: str, text: str, added: str) -> None:
    assert as_line(document, text) == added


def test_append_help_says_it_adds_lines_and_how_to_append_raw() -> None:
    help_text = " ".join(parser()._subparsers._group_actions[0].choices["append"].format_help().split())  # type: ignore[union-attr]
    assert "starts on a new line unless the document is empty or already ends with a line break" in help_text
    assert "--raw" in help_text and "no line break added" in help_text


def test_without_websockets_the_command_line_says_how_to_run_it() -> None:
    out = without_websockets("runpy.run_module('collab.client', run_name='__main__')", "--help")
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("collab: collab.client needs the websockets library"), line
    assert ".venv/bin/python -m collab.client" in line and "pip install 'websockets" in line


def test_without_websockets_the_library_says_it_on_first_use() -> None:
    code = (
        "import collab.client as c; print(c.Session.__name__, c.Backoff.__name__)\n"
        "try:\n    c.DocumentClient\nexcept ModuleNotFoundError as e:\n    print(e.name, '|', e)\n"
    )
    out = without_websockets(code)
    assert out.returncode == 0, out.stderr
    sans_io, error = out.stdout.splitlines()
    assert sans_io == "Session Backoff", "the sans-I/O session needs no websockets"
    assert error.startswith("websockets | collab.client needs the websockets library"), error


def test_the_lazy_names_are_the_real_ones() -> None:
    import collab.client as package
    from collab.client.connection import Connection
    from collab.client.document import DocumentClient, document_url

    assert (package.DocumentClient, package.Connection, package.document_url) == (
        DocumentClient, Connection, document_url,
    )  # fmt: skip
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_the_docs_run_the_command_line_with_the_virtualenv_and_say_how_otherwise() -> None:
    """A bare ``python -m collab.client`` failed with the system Python (issue 15)."""
    for doc in (ROOT / "docs" / "client.md", ROOT / "README.md"):
        text = doc.read_text()
        commands = re.findall(r"([^\s`]*python\S*) -m collab\.client", text)
        assert commands, f"{doc.name} shows no command line"
        assert set(commands) == {".venv/bin/python"}, f"{doc.name}: {commands}"
    text = (ROOT / "docs" / "client.md").read_text()
    assert "pip install 'websockets" in text and "says exactly this instead of a traceback" in text
