"""Errors are values with codes; one place turns them into an ``error`` frame or an HTTP answer.

The tree::

    CollabError(code, message)           every error a client can cause
     ├── ProtocolError                   a malformed or unknown message (invalid_json,
     │                                   invalid_message, unknown_type, message_too_large,
     │                                   rate_limited)
     ├── Forbidden         "forbidden"   the role does not allow it (HTTP 403)
     ├── NotFound          "not_found"   no such document *for this requester* (HTTP 404/401)
     ├── InvalidOp         "invalid_op"  the op is malformed or past the end (HTTP 400)
     ├── VersionAhead      "version_ahead"  base version beyond the current one (HTTP 409)
     ├── DocumentTooLarge  "document_too_large"  the result exceeds max_document_chars (HTTP 400)
     └── HistoryUnavailable "history_unavailable"  ops since V cannot be served

Example::

    raise InvalidOp("retain past the end: the op spans 12 code points, the text has 10")
"""

from __future__ import annotations

from typing import Any, ClassVar


class CollabError(Exception):
    code: ClassVar[str] = "server_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, code: str | None = None, ref: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.ref = ref


class ProtocolError(CollabError):
    code = "invalid_message"


class Forbidden(CollabError):
    code = "forbidden"
    http_status = 403


class NotFound(CollabError):
    code = "not_found"
    http_status = 404


class InvalidOp(CollabError):
    code = "invalid_op"


class VersionAhead(CollabError):
    code = "version_ahead"
    http_status = 409


class DocumentTooLarge(CollabError):
    code = "document_too_large"


class HistoryUnavailable(CollabError):
    code = "history_unavailable"
