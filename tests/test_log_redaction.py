"""``collab.log_redaction``: credentials leave log records, everything else stays as it was."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from collab.log_redaction import RedactSecrets, redact

KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/ws/documents/1/?token={KEY}", "/ws/documents/1/?token=[redacted]"),
        (f"/ws/x/?a=1&ticket={KEY}&b=2", "/ws/x/?a=1&ticket=[redacted]&b=2"),
        (f"{{'query_string': b'token={KEY}'}}", "{'query_string': b'token=[redacted]'}"),
        (
            f"(b'cookie', b'csrftoken=abc; sessionid={KEY}')",
            "(b'cookie', b'csrftoken=[redacted]; sessionid=[redacted]')",
        ),
        (f"(b'authorization', b'Token {KEY}')", "(b'authorization', b'Token [redacted]')"),
        ("GET /api/documents/?page=2 200", "GET /api/documents/?page=2 200"),
        ("Invalid token header. No credentials provided.", "Invalid token header. No credentials provided."),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def emit(record: logging.LogRecord, formatter: logging.Formatter | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    if formatter is not None:
        handler.setFormatter(formatter)
    handler.handle(record)
    return stream.getvalue()


def record(msg: str, args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_uvicorn_access_lines_keep_their_shape() -> None:
    # uvicorn's AccessFormatter unpacks the five arguments: they must stay five, in order
    line = emit(
        record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", f"/ws/?token={KEY}", "1.1", 404)),
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False),
    )
    assert line == '127.0.0.1:5 - "GET /ws/?token=[redacted] HTTP/1.1" 404 Not Found\n'


def test_mapping_arguments_and_objects_whose_text_leaks() -> None:
    line = emit(record("%(path)s %(status)d", {"path": f"/x/?token={KEY}", "status": 200}))
    assert line == "/x/?token=[redacted] 200\n"
    scope = {"query_string": f"token={KEY}".encode()}
    assert KEY not in emit(record("scope=%s", (scope,)))


def test_sql_on_tokens_and_sessions_is_logged_without_parameters() -> None:
    sql = f'SELECT "authtoken_token"."key" FROM "authtoken_token" WHERE "key" = \'{KEY}\''
    rec = record("(%.3f) %s; args=%s; alias=%s", (0.001, sql, (KEY,), "default"))
    rec.__dict__.update(sql=sql, params=(KEY,), duration=0.001, alias="default")
    line = emit(rec)
    assert KEY not in line and "authtoken_token" in line, line
    other = record("(%.3f) %s; args=%s; alias=%s", (0.001, "SELECT 1 FROM collab_document", (), "default"))
    other.__dict__.update(sql="SELECT 1 FROM collab_document", params=(), duration=0.001, alias="default")
    assert "SELECT 1 FROM collab_document" in emit(other)


@pytest.mark.parametrize(
    "msg",
    [
        "connect /ws/?token=%s",
        "connect /ws/?ticket=%s&x=1",
        "header Authorization: Token %s",
        "sessionid=%(sid)s",
    ],
)
def test_a_credential_given_as_an_argument_of_the_template_is_redacted(msg: str) -> None:
    args: object = ({"sid": KEY},) if "%(" in msg else (KEY,)
    line = emit(record(msg, args))
    assert KEY not in line
    assert "[redacted]" in line
    assert "Logging error" not in line


def test_a_template_that_does_not_fit_its_arguments_never_prints_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = emit(record("connect /ws/?token=%s %s", (KEY,)))
    assert KEY not in line + capsys.readouterr().err
    assert "arguments withheld" in line
