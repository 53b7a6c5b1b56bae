"""Run the browser client's own tests (``node --test tests/js/``) from pytest, so ``make test`` covers them.

They check ``collab/static/collab/`` (OT on the shared fixture, the session state
machine, reconnect and backoff) with no browser. Without node they skip with the
reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.live import ROOT
from tests.support.services import program_or_skip

TESTS = ROOT / "tests" / "js"


def test_node_test_suite_passes() -> None:
    node = program_or_skip(
        "node", "node is not installed: the JavaScript client's tests (tests/js/) cannot run"
    )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 20:
        pytest.fail(f"node {version} is too old for tests/js/ (node --test with ES modules needs 20+)")
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *sorted(str(p.relative_to(ROOT)) for p in TESTS.glob("*.test.mjs"))],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    output = (result.stdout + result.stderr)[-20000:]
    assert result.returncode == 0, f"node --test tests/js/ failed:\n{output}"
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 100, f"expected the JS suite to run:\n{output}"
