"""Database queries per WebSocket handshake, until ``hello`` (issue 10: reconnect storms).

Credentials cost at most one query the first time (the token or session row;
the user's row too when no handshake has cached it yet) and none once cached;
the document row ``hello`` shows is read once for every handshake to the
document that arrives together. Queries are counted on every connection of
the process (the handshake's run in worker threads).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.backends.utils import CursorWrapper

from collab import access
from collab.exceptions import NotFound
from collab.models import Document, Membership
from project.asgi import application
from tests.test_consumers import new_doc, token_of
from tests.test_credentials import buy_ticket, cookie, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@contextmanager
def tables_queried() -> Iterator[list[str]]:
    """The first table of each query any thread runs meanwhile."""
    seen: list[str] = []
    original = CursorWrapper._execute_with_wrappers

    def counting(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        outer = sql
        while re.search(r"\([^()]*\)", outer):
            outer = re.sub(r"\([^()]*\)", "", outer)  # subqueries are part of their query
        match = re.search(r'\bFROM "?(\w+)"?', outer)
        seen.append(match.group(1) if match else outer.split()[0])
        return original(self, sql, *args, **kwargs)

    CursorWrapper._execute_with_wrappers = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        CursorWrapper._execute_with_wrappers = original  # type: ignore[method-assign]


async def hello_of(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    hello = json.loads(await comm.receive_from(5))
    assert hello["type"] == "hello" and hello["payload"]["user"]["id"] is not None, hello
    return comm


async def queries_of(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> list[str]:
    with tables_queried() as seen:
        comm = await hello_of(path, headers)
    await comm.disconnect()
    return seen


async def test_queries_per_handshake(alice: User) -> None:
    doc = await new_doc(alice)
    path = f"/ws/documents/{doc.pk}/"
    token = await database_sync_to_async(token_of)(alice)
    session = await signed_in(alice)
    ticket_buyer = await signed_in(alice)

    # cold: the credential's row (user with it) and the document
    assert sorted(await queries_of(f"{path}?token={token}")) == ["auth_user", "collab_document"]
    # a token known: the document only
    assert await queries_of(f"{path}?token={token}") == ["collab_document"]
    # a ticket (in the cache; its user cached by now): the document only
    assert await queries_of(f"{path}?ticket={await buy_ticket(ticket_buyer)}") == ["collab_document"]
    # a session cookie not seen yet, its user cached: the session row and the document
    assert sorted(await queries_of(path, cookie(session))) == ["collab_document", "django_session"]
    # the session known: the document only
    assert await queries_of(path, cookie(session)) == ["collab_document"]


async def test_a_storm_of_cold_handshakes_with_one_token_reads_it_once(alice: User) -> None:
    doc = await new_doc(alice, public_role="editor")
    token = await database_sync_to_async(token_of)(alice)
    cache.clear()
    with tables_queried() as seen:
        comms = await asyncio.gather(*(hello_of(f"/ws/documents/{doc.pk}/?token={token}") for _ in range(20)))
    for comm in comms:
        await comm.disconnect()
    assert seen.count("auth_user") == 1, seen


async def test_a_load_under_way_is_not_shared_once_something_was_forgotten(alice: User) -> None:
    from collab import user_cache

    token = await database_sync_to_async(token_of)(alice)
    cache.clear()
    with tables_queried() as seen:
        first = asyncio.ensure_future(user_cache.user_for_token(token))
        await asyncio.sleep(0)  # its load is under way
        await database_sync_to_async(user_cache.forget_token)(token)
        second = await user_cache.user_for_token(token)  # a load of its own
        await first
    assert second.pk == alice.pk and seen.count("auth_user") == 2, seen


async def test_a_cold_session_and_user_cost_two_queries_then_none(alice: User) -> None:
    doc = await new_doc(alice)
    session = await signed_in(alice)
    path = f"/ws/documents/{doc.pk}/"
    assert sorted(await queries_of(path, cookie(session))) == [
        "auth_user",
        "collab_document",
        "django_session",
    ]
    assert await queries_of(path, cookie(session)) == ["collab_document"]


async def test_a_storm_of_cached_handshakes_reads_the_document_once(alice: User, bob: User) -> None:
    doc = await new_doc(alice, public_role="editor")
    path = f"/ws/documents/{doc.pk}/"
    tokens = [await database_sync_to_async(token_of)(u) for u in (alice, bob)]
    for token in tokens:
        await (await hello_of(f"{path}?token={token}")).disconnect()  # cached now
    with tables_queried() as seen:
        comms = await asyncio.gather(*(hello_of(f"{path}?token={t}") for t in tokens * 10))
    for comm in comms:
        await comm.disconnect()
    assert seen.count("collab_document") < 20 and set(seen) == {"collab_document"}, seen


async def test_a_session_is_not_accepted_from_the_cache_after_logout_or_password_change(alice: User) -> None:
    doc = await new_doc(alice)
    path = f"/ws/documents/{doc.pk}/"

    def new_password() -> None:
        user = User.objects.get(pk=alice.pk)
        user.set_password("another one")
        user.save()

    for change in ("logout", "password"):
        session = await signed_in(alice)
        headers = cookie(session)  # the cookie as it was, presented again afterwards
        await (await hello_of(path, headers)).disconnect()  # cached now
        await database_sync_to_async(session.logout if change == "logout" else new_password)()
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await comm.connect(timeout=5)
        assert connected
        first = json.loads(await comm.receive_from(5))
        assert first["type"] == "error" and first["payload"]["code"] == "unauthorized", (change, first)
        await comm.disconnect()


async def test_handshakes_to_many_documents_that_arrive_together_share_their_reads(
    alice: User, bob: User
) -> None:
    docs = [await new_doc(alice, public_role="editor") for _ in range(10)]
    tokens = [await database_sync_to_async(token_of)(u) for u in (alice, bob)]
    for token in tokens:  # the tokens cached
        await (await hello_of(f"/ws/documents/{docs[0].pk}/?token={token}")).disconnect()
    with tables_queried() as seen:
        comms = await asyncio.gather(
            *(hello_of(f"/ws/documents/{d.pk}/?token={t}") for d in docs for t in tokens)
        )
    for comm in comms:
        await comm.disconnect()
    assert set(seen) <= {"collab_document", "collab_membership"}, seen
    assert seen.count("collab_document") < len(docs), seen


async def test_one_read_of_several_documents_decides_as_resolve_does(
    alice: User, bob: User, carol: User
) -> None:
    public, private, shared = [await new_doc(alice, public_role=r) for r in ("viewer", "none", "none")]
    await database_sync_to_async(check_one_read)(
        public, private, shared, [alice, bob, carol, AnonymousUser()]
    )


def check_one_read(public: Document, private: Document, shared: Document, users: list[Any]) -> None:
    bob, carol = users[1], users[2]
    Membership.objects.create(document=shared, user=bob, role="editor")
    Membership.objects.create(document=private, user=carol, role="viewer")
    requests: dict[Any, list[Any]] = {str(d.pk): users for d in (public, private, shared)}
    requests["not-a-uuid"] = users
    requests["00000000-0000-0000-0000-000000000000"] = users

    def expected(user: Any, document_id: str) -> str | None:
        try:
            return access.resolve(user, document_id)[1]
        except NotFound:
            return None

    want = {d: [expected(u, d) for u in users] for d in requests}
    assert want[str(shared.pk)] == ["owner", "editor", None, None]
    cache.clear()
    for _ in ("cold", "cached"):
        with tables_queried() as seen:
            got = access.resolve_documents(requests)
        assert {
            d: [None if isinstance(o, NotFound) else o[1] for o in outcomes] for d, outcomes in got.items()
        } == want
        assert len(seen) <= 2, seen
    assert seen == ["collab_document"]  # cached: the document rows only
