"""WebSocket credentials: single-use tickets, and handshakes that cost at most one database query.

- ``POST /api/ws-ticket/`` gives a signed-in user (token or session) a ticket;
  ``?ticket=`` on any WebSocket endpoint is that user, once, for 60 s; an
  invalid, used or expired ticket is anonymous (never the session instead).
- A handshake with a cached token and role makes one query (the document
  for ``hello``) and none to refuse; every change that matters (token
  deleted, user deactivated, membership or ``public_role`` changed) is seen by
  the next handshake, with the local-memory cache and with Redis.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db.backends.utils import CursorWrapper
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from collab import editing, tickets
from collab.models import Document, Membership
from collab.user_cache import user_for_token
from project.asgi import application
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def ticket_for(user: User) -> str:
    resp = client_for(user).post("/api/ws-ticket/")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["expires_in"] == 60 and isinstance(body["ticket"], str) and len(body["ticket"]) >= 32
    return str(body["ticket"])


async def first_frames(path: str, headers: Any = None) -> tuple[dict[str, Any], int | None]:
    """The first frame of a handshake, and the close code if the server closed after it."""
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    first = json.loads(await comm.receive_from(5))
    code = None
    if first["type"] == "error":
        close = await comm.receive_output(5)
        code = close["code"]
    await comm.disconnect()
    return first, code


def new_doc(owner: User, public_role: str = "none") -> Document:
    return editing.create_document(owner=owner, title="t", content="hello", public_role=public_role)


# -- tickets ------------------------------------------------------------------------------
def test_a_ticket_for_a_token_or_a_session_user_and_none_for_anonymous(alice: User) -> None:
    ticket_for(alice)
    assert APIClient().post("/api/ws-ticket/").status_code == 401
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/api/ws-ticket/").status_code == 403  # a session needs its CSRF token
    browser.get("/")  # the page sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    resp = browser.post("/api/ws-ticket/", HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code == 200, resp.content


async def test_a_ticket_opens_one_handshake_as_its_user(alice: User) -> None:
    doc = await database_sync_to_async(new_doc)(alice)
    ticket = await database_sync_to_async(ticket_for)(alice)
    hello, _ = await first_frames(f"/ws/documents/{doc.pk}/?ticket={ticket}")
    assert hello["type"] == "hello" and hello["payload"]["role"] == "owner"
    assert hello["payload"]["user"]["id"] == alice.pk
    error, code = await first_frames(f"/ws/documents/{doc.pk}/?ticket={ticket}")  # used: anonymous
    assert (error["payload"]["code"], code) == ("unauthorized", 4401)


async def test_a_bad_ticket_is_anonymous_even_with_a_session_cookie(alice: User, client: Any) -> None:
    private = await database_sync_to_async(new_doc)(alice)
    public = await database_sync_to_async(new_doc)(alice, "viewer")
    await database_sync_to_async(client.force_login)(alice)
    cookie = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    for bad in ("nope", "x" * 500, ""):
        _, code = await first_frames(f"/ws/documents/{private.pk}/?ticket={bad}", cookie)
        assert code == 4401, bad
    hello, _ = await first_frames(f"/ws/documents/{public.pk}/?ticket=nope", cookie)
    assert hello["payload"]["role"] == "viewer" and hello["payload"]["user"]["id"] is None


async def test_an_expired_ticket_is_anonymous(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = await database_sync_to_async(new_doc)(alice)
    monkeypatch.setattr(tickets, "TICKET_SECONDS", 1)
    ticket = tickets.issue(alice)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 2)
    _, code = await first_frames(f"/ws/documents/{doc.pk}/?ticket={ticket}")
    assert code == 4401


async def test_a_ticket_works_on_the_presence_endpoint(alice: User) -> None:
    doc = await database_sync_to_async(new_doc)(alice)
    ticket = await database_sync_to_async(ticket_for)(alice)
    comm = WebsocketCommunicator(application, f"/ws/presence/?ticket={ticket}")
    assert (await comm.connect(timeout=5))[0]
    await comm.send_to(text_data=json.dumps({"type": "subscribe", "payload": {"documents": [str(doc.pk)]}}))
    frames = [json.loads(await comm.receive_from(5)) for _ in range(2)]
    assert frames[-1] == {"type": "subscribed", "payload": {"documents": [str(doc.pk)]}}, frames
    await comm.disconnect()


def test_a_ticket_is_good_once_across_threads(alice: User) -> None:
    ticket = tickets.issue(alice)
    results: list[Any] = []
    gate = threading.Barrier(8)

    def use() -> None:
        gate.wait()
        results.append(tickets.consume_sync(ticket))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [alice.pk] + [None] * 7


# -- handshake cost and cache invalidation ---------------------------------------------------
@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run from now on, in any thread."""
    seen: list[str] = []
    execute = CursorWrapper.execute

    def counting(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        seen.append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting)
    return seen


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def shared_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"test-ws-auth-{uuid.uuid4().hex}",
            }
        }
    yield request.param


def token_of(user: User) -> str:
    return str(Token.objects.get_or_create(user=user)[0].key)


async def test_a_cached_handshake_makes_one_query_and_a_cached_refusal_none(
    alice: User, bob: User, queries: list[str]
) -> None:
    doc = await database_sync_to_async(new_doc)(alice)
    await database_sync_to_async(Membership.objects.create)(document=doc, user=bob, role="viewer")
    token = await database_sync_to_async(token_of)(bob)
    path = f"/ws/documents/{doc.pk}/?token={token}"
    queries.clear()
    hello, _ = await first_frames(path)
    assert hello["payload"]["role"] == "viewer"
    assert len(queries) <= 2, queries  # the token, then the document with the membership in it
    queries.clear()
    hello, _ = await first_frames(path)
    assert hello["payload"]["role"] == "viewer"
    assert len(queries) == 1, queries  # the document for hello, nothing else
    ticket = await database_sync_to_async(ticket_for)(bob)
    queries.clear()
    hello, _ = await first_frames(f"/ws/documents/{doc.pk}/?ticket={ticket}")
    assert hello["payload"]["role"] == "viewer"
    assert len(queries) == 1, queries
    await first_frames(f"/ws/documents/{doc.pk}/")  # anonymous: refused, the document's basics cached
    queries.clear()
    _, code = await first_frames(f"/ws/documents/{doc.pk}/")
    assert code == 4401 and queries == [], queries


async def test_a_handshake_task_keeps_no_cache_object_of_its_own(alice: User) -> None:
    """With the local-memory cache a connection's task reads users and tickets through one object
    per process: ``caches["default"]`` would leave one in the task's context (0.9 KiB per idle
    connection). Found as before, and a ticket is still good once."""
    key = await database_sync_to_async(token_of)(alice)
    assert (await user_for_token(key)).pk == alice.pk  # the user now cached
    ticket = await database_sync_to_async(tickets.issue)(alice)
    context = contextvars.Context()

    async def handshake() -> tuple[Any, Any, Any]:
        return (await user_for_token(key)), (await tickets.redeem(ticket)), (await tickets.redeem(ticket))

    user, first, again = await asyncio.get_running_loop().create_task(handshake(), context=context)
    assert user.pk == alice.pk and first == (alice.pk, "") and again is None
    kept = [v for v in context.values() if "default" in getattr(v, "data", {})]  # asgiref Local storage
    assert kept == []


async def test_every_change_is_seen_by_the_next_handshake(alice: User, bob: User, shared_cache: str) -> None:
    doc = await database_sync_to_async(new_doc)(alice)
    membership = await database_sync_to_async(Membership.objects.create)(
        document=doc, user=bob, role="editor"
    )
    token = await database_sync_to_async(token_of)(bob)
    path = f"/ws/documents/{doc.pk}/?token={token}"

    async def role() -> Any:
        first, code = await first_frames(path)
        return first["payload"]["role"] if code is None else code

    assert await role() == "editor"
    membership.role = "viewer"
    await database_sync_to_async(membership.save)()
    assert await role() == "viewer"
    await database_sync_to_async(membership.delete)()
    assert await role() == 4404
    doc.public_role = "viewer"
    await database_sync_to_async(doc.save)()
    assert await role() == "viewer"
    bob.first_name = "Robert"
    await database_sync_to_async(bob.save)()
    first, _ = await first_frames(path)
    assert first["payload"]["user"]["name"] == "Robert"
    bob.is_active = False
    await database_sync_to_async(bob.save)()
    first, _ = await first_frames(path)
    assert first["payload"]["user"]["id"] is None  # anonymous now: public_role viewer
    bob.is_active = True
    await database_sync_to_async(bob.save)()
    assert (await first_frames(path))[0]["payload"]["user"]["id"] == bob.pk
    await database_sync_to_async(Token.objects.filter(user=bob).delete)()
    first, _ = await first_frames(path)
    assert first["payload"]["user"]["id"] is None
    await database_sync_to_async(doc.delete)()
    assert await role() == 4401  # anonymous (the token is gone), and no document


async def test_handshakes_that_arrive_together_share_one_document_read(
    alice: User, bob: User, carol: User, queries: list[str]
) -> None:
    doc = await database_sync_to_async(new_doc)(alice, "viewer")
    await database_sync_to_async(Membership.objects.create)(document=doc, user=bob, role="editor")
    tokens = {u.username: await database_sync_to_async(token_of)(u) for u in (alice, bob, carol)}
    expected = {"alice": "owner", "bob": "editor", "carol": "viewer", None: "viewer"}
    who = [*tokens, None] * 5
    queries.clear()
    frames = await asyncio.gather(
        *(first_frames(f"/ws/documents/{doc.pk}/" + (f"?token={tokens[n]}" if n else "")) for n in who)
    )
    assert [f["payload"]["role"] for f, _ in frames] == [expected[n] for n in who]
    document_reads = [q for q in queries if 'FROM "collab_document"' in q]
    assert 1 <= len(document_reads) <= 4, document_reads  # 20 handshakes, a handful of reads
