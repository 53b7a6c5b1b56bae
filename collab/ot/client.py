"""The ot.js client state machine, without any I/O.

The client keeps at most one op in flight (sent, awaiting the server's ack) and
composes further local edits into a buffer. Remote ops are transformed past
both, with the remote op winning insert ties because the server committed it
first. The caller moves messages; this class only keeps the state::

    >>> c = OTClient("hello", version=7)
    >>> c.local([5, "!"])
    >>> c.take_outgoing()                 # send (base version, op) to the server
    (7, [5, '!'])
    >>> c.remote(8, ["Oh, "])            # someone else's op, committed as v8
    ['Oh, ']
    >>> c.text, c.inflight                # our in-flight op was shifted past it
    ('Oh, hello!', [9, '!'])
    >>> c.ack(9)                          # ours was committed as v9
    >>> c.state, c.version
    ('synchronized', 9)

States: ``synchronized`` (nothing pending), ``buffered`` (local edits not sent
yet, nothing in flight: call ``take_outgoing``), ``awaiting_ack`` and
``awaiting_ack_with_buffer``. Messages must arrive in commit order.
"""

from __future__ import annotations

from typing import Literal

from .operation import Op, apply, compose, normalize, transform

__all__ = ["ClientState", "ClientStateError", "OTClient"]

ClientState = Literal["synchronized", "buffered", "awaiting_ack", "awaiting_ack_with_buffer"]


class ClientStateError(RuntimeError):
    """A message arrived that the client's state cannot accept."""


class OTClient:
    """One client's view of a document: text, version, in-flight op, buffer."""

    def __init__(self, text: str, version: int) -> None:
        self.text = text  # local text, including unacknowledged edits
        self.version = version  # last server version incorporated
        self.inflight: Op | None = None  # sent, awaiting ack (rebased on remote ops)
        self.buffer: Op | None = None  # local edits not sent yet, composed
        self._sent: tuple[int, Op] | None = None  # inflight exactly as sent

    def __repr__(self) -> str:
        return (
            f"OTClient(version={self.version}, state={self.state!r}, "
            f"inflight={self.inflight!r}, buffer={self.buffer!r})"
        )

    @property
    def state(self) -> ClientState:
        if self.inflight is None:
            return "synchronized" if self.buffer is None else "buffered"
        return "awaiting_ack" if self.buffer is None else "awaiting_ack_with_buffer"

    def local(self, op: Op) -> None:
        """Apply a local edit to ``text`` and add it to the buffer."""
        text = apply(self.text, op)  # raises before any state changes
        buffer = normalize(op) if self.buffer is None else compose(self.buffer, op)
        self.text, self.buffer = text, buffer or None

    def take_outgoing(self) -> tuple[int, Op] | None:
        """If nothing is in flight, move the buffer in flight and return
        ``(base version, op)`` to send; otherwise None."""
        if self.inflight is not None or self.buffer is None:
            return None
        self.inflight, self.buffer = self.buffer, None
        self._sent = (self.version, list(self.inflight))
        return self.version, list(self.inflight)

    def ack(self, version: int) -> None:
        """The in-flight op was committed as ``version``."""
        if self.inflight is None:
            raise ClientStateError(f"ack for version {version} but no operation is in flight")
        self._expect(version)
        self.inflight, self._sent, self.version = None, None, version

    def remote(self, version: int, op: Op) -> Op:
        """Another client's op, committed as ``version``; returns it as applied here."""
        self._expect(version)
        inflight, buffer = self.inflight, self.buffer
        if inflight is not None:
            op, inflight = transform(op, inflight)
        if buffer is not None:
            op, buffer = transform(op, buffer)
        self.text = apply(self.text, op)  # raises before any state changes
        self.inflight, self.buffer, self.version = inflight, buffer or None, version
        return op

    def resync_inflight(self) -> tuple[int, Op] | None:
        """After a reconnect: the in-flight op to resend, exactly as first sent.

        The server transforms it again from its original base version, so it
        must recognise (and only ack) an op it had already committed before
        the connection dropped, e.g. by a client id and that base version.
        Missed remote ops still arrive through ``remote`` as usual.
        """
        return None if self._sent is None else (self._sent[0], list(self._sent[1]))

    def _expect(self, version: int) -> None:
        if version != self.version + 1:
            raise ClientStateError(f"expected version {self.version + 1}, got {version}")
