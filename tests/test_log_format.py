"""``COLLAB_LOG_FORMAT=json``: one JSON object per line, structured fields kept, credentials redacted."""

from __future__ import annotations

import json
import logging

from collab.log_format import JsonFormatter
from collab.log_redaction import RedactSecrets


def formatted(record: logging.LogRecord) -> dict[str, object]:
    RedactSecrets().filter(record)
    return dict(json.loads(JsonFormatter().format(record)))


def test_a_record_becomes_one_json_line_with_its_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "collab.connections", "levelname": "INFO", "levelno": 20, "msg": "connection closed %s",
         "args": ("code=1000",), "event": "connection.close", "code": 1000, "user_id": None}
    )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "connection closed code=1000" and out["logger"] == "collab.connections"
    assert out["event"] == "connection.close" and out["code"] == 1000 and out["user_id"] is None
    assert out["level"] == "INFO" and out["time"].endswith("Z")


def test_credentials_are_redacted_in_the_message_and_in_the_fields() -> None:
    secret = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    record = logging.makeLogRecord(
        {"msg": "GET /ws/documents/1/?token=%s", "args": (secret,),
         "path": f"/ws/x/?ticket={secret}", "header": f"Token {secret}"}
    )  # fmt: skip
    out = formatted(record)
    assert secret not in json.dumps(out)
    assert out["path"] == "/ws/x/?ticket=[redacted]"


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    out = formatted(record)
    assert "RuntimeError: boom" in str(out["exception"])
