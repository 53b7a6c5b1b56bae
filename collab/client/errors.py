"""The client's exceptions, and what each WebSocket close code means for it. No I/O.

The codes themselves, and which close codes mean "reconnect", are ``collab.codes``.

::

    CollabClientError
     ├── GaveUp                the server closed the connection for good (code, reason)
     │    ├── Unauthorized     4401: sign in (a token) to read this document
     │    ├── AccessRevoked    4403: your access was removed
     │    ├── DocumentNotFound 4404: no such document, or you cannot read it
     │    ├── DocumentDeleted  4410: the document was deleted
     │    └── SessionClosed    4001: an administrator closed this session
     ├── ResumeFailed          the server's copy is older than ours: it lost history
     ├── ReadOnly              an edit was attempted with the viewer role
     ├── ClientClosed          the client was stopped (or has not started)
     └── SyncTimeout           edits still unacknowledged when a wait ran out (also a TimeoutError)

``close_action(code)`` says whether to ``"reconnect"`` or ``"give_up"``::

    >>> close_action(1006), close_action(4404)
    ('reconnect', 'give_up')
    >>> str(gave_up(4404, "", "not_found", "No such document."))
    'the server closed the connection with 4404 (not_found): No such document.'
"""

from __future__ import annotations

from typing import Literal

from collab.codes import CLOSE_NAMES, RECONNECT_CODES, CloseCode, describe_close, reconnects

__all__ = [
    "RECONNECT_CODES",
    "AccessRevoked",
    "ClientClosed",
    "CollabClientError",
    "DocumentDeleted",
    "DocumentNotFound",
    "GaveUp",
    "ReadOnly",
    "ResumeFailed",
    "SessionClosed",
    "SyncTimeout",
    "Unauthorized",
    "close_action",
    "describe_close",
    "gave_up",
]


class CollabClientError(Exception):
    """Base class of every error the client raises."""


class GaveUp(CollabClientError):
    """The server closed the connection with a code that means "do not come back"."""

    def __init__(self, code: int, reason: str = "", error: str = "", message: str = "") -> None:
        self.code, self.reason, self.error, self.server_message = code, reason, error, message
        why = f" ({error})" if error else ""
        detail = message or reason or CLOSE_NAMES.get(code, "")
        super().__init__(f"the server closed the connection with {code}{why}: {detail}".rstrip(": "))


class Unauthorized(GaveUp):
    """4401: anonymous, and the document is not readable anonymously (pass a token)."""


class AccessRevoked(GaveUp):
    """4403: this user's access to the document was removed."""


class DocumentNotFound(GaveUp):
    """4404: the document does not exist, or this user cannot read it."""


class DocumentDeleted(GaveUp):
    """4410: the document was deleted."""


class SessionClosed(GaveUp):
    """4001: an administrator closed this session."""


class ResumeFailed(CollabClientError):
    """The server's document is behind the client's: resuming would lose or invent edits."""


class ReadOnly(CollabClientError):
    """This user's role on the document does not allow editing."""


class ClientClosed(CollabClientError):
    """The client is stopped; start a new one to keep editing."""


class SyncTimeout(CollabClientError, TimeoutError):
    """Local edits were still unacknowledged when the wait ran out."""


_BY_CODE: dict[int, type[GaveUp]] = {
    CloseCode.CLOSED_BY_ADMIN: SessionClosed,
    CloseCode.UNAUTHORIZED: Unauthorized,
    CloseCode.ACCESS_REVOKED: AccessRevoked,
    CloseCode.NOT_FOUND: DocumentNotFound,
    CloseCode.DOCUMENT_DELETED: DocumentDeleted,
}


def close_action(code: int) -> Literal["reconnect", "give_up"]:
    """What a client does when the connection closes with ``code``."""
    return "reconnect" if reconnects(code) else "give_up"


def gave_up(code: int, reason: str = "", error: str = "", message: str = "") -> GaveUp:
    """The exception for a give-up close code, with the server's last ``error`` frame."""
    return _BY_CODE.get(code, GaveUp)(code, reason, error, message)
