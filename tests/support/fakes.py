"""Fakes for the realtime core: a socket sink, an ASGI send that can stall, a connection for handlers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from collab.realtime.outbox import Outbox
from collab.realtime.transport import Sink


class FakeSink(Sink):
    """A daphne-like socket: synchronous writes, a readable buffer the test sets."""

    sync = True

    def __init__(self) -> None:
        self.out: list[str | bytes] = []
        self.buffer = 0
        self.aborted = False
        self.closes: list[int] = []

    def buffered(self) -> int:
        return self.buffer

    def write_now(self, frame: str | bytes) -> None:
        if self.aborted:
            raise ConnectionError("aborted")
        self.out.append(frame)

    def abort(self) -> None:
        self.aborted = True


class StallingSend:
    """An ASGI ``send`` like uvicorn's: awaits, can stall (a client that stops reading), can fail."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.fail: BaseException | None = None
        self.waiting = 0  # sends blocked right now (more than one at a time is a bug)
        self.most_waiting = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if self.fail is not None:
            raise self.fail
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            await self.open.wait()
        finally:
            self.waiting -= 1
        self.messages.append(message)

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages if m["type"] == "websocket.send" and "text" in m]


class AsyncSink(Sink):
    """What an asyncio server (uvicorn) tells: a buffer size, an abort."""

    def __init__(self) -> None:
        self.buffer = 0
        self.aborted = False

    def buffered(self) -> int:
        return self.buffer

    def abort(self) -> None:
        self.aborted = True


def small_bounds(settings: Any, *, high: int, timeout: float) -> None:
    """Outbox bounds a unit test can reach: ``high`` bytes behind, ``timeout`` seconds for both timeouts."""
    settings.COLLAB = {
        **settings.COLLAB,
        "SLOW_CLIENT_BUFFER_BYTES": high,
        "SLOW_CLIENT_TIMEOUT": timeout,
        "SLOW_CLIENT_CLOSE_TIMEOUT": timeout,
    }


def decoded(frames: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(f) for f in frames]


async def settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeConn:
    """What a text handler sees of a connection (``collab.text.handlers.Conn``), without a socket."""

    def __init__(
        self, *, document_id: str, user: Any = None, role: str = "editor", session: str = "s1"
    ) -> None:
        from collab.text.cursors import CursorCoalescer
        from collab.text.delivery import OpStream

        self.user, self.role, self.document_id, self.session = user, role, document_id, session
        self.user_info = {"id": getattr(user, "pk", None), "name": "fake", "color": "#000000"}
        self.sink = FakeSink()
        self.outbox = Outbox(_never, self.sink, name=session)
        self.stream = OpStream(document_id=document_id, session=session, outbox=self.outbox)
        self.cursors = CursorCoalescer(self)

    def send_frame(self, frame: str | bytes) -> None:
        self.outbox.send(frame)

    def on_event(self, event: Any) -> None:
        """As a hub member: the text kind's committed ops reach the stream."""
        from collab.text.events import OpsCommitted

        if isinstance(event, OpsCommitted):
            self.stream.deliver(event)

    @property
    def sent(self) -> list[dict[str, Any]]:
        return decoded(self.sink.out)


async def _never(message: dict[str, Any]) -> None:
    raise AssertionError(f"a synchronous sink never awaits send: {message}")
