"""The baseline: a bare Channels relay, the way a Channels tutorial writes a chat room.

Every connection joins the group ``relay``; every text frame received is sent
to the whole group with ``group_send`` and each member forwards it as is::

    ws://127.0.0.1:<port>/ws/relay/   (served by ``bench.relay_asgi:application``)

Nothing is stored, nothing is ordered, nothing is acknowledged: a sender sees
its own frame come back like everyone else (the benchmark uses that echo as
the relay's "ack"). It is deliberately the stock ``AsyncWebsocketConsumer``
(its per-message ``dispatch`` thread hop included), so that it measures what
an ordinary Channels app does, on the same server software and settings.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

GROUP = "relay"


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    groups = [GROUP]  # joined on connect, left on disconnect

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(GROUP, {"type": "relay.message", "text": text_data})

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])
