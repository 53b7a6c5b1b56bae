"""The wire's code vocabulary: error codes, close codes, and which close codes mean "reconnect".

Standard library only, so that the server (``collab.protocol`` re-exports the
names), the Python client (``collab.client``) and the browser client share one
list. The browser reads the same values from ``collab/static/collab/codes.js``
and ``codes.json``, generated from this module by ``python scripts/export_codes.py``
(a test fails when they drift)::

    >>> reconnects(CloseCode.TOO_SLOW), reconnects(CloseCode.NOT_FOUND)
    (True, False)
    >>> CLOSE_ERRORS[CloseCode.DOCUMENT_DELETED]
    <ErrorCode.DOCUMENT_DELETED: 'document_deleted'>
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "CLOSE_ERRORS",
    "CLOSE_NAMES",
    "RECONNECT_CODES",
    "CloseCode",
    "ErrorCode",
    "as_json",
    "describe_close",
    "reconnects",
    "to_javascript",
    "to_json",
]


class ErrorCode(StrEnum):
    """``error`` frame codes (PROTOCOL.md section 5); the connection stays open unless closed with one."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    INVALID_OP = "invalid_op"
    VERSION_AHEAD = "version_ahead"
    HISTORY_UNAVAILABLE = "history_unavailable"
    DOCUMENT_TOO_LARGE = "document_too_large"
    SERVER_ERROR = "server_error"
    # added: why a connection is being closed (sent just before the close, see CLOSE_ERRORS)
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    ACCESS_REVOKED = "access_revoked"
    DOCUMENT_DELETED = "document_deleted"
    TOO_SLOW = "too_slow"
    PROTOCOL_ABUSE = "protocol_abuse"
    SESSION_CLOSED = "session_closed"
    WRONG_KIND = "wrong_kind"  # the endpoint of the other document kind (PROTOCOL.md section 8)


class CloseCode(IntEnum):
    """WebSocket close codes: the server's (PROTOCOL.md section 4) and the standard ones clients meet."""

    NORMAL = 1000  # a client closing on purpose
    GOING_AWAY = 1001  # the server is shutting down
    NO_STATUS = 1005  # never sent: the peer closed without a code
    ABNORMAL = 1006  # never sent: the connection dropped without a close frame
    SERVER_ERROR = 1011
    SERVICE_RESTART = 1012  # what uvicorn sends when it shuts down
    TRY_AGAIN_LATER = 1013  # proxies and load balancers
    CLIENT_RECONNECTING = 4000  # added: the browser client drops a connection it will replace
    CLOSED_BY_ADMIN = 4001  # added: an administrator closed this session
    PROTOCOL_ABUSE = 4400
    UNAUTHORIZED = 4401
    ACCESS_REVOKED = 4403
    NOT_FOUND = 4404
    TOO_SLOW = 4408
    DOCUMENT_DELETED = 4410
    TOO_LARGE = 4413  # yjs: a frame or update past the limits (PROTOCOL.md section 8)
    WRONG_KIND = 4415  # the endpoint of the other document kind (PROTOCOL.md section 8)
    RATE_LIMITED = 4429


# PROTOCOL.md section 4: a client reconnects after 1001, 1006, 1011 and 4408. Added: 1005
# (closed without a code, as good as 1006) and the standard "come back" codes 1012 and 1013,
# which ASGI servers and proxies send on a restart. Every other code means give up.
RECONNECT_CODES: frozenset[int] = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.ABNORMAL,
        CloseCode.SERVER_ERROR,
        CloseCode.TOO_SLOW,
        CloseCode.NO_STATUS,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
    }
)

# The ``error`` frame the server sends just before it closes with each code.
CLOSE_ERRORS: Mapping[int, ErrorCode] = MappingProxyType(
    {
        CloseCode.SERVER_ERROR: ErrorCode.SERVER_ERROR,
        CloseCode.CLOSED_BY_ADMIN: ErrorCode.SESSION_CLOSED,
        CloseCode.PROTOCOL_ABUSE: ErrorCode.PROTOCOL_ABUSE,
        CloseCode.UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
        CloseCode.ACCESS_REVOKED: ErrorCode.ACCESS_REVOKED,
        CloseCode.NOT_FOUND: ErrorCode.NOT_FOUND,
        CloseCode.TOO_SLOW: ErrorCode.TOO_SLOW,
        CloseCode.DOCUMENT_DELETED: ErrorCode.DOCUMENT_DELETED,
        CloseCode.RATE_LIMITED: ErrorCode.RATE_LIMITED,
        CloseCode.TOO_LARGE: ErrorCode.DOCUMENT_TOO_LARGE,
        CloseCode.WRONG_KIND: ErrorCode.WRONG_KIND,
    }
)

# A few words for logs and messages.
CLOSE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        CloseCode.NORMAL: "normal closure",
        CloseCode.GOING_AWAY: "server going away",
        CloseCode.NO_STATUS: "no status code",
        CloseCode.ABNORMAL: "connection lost",
        CloseCode.SERVER_ERROR: "server error",
        CloseCode.SERVICE_RESTART: "service restart",
        CloseCode.TRY_AGAIN_LATER: "try again later",
        CloseCode.CLIENT_RECONNECTING: "reconnecting",
        CloseCode.CLOSED_BY_ADMIN: "closed by an administrator",
        CloseCode.PROTOCOL_ABUSE: "protocol abuse",
        CloseCode.UNAUTHORIZED: "unauthorized",
        CloseCode.ACCESS_REVOKED: "access revoked",
        CloseCode.NOT_FOUND: "not found",
        CloseCode.TOO_SLOW: "too slow to keep up",
        CloseCode.DOCUMENT_DELETED: "document deleted",
        CloseCode.RATE_LIMITED: "rate-limit abuse",
        CloseCode.TOO_LARGE: "too large",
        CloseCode.WRONG_KIND: "wrong document kind",
    }
)


def reconnects(code: int) -> bool:
    """Whether a client comes back after the connection closed with ``code``."""
    return code in RECONNECT_CODES


def describe_close(code: int, reason: str = "") -> str:
    """``"1006 (connection lost)"``, with the peer's reason when it gave one."""
    name = CLOSE_NAMES.get(code, "unknown code")
    return f"{code} ({name}{': ' + reason if reason else ''})"


def as_json() -> dict[str, Any]:
    """The vocabulary as plain JSON values (what ``codes.json`` holds)."""
    return {
        "error_codes": {code.name: code.value for code in ErrorCode},
        "close_codes": {code.name: code.value for code in CloseCode},
        "reconnect": sorted(RECONNECT_CODES),
        "close_errors": {str(code): error.value for code, error in sorted(CLOSE_ERRORS.items())},
        "close_names": {str(code): name for code, name in sorted(CLOSE_NAMES.items())},
    }


def to_json() -> str:
    """The text of ``collab/static/collab/codes.json``."""
    return json.dumps(as_json(), indent=2) + "\n"


_JS = """\
// @ts-check
/**
 * The wire's code vocabulary, shared with the server and the Python client.
 * Generated from collab/codes.py by `python scripts/export_codes.py`: do not edit.
 * @module
 */

const CODES = {json};

/** Error codes of `error` frames, by name. */
export const ErrorCode = Object.freeze(CODES.error_codes);
/** WebSocket close codes, by name. */
export const CloseCode = Object.freeze(CODES.close_codes);
/** Close codes after which a client reconnects; it gives up after any other. */
export const RECONNECT_CODES = new Set(CODES.reconnect);
/** The error code the server sends just before closing with a code. */
export const CLOSE_ERRORS = /** @type {{Readonly<Record<number, string>>}} */ (Object.freeze(CODES.close_errors));
/** A few words about each close code, for logs. */
export const CLOSE_NAMES = /** @type {{Readonly<Record<number, string>>}} */ (Object.freeze(CODES.close_names));
"""


def to_javascript() -> str:
    """The text of ``collab/static/collab/codes.js`` (an ES module, no build step)."""
    return _JS.format(json=json.dumps(as_json(), indent=2))
