"""collab.exceptions: one error tree, one root, the same codes and HTTP answers as the wire promises."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

import collab.exceptions as errors
import collab.protocol
from collab.api.errors import exception_handler
from collab.codes import ErrorCode
from collab.protocol import error_frame, parse
from tests.ot.test_purity import find_impurities

ROOT = Path(__file__).resolve().parents[1]

# (class, code, HTTP status): what clients have always been answered
ANSWERS = [
    (errors.CollabError, "server_error", 400),
    (errors.ProtocolError, "invalid_message", 400),
    (errors.Forbidden, "forbidden", 403),
    (errors.NotFound, "not_found", 404),
    (errors.InvalidOp, "invalid_op", 400),
    (errors.VersionAhead, "version_ahead", 409),
    (errors.DocumentTooLarge, "document_too_large", 400),
    (errors.HistoryUnavailable, "history_unavailable", 410),
]


def test_one_tree_with_one_root() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert {c.__name__ for c in classes} == set(errors.__all__)
    assert all(issubclass(c, errors.CollabError) for c in classes)
    assert collab.protocol.ProtocolError is errors.ProtocolError
    assert issubclass(errors.Forbidden, errors.AccessError) and issubclass(
        errors.NotFound, errors.AccessError
    )
    assert all(
        issubclass(c, errors.EditError)
        for c in (errors.InvalidOp, errors.VersionAhead, errors.DocumentTooLarge)
    )


def test_no_second_definition_of_a_server_error_class() -> None:
    """The server's error classes are defined in collab/exceptions.py only (the client has its own tree)."""
    names = set(errors.__all__)
    elsewhere = []
    for path in sorted((ROOT / "collab").rglob("*.py")):
        if path.name == "exceptions.py" or "client" in path.relative_to(ROOT / "collab").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in names:
                elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}")
    assert elsewhere == []


@pytest.mark.parametrize(("cls", "code", "status"), ANSWERS, ids=[c.__name__ for c, _, _ in ANSWERS])
def test_each_error_keeps_its_code_and_http_answer(
    cls: type[errors.CollabError], code: str, status: int
) -> None:
    exc = errors.ProtocolError(code, "Why.") if cls is errors.ProtocolError else cls("Why.")
    assert exc.code == code and cls.http_status == status and str(exc) == exc.message == "Why."
    assert isinstance(exc.code, str) and code in {c.value for c in ErrorCode}
    frame = json.loads(error_frame(exc.code, exc.message, {"client_id": "c", "seq": 2}))
    assert frame == {
        "type": "error",
        "payload": {"code": code, "message": "Why.", "ref": {"client_id": "c", "seq": 2}},
    }
    response = exception_handler(exc, {})
    assert response is not None and response.status_code == status
    assert json.loads(json.dumps(response.data)) == {"detail": "Why.", "code": code}


def test_a_code_and_ref_can_be_given() -> None:
    exc = errors.CollabError("Too far behind.", code=ErrorCode.HISTORY_UNAVAILABLE, ref="sync")
    assert (exc.code, exc.ref) == ("history_unavailable", "sync")
    assert errors.InvalidOp("x").code == "invalid_op"  # the class default is untouched
    with pytest.raises(errors.CollabError) as info:
        parse("{nope")
    assert isinstance(info.value, errors.ProtocolError) and info.value.code == ErrorCode.INVALID_JSON


def test_exceptions_module_is_pure() -> None:
    assert find_impurities(ROOT / "collab" / "exceptions.py", allowed=("collab.codes",)) == []
