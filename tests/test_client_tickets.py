"""The Python client connects with a fresh ticket each time, never with its token in the URL.

Against a live daphne: every WebSocket URL the client opens carries
``?ticket=`` and not the token (first connect and reconnects alike); a server
without the endpoint, or one that refuses the token, gets ``?token=`` as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collab.client import DocumentClient
from collab.client import connection as connection_module
from collab.client.tickets import TicketUrl, ticket_endpoint
from tests.support.live import LiveServer

pytestmark = pytest.mark.live


def test_ticket_endpoint_keeps_the_scheme_host_and_prefix() -> None:
    assert ticket_endpoint("wss://h:1/collab/ws/documents/9/?token=k") == "https://h:1/collab/api/ws-ticket/"
    assert ticket_endpoint("ws://h/ws/presence/") == "http://h/api/ws-ticket/"


async def test_every_connection_uses_a_new_ticket_and_never_the_token(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = live.tokens["alice"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "tickets", "hi")
    opened: list[str] = []
    real_connect = connection_module.connect

    def spy(url: str, **kwargs: Any) -> Any:
        opened.append(url)
        return real_connect(url, **kwargs)

    monkeypatch.setattr(connection_module, "connect", spy)
    async with DocumentClient(live.http_url, doc["id"], token=token) as client:
        assert client.text == "hi" and client.user["name"] == "alice"
        first_session = client.session_id
        assert client._conn is not None and client._conn._ws is not None
        client._conn._ws.transport.abort()  # the connection drops (1006): the client reconnects
        for _ in range(100):
            if client.synced and client.session_id not in ("", first_session):
                break
            await asyncio.sleep(0.1)
        assert client.session_id != first_session
    assert len(opened) >= 2
    tickets = [url.split("ticket=", 1)[1] for url in opened]
    assert len(set(tickets)) == len(opened)  # a new one every time
    assert not any(token in url for url in opened), opened


async def test_without_the_endpoint_or_with_a_refused_token_the_url_keeps_the_token(live: LiveServer) -> None:
    token = live.tokens["bob"]  # type: ignore[attr-defined]
    url = live.ws_url("/ws/documents/x/", token)
    older = TicketUrl(url)
    older.endpoint = live.http_url + "/api/no-such-endpoint/"
    assert await older() == url and not older.supported
    assert await older() == url  # and it does not ask again
    refused = TicketUrl(live.ws_url("/ws/documents/x/", "wrong-token"))
    assert await refused() == refused.url
    good = await TicketUrl(url)()
    assert "ticket=" in good and token not in good
