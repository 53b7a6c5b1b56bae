"""The process runtime of the realtime core: started once per event loop by the first connection.

- the presence sweeper (``collab.realtime.presence.sweep_forever``): renews this
  process's leases and announces expired ones;
- with ``REDIS_URL``, the Redis monitor (``collab.realtime.recovery``): while
  Redis is away connections catch up from the database, and when it is back
  rooms, presence and every connection's gap are restored;
- the metrics ticker (``collab.metrics_endpoint.refresh_forever``): flushes the
  delivery recorders and samples the room and presence gauges once a second;
- SIGTERM/SIGINT: every connection is told 1001 ("going away, reconnect")
  before the server stops (servers drop sockets without a close frame);
- ``spawn``: background tasks whose failures are logged, never left unretrieved.

The channel-layer listener belongs to the hub and starts with its first room.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Coroutine
from typing import Any

from collab.realtime.hub import hub

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 0.3  # seconds for the close frames to leave before the server stops

_sweeper: asyncio.Task[None] | None = None
_monitor: asyncio.Task[None] | None = None
_metrics: asyncio.Task[None] | None = None
_loop: asyncio.AbstractEventLoop | None = None
_hooked = False


def ensure_started() -> None:
    """Start the sweeper (and the Redis monitor) on the running loop and install the shutdown hook, once."""
    global _sweeper, _monitor, _loop, _metrics
    loop = asyncio.get_running_loop()
    if _loop is loop and _sweeper is not None and not _sweeper.done():
        return
    from collab import metrics_endpoint
    from collab.realtime import recovery
    from collab.realtime.presence import sweep_forever

    _loop = loop  # a new loop (tests): the old one's tasks are gone with it
    _install_shutdown_hook()
    _sweeper = loop.create_task(sweep_forever())
    _metrics = loop.create_task(metrics_endpoint.refresh_forever())
    monitor = recovery.monitor()
    _monitor = loop.create_task(monitor.run()) if monitor is not None else None


def _install_shutdown_hook() -> None:
    global _hooked
    if _hooked or threading.current_thread() is not threading.main_thread():
        return
    _hooked = True
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(num: int, frame: Any, previous: Any = previous) -> None:
            loop = _loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_go_away, num, frame, previous)
            else:
                _chain(num, frame, previous)

        signal.signal(signum, handler)


def _go_away(signum: int, frame: Any, previous: Any) -> None:
    """Close every connection with 1001, then hand the signal to the server."""
    h = hub()
    for room in h.rooms():
        for member in h.members(room):
            going_away = getattr(member, "going_away", None)
            if going_away is not None:
                try:
                    going_away()
                except Exception:
                    log.exception("closing %s on shutdown failed", member.session)

    asyncio.get_running_loop().call_later(SHUTDOWN_GRACE, _chain, signum, frame, previous)


def _chain(signum: int, frame: Any, previous: Any) -> None:
    global _hooked
    _hooked = False
    signal.signal(signum, previous)
    if callable(previous):
        previous(signum, frame)
    else:
        signal.raise_signal(signum)


def spawn(coro: Coroutine[Any, Any, Any], what: str = "task") -> asyncio.Task[Any]:
    """Run ``coro`` in the background; what it raises is logged, never left unretrieved.
    A socket that is gone (``OSError``, e.g. uvicorn's ``ClientDisconnected``) is normal."""
    task = asyncio.get_running_loop().create_task(coro)

    def done(t: asyncio.Task[Any]) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if isinstance(exc, OSError):
            log.debug("%s: the socket is gone (%r)", what, exc)
        elif exc is not None:
            log.error("%s failed", what, exc_info=exc)

    task.add_done_callback(done)
    return task


async def settled(task: asyncio.Task[Any] | None) -> None:
    """Wait until ``task`` (a role re-check under way) has finished, whatever it raised."""
    if task is not None and not task.done():
        await asyncio.wait({task})
