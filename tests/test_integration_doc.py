"""docs/integration.md cannot drift from the code: its settings table is collab/conf.py's, its check
ids are collab/checks.py's, its signals are collab.events'."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from collab import checks, events

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "integration.md").read_text()
sys.path.insert(0, str(ROOT / "scripts"))

import export_settings  # noqa: E402


def test_the_settings_table_is_generated_from_conf() -> None:
    assert export_settings.with_table(DOC) == DOC, "stale: run python scripts/export_settings.py"
    assert "| `PERMISSION_POLICY` | `'collab.access.default_policy'` |" in DOC


def test_every_check_id_is_documented_and_no_other() -> None:
    in_code = set(re.findall(r"collab\.[EW]\d{3}", (ROOT / "collab" / "checks.py").read_text()))
    section = DOC.split("## 9. System checks", 1)[1].split("## 10.", 1)[0]
    assert set(re.findall(r"collab\.[EW]\d{3}", section)) == in_code
    assert checks.REQUIRED_APPS  # the module is the one the ids came from


def test_every_signal_is_documented() -> None:
    section = DOC.split("## 8. Events for the host", 1)[1].split("## 9.", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)`", section, re.M)) | set(
        re.findall(r"`(member_\w+)`", section)
    )
    assert documented == set(events.__all__)
