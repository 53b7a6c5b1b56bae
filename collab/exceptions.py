"""One error tree: every error a client can cause, as a value with a wire code. Standard library only.

The WebSocket side turns one into an ``error`` frame (``code``, ``message``,
``ref``); the API's exception handler into JSON ``{"detail", "code"}`` with
``http_status``. The codes are ``collab.codes.ErrorCode``::

    CollabError(message, *, code=None, ref=None)     server_error, HTTP 400
     ├── ProtocolError(code, message, ref=None)       a message refused as sent: invalid_json,
     │                                                invalid_message, unknown_type,
     │                                                message_too_large (from ``collab.protocol.parse``)
     ├── AccessError                                  the requester's role
     │    ├── Forbidden           forbidden           the role does not allow it (HTTP 403)
     │    └── NotFound            not_found           no such document *for this requester* (HTTP 404/401)
     ├── EditError                                    an edit that cannot be committed
     │    ├── InvalidOp           invalid_op          malformed, or past the end (HTTP 400)
     │    ├── VersionAhead        version_ahead       base version beyond the current one (HTTP 409)
     │    └── DocumentTooLarge    document_too_large  the result exceeds max_document_chars (HTTP 400)
     └── HistoryUnavailable       history_unavailable ops since V are not kept (HTTP 410)

Example::

    >>> error = InvalidOp("retain past the end: the op spans 12 code points, the text has 10")
    >>> error.code == "invalid_op", error.http_status, isinstance(error, EditError)
    (True, 400, True)
"""

from __future__ import annotations

from typing import Any, ClassVar

from collab.codes import ErrorCode

__all__ = [
    "AccessError",
    "CollabError",
    "DocumentTooLarge",
    "EditError",
    "Forbidden",
    "HistoryUnavailable",
    "InvalidOp",
    "NotFound",
    "ProtocolError",
    "VersionAhead",
]


class CollabError(Exception):
    """An error a client caused: ``code`` (for the wire), ``message`` (a sentence), ``ref``."""

    code: str = ErrorCode.SERVER_ERROR
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, code: str | None = None, ref: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.ref = ref


class ProtocolError(CollabError):
    """A client message that cannot be processed as sent: a code, a sentence, and a ref.

    Raised while parsing (``collab.protocol``) with the code first, the way the
    error frame lists it: ``ProtocolError(ErrorCode.INVALID_JSON, "The message is not valid JSON.")``.
    """

    code = ErrorCode.INVALID_MESSAGE

    def __init__(self, code: str, message: str, ref: Any = None) -> None:
        super().__init__(message, code=code, ref=ref)


class AccessError(CollabError):
    """The requester's role does not let them do this."""


class Forbidden(AccessError):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(AccessError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class EditError(CollabError):
    """An edit that cannot be committed; nothing was changed."""


class InvalidOp(EditError):
    code = ErrorCode.INVALID_OP


class VersionAhead(EditError):
    code = ErrorCode.VERSION_AHEAD
    http_status = 409


class DocumentTooLarge(EditError):
    code = ErrorCode.DOCUMENT_TOO_LARGE


class HistoryUnavailable(CollabError):
    """What was asked for is older than the history kept (compacted, or too far behind to send)."""

    code = ErrorCode.HISTORY_UNAVAILABLE
    http_status = 410
