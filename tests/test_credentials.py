"""Sockets do not outlive their credentials: logout, password change, token deletion, deactivation.

Each trigger closes exactly the connections its credentials opened, with 4401
after an ``unauthorized`` error, on the text endpoint and the presence room,
while the user's other connections stay open. (tests/test_multiprocess.py
shows the same across processes sharing Redis.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from collab.realtime import credentials
from collab.realtime.events import CredentialsRevoked
from project.asgi import application
from tests.test_consumers import new_doc, token_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie(client: Client) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@database_sync_to_async
def buy_ticket(client: Client, **headers: str) -> str:
    response = client.post("/api/ws-ticket/", **headers)
    assert response.status_code == 200, response.content
    return str(response.json()["ticket"])


async def open_socket(
    path: str, *, token: str | None = None, session: Client | None = None, ticket: str | None = None
) -> WebsocketCommunicator:
    query = f"?token={token}" if token else f"?ticket={ticket}" if ticket else ""
    comm = WebsocketCommunicator(application, path + query, headers=cookie(session) if session else [])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    if path.startswith("/ws/documents/"):
        hello = json.loads(await comm.receive_from(5))
        assert hello["type"] == "hello" and hello["payload"]["user"]["id"] is not None, hello
    return comm


async def closed_with(comm: WebsocketCommunicator, timeout: float = 5) -> int:
    """The close code, after checking that an ``unauthorized`` error came first."""
    errors = []
    while True:
        out = await comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            assert [e["payload"]["code"] for e in errors][-1:] == ["unauthorized"], errors
            return int(out["code"])
        message = json.loads(out["text"])
        if message["type"] == "error":
            errors.append(message)


async def still_open(comm: WebsocketCommunicator) -> bool:
    await comm.send_to(text_data=json.dumps({"type": "ping", "payload": {"n": 1}}))
    while True:
        out = await comm.receive_output(3)
        if out["type"] == "websocket.close":
            return False
        if json.loads(out["text"])["type"] == "pong":
            return True


async def sockets_of(alice: User, owner: User | None = None) -> dict[str, WebsocketCommunicator]:
    """alice's text sockets: two browser sessions, her token, tickets bought with her first session
    and with her token; and her presence room (by token)."""
    doc = await new_doc(owner or alice, public_role="editor")
    path = f"/ws/documents/{doc.pk}/"
    token = await database_sync_to_async(token_of)(alice)
    one, two = await signed_in(alice), await signed_in(alice)
    socks = {
        "session1": await open_socket(path, session=one),
        "session2": await open_socket(path, session=two),
        "token": await open_socket(path, token=token),
        "presence_room": await open_socket("/ws/presence/", token=token),
        "ticket_of_session1": await open_socket(path, ticket=await buy_ticket(one)),
        "ticket_of_token": await open_socket(
            path, ticket=await buy_ticket(Client(), HTTP_AUTHORIZATION=f"Token {token}")
        ),
    }
    socks["session1"].client = one  # type: ignore[attr-defined]
    return socks


async def check(socks: dict[str, WebsocketCommunicator], closed: set[str]) -> None:
    for name in sorted(closed):
        assert await closed_with(socks[name]) == 4401, name
    for name in sorted(set(socks) - closed):
        assert await still_open(socks[name]), name
        await socks[name].disconnect()


async def test_logout_closes_that_sessions_sockets_only(alice: User) -> None:
    socks = await sockets_of(alice)
    client = socks["session1"].client  # type: ignore[attr-defined]
    response = await database_sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code in (200, 302)
    await check(socks, {"session1", "ticket_of_session1"})


async def test_a_password_change_closes_the_session_sockets_and_keeps_the_token_ones(alice: User) -> None:
    socks = await sockets_of(alice)

    def change() -> None:
        user = User.objects.get(pk=alice.pk)
        user.set_password("a new one")
        user.save()

    await database_sync_to_async(change)()
    await check(socks, {"session1", "session2", "ticket_of_session1"})


async def test_a_session_kept_valid_after_a_password_change_stays_open(alice: User) -> None:
    """``update_session_auth_hash`` keeps a session valid: its sockets are checked, not closed blindly."""
    doc = await new_doc(alice)
    client = await signed_in(alice)
    key = client.cookies["sessionid"].value
    comm = await open_socket(f"/ws/documents/{doc.pk}/", session=client)

    def change_keeping_the_session() -> None:
        from importlib import import_module

        from django.conf import settings
        from django.contrib.auth import HASH_SESSION_KEY

        user = User.objects.get(pk=alice.pk)
        user.set_password("a new one")
        user.save()
        store = import_module(settings.SESSION_ENGINE).SessionStore(key)
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()

    await database_sync_to_async(change_keeping_the_session)()
    assert await still_open(comm)
    assert await comm.receive_nothing(0.5)
    await comm.disconnect()


async def test_deleting_a_token_closes_its_sockets_only(alice: User) -> None:
    socks = await sockets_of(alice)
    await database_sync_to_async(lambda: Token.objects.filter(user=alice).delete())()
    await check(socks, {"token", "presence_room", "ticket_of_token"})


async def test_deactivating_a_user_closes_all_their_sockets(alice: User, bob: User) -> None:
    socks = await sockets_of(alice)
    doc = await new_doc(bob, public_role="viewer")
    bobs = await open_socket(f"/ws/documents/{doc.pk}/", token=await database_sync_to_async(token_of)(bob))

    def deactivate() -> None:
        user = User.objects.get(pk=alice.pk)
        user.is_active = False
        user.save()

    await database_sync_to_async(deactivate)()
    await check(socks, set(socks))
    assert await still_open(bobs)  # another user's socket is untouched
    await bobs.disconnect()


async def test_deleting_a_user_closes_all_their_sockets(alice: User, bob: User) -> None:
    socks = await sockets_of(alice, owner=bob)  # her own documents go with her (4410)
    await database_sync_to_async(lambda: User.objects.filter(pk=alice.pk).delete())()
    await check(socks, set(socks))


async def test_events_carry_digests_never_keys(alice: User, monkeypatch: Any) -> None:
    key = await database_sync_to_async(token_of)(alice)
    published: list[tuple[str, Any]] = []

    class Recorder:
        def publish_from_sync(self, room: str, event: Any) -> None:
            published.append((room, event))

    monkeypatch.setattr(credentials, "hub", Recorder)
    await database_sync_to_async(lambda: Token.objects.filter(key=key).delete())()
    [(room, event)] = published
    assert room == f"user.{alice.pk}" and isinstance(event, CredentialsRevoked)
    assert event.what == "token" and event.digest == credentials.digest(key)
    assert key not in repr(event)


async def test_yjs_sockets_close_too(alice: User) -> None:
    """y-websocket (binary: no error frame, just the close) and a token deleted."""
    from collab.yjs import documents

    doc = await database_sync_to_async(documents.create)(owner=alice, title="rich")
    token = await database_sync_to_async(token_of)(alice)
    comm = WebsocketCommunicator(application, f"/ws/yjs/{doc.pk}?token={token}")
    connected, _ = await comm.connect(timeout=5)
    assert connected
    first = await comm.receive_output(5)
    assert first["type"] == "websocket.send" and first.get("bytes"), first  # sync step 1
    await database_sync_to_async(lambda: Token.objects.filter(user=alice).delete())()
    while True:
        out = await comm.receive_output(5)
        if out["type"] == "websocket.close":
            assert out["code"] == 4401
            break
