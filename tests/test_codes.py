"""collab.codes: one code vocabulary for the server, the Python client and the browser (codes.json/codes.js)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import collab.client.errors
import collab.protocol
from collab import codes
from collab.client import close_action
from collab.codes import CLOSE_ERRORS, CLOSE_NAMES, RECONNECT_CODES, CloseCode, ErrorCode, reconnects
from tests.ot.test_purity import find_impurities

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "collab" / "static" / "collab"
# PROTOCOL.md section 4
CONTRACT_RECONNECT = {1001, 1006, 1011, 4408}
CONTRACT_GIVE_UP = {4400, 4401, 4403, 4404, 4410, 4429}
CONTRACT_ERRORS = {
    "invalid_json", "invalid_message", "unknown_type", "message_too_large", "rate_limited", "forbidden",
    "invalid_op", "version_ahead", "history_unavailable", "document_too_large", "server_error",
}  # fmt: skip


def test_codes_module_is_pure_stdlib() -> None:
    assert find_impurities(ROOT / "collab" / "codes.py") == []


def test_the_contract_codes_are_all_there() -> None:
    assert {code.value for code in ErrorCode} >= CONTRACT_ERRORS
    assert set(CloseCode) >= CONTRACT_RECONNECT | CONTRACT_GIVE_UP
    assert CONTRACT_RECONNECT <= RECONNECT_CODES
    assert not CONTRACT_GIVE_UP & RECONNECT_CODES
    assert not reconnects(CloseCode.CLOSED_BY_ADMIN) and not reconnects(CloseCode.NORMAL)
    assert not reconnects(4999) and reconnects(1006)


def test_every_code_the_server_closes_with_has_its_error_and_a_name() -> None:
    server_codes = {c for c in CloseCode if c >= 4001} | {CloseCode.SERVER_ERROR}
    assert set(CLOSE_ERRORS) == server_codes
    assert all(isinstance(error, ErrorCode) for error in CLOSE_ERRORS.values())
    assert set(CLOSE_NAMES) == set(CloseCode)


def test_server_and_client_use_the_same_objects() -> None:
    assert collab.protocol.ErrorCode is ErrorCode and collab.protocol.CloseCode is CloseCode
    assert collab.client.errors.RECONNECT_CODES is RECONNECT_CODES
    for code in [*CloseCode, 1002, 1008, 3000, 4000, 4999]:
        assert close_action(code) == ("reconnect" if reconnects(code) else "give_up"), code


@pytest.mark.parametrize("name", ["codes.json", "codes.js"])
def test_the_browser_files_are_generated_from_the_module(name: str) -> None:
    expected = {"codes.json": codes.to_json, "codes.js": codes.to_javascript}[name]()
    assert (STATIC / name).read_text("utf-8") == expected, (
        f"collab/static/collab/{name} is stale: run python scripts/export_codes.py"
    )


def test_the_json_export_round_trips() -> None:
    data = json.loads((STATIC / "codes.json").read_text("utf-8"))
    assert {ErrorCode[k] for k in data["error_codes"]} == set(ErrorCode)
    assert {CloseCode[k]: v for k, v in data["close_codes"].items()} == {c: c.value for c in CloseCode}
    assert set(data["reconnect"]) == RECONNECT_CODES
    assert {int(k): v for k, v in data["close_errors"].items()} == CLOSE_ERRORS


def _literals(path: Path, root: Path = ROOT) -> list[str]:
    """Close codes and error codes written as literals rather than taken from collab.codes."""
    errors, closes = {c.value for c in ErrorCode}, {c.value for c in CloseCode}
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        value = node.value if isinstance(node, ast.Constant) else None
        if (isinstance(value, str) and value in errors) or (
            type(value) is int and value in closes  # not a bool
        ):
            found.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}: {value!r}")
    return found


def test_no_code_is_retyped_as_a_literal() -> None:
    paths = [*sorted((ROOT / "collab" / "client").glob("*.py")), ROOT / "collab" / "protocol.py"]
    assert [hit for path in paths for hit in _literals(path)] == []


def test_the_literal_scan_finds_retyped_codes(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text('RECONNECT = {1006, 4408}\nif code == "history_unavailable": pass\n')
    assert _literals(module, tmp_path) == [
        "probe.py:1: 1006", "probe.py:1: 4408", "probe.py:2: 'history_unavailable'"
    ]  # fmt: skip
