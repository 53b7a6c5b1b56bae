"""The yjs endpoints in-process (Channels' WebsocketCommunicator), with pycrdt clients.

y-websocket (``/ws/yjs/{id}``) and Hocuspocus (``/ws/hocuspocus``): sync,
durability before relay, awareness, roles, limits, wrong kind, load failures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pycrdt
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from collab.models import Document, Membership, YjsUpdate
from collab.realtime.hub import hub
from collab.realtime.presence_store import registry as presence_registry
from collab.yjs import codec, storage
from collab.yjs import documents as yjs_documents
from collab.yjs import room as yjs_room
from collab.yjs.consumers import IMPLICIT_AUTH_AFTER
from project.asgi import application
from tests.yjs_client import CommunicatorLink, HocusClient, Mux, YClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


_open: list[WebsocketCommunicator] = []


@pytest.fixture(autouse=True)
async def _disconnect_at_the_end() -> AsyncIterator[None]:
    """Every socket a test here opened is closed after it, however it ended."""
    _open.clear()  # opened by other modules' tests through connect(): gone with their event loops
    yield
    while _open:
        await _open.pop().disconnect()


@database_sync_to_async
def token_of(user: User) -> str:
    return str(Token.objects.get_or_create(user=user)[0].key)


@database_sync_to_async
def session_cookie(user: User) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@database_sync_to_async
def add_member(doc_id: str, user: User, role: str) -> Membership:
    return Membership.objects.create(document_id=doc_id, user=user, role=role)


def limit(settings: Any, **values: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, **values}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5) -> None:
    """Wait until the async ``check()`` holds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@database_sync_to_async
def make_doc(owner: User, content: str = "", public_role: str = "none") -> str:
    return str(yjs_documents.create(owner=owner, title="y", content=content, public_role=public_role).pk)


@database_sync_to_async
def stored_text(doc_id: str) -> str:
    return storage.text_of(storage.load(doc_id))


@database_sync_to_async
def version_of(doc_id: str) -> int:
    return int(Document.objects.get(pk=doc_id).version)


async def stored_version(doc_id: str, version: int) -> bool:
    return await version_of(doc_id) == version


async def unloaded(doc_id: str) -> bool:
    return yjs_room.loaded(doc_id) is None


async def connect(
    path: str, user: User | None = None, headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    query = f"?token={await token_of(user)}" if user is not None else ""
    comm = WebsocketCommunicator(application, f"{path}{query}", headers=headers)
    _open.append(comm)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def ywebsocket(doc_id: str, user: User | None, *, start: bool = True) -> YClient:
    client = YClient(CommunicatorLink(await connect(f"/ws/yjs/{doc_id}", user)))
    if start:
        await client.start()
        await client.until(lambda: client.synced)
    return client


async def closed_with(comm: WebsocketCommunicator) -> int:
    message = await comm.receive_output(5)
    assert message["type"] == "websocket.close", message
    return int(message["code"])


# -- y-websocket -----------------------------------------------------------------------------


async def test_ywebsocket_syncs_stores_then_relays(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, "héllo", public_role="editor")
    a = await ywebsocket(doc_id, alice)
    b = await ywebsocket(doc_id, bob)
    assert a.content() == b.content() == "héllo"
    await a.insert(5, " 😀 world")
    await b.until(lambda: b.content() == "héllo 😀 world")
    assert await stored_text(doc_id) == "héllo 😀 world"  # stored before b heard it
    assert await version_of(doc_id) == 1
    await a.until(
        lambda: a.updates_heard >= 2
    )  # the sender hears its own update too, as from the stock server
    await b.insert(0, "¡")
    await a.until(lambda: a.content() == "¡héllo 😀 world")


async def test_ywebsocket_trailing_slash_and_query_awareness(alice: User) -> None:
    doc_id = await make_doc(alice, "x")
    client = await ywebsocket(f"{doc_id}/", alice)
    await client.set_awareness({"user": {"name": "alice"}})
    await client.until(lambda: client.awareness_frames >= 1)  # the sender's own comes back
    frames = client.awareness_frames
    await client.link.send(codec.query_awareness())
    await client.until(lambda: client.awareness_frames > frames)
    assert list(client.awareness.values()) == [{"user": {"name": "alice"}}]


async def test_unreadable_is_closed_before_any_sync_message(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice)
    anon = await connect(f"/ws/yjs/{doc_id}")
    assert await closed_with(anon) == 4401
    other = await connect(f"/ws/yjs/{doc_id}", bob)
    assert await closed_with(other) == 4404
    missing = await connect("/ws/yjs/00000000-0000-0000-0000-000000000000", bob)
    assert await closed_with(missing) == 4404


async def test_wrong_kind_both_ways(alice: User) -> None:
    from collab import editing

    text_doc = await database_sync_to_async(editing.create_document)(owner=alice, title="t")
    comm = await connect(f"/ws/yjs/{text_doc.pk}", alice)
    assert await closed_with(comm) == 4415
    doc_id = await make_doc(alice)
    comm = await connect(f"/ws/documents/{doc_id}/", alice)
    error = await comm.receive_json_from(5)
    assert error["type"] == "error" and error["payload"]["code"] == "wrong_kind"
    assert await closed_with(comm) == 4415


async def test_viewer_updates_are_not_applied_stored_or_relayed(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, "read me", public_role="viewer")
    viewer = await ywebsocket(doc_id, bob)
    owner = await ywebsocket(doc_id, alice)
    await viewer.insert(0, "vandal ")
    await owner.pump(0.3)
    assert owner.content() == "read me"
    assert await version_of(doc_id) == 0
    await owner.insert(7, "!")
    await viewer.until(lambda: "!" in viewer.content())  # viewers still hear edits


async def test_awareness_reaches_everyone_and_leaves_with_the_connection(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, public_role="editor")
    a = await ywebsocket(doc_id, alice)
    b = await ywebsocket(doc_id, bob)
    await a.set_awareness({"user": "alice", "cursor": 3})
    await b.until(lambda: a.doc.client_id in b.awareness)
    await a.until(lambda: a.doc.client_id in a.awareness)  # the sender's own state comes back
    # a newcomer gets every state at once
    c = await ywebsocket(doc_id, bob)
    await c.until(lambda: a.doc.client_id in c.awareness)
    await a.close()
    await b.until(lambda: a.doc.client_id not in b.awareness)
    await c.until(lambda: a.doc.client_id not in c.awareness)


async def test_presence_lists_yjs_connections(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, public_role="editor")
    a = await ywebsocket(doc_id, alice)
    b = await ywebsocket(doc_id, bob)
    entries = presence_registry().entries(doc_id)
    assert sorted(e["user"]["name"] for e in entries) == ["Alice Liddell", "bob"]
    assert {e["meta"]["protocol"] for e in entries} == {"y-websocket"}
    await a.close()
    await b.until(lambda: [e["user"]["name"] for e in presence_registry().entries(doc_id)] == ["bob"])


async def test_presence_entries_list_the_awareness_clients_of_their_connection(
    alice: User, bob: User
) -> None:
    """So a page finds its own entry (its colour, its role) by its awareness clientID."""
    doc_id = await make_doc(alice, public_role="editor")
    a = await ywebsocket(doc_id, alice)
    mux = await hocus()
    h = await hocus_synced(mux, doc_id, bob)

    def listed() -> dict[str, list[int]]:
        return {e["user"]["name"]: e["meta"]["awareness"] for e in presence_registry().entries(doc_id)}

    assert listed() == {"Alice Liddell": [], "bob": []}
    await a.set_awareness({"user": {"name": "alice"}})
    await h.set_awareness({"user": {"name": "bob"}})
    await a.until(lambda: listed() == {"Alice Liddell": [a.doc.client_id], "bob": [h.doc.client_id]})
    entries = {e["user"]["name"]: e for e in presence_registry().entries(doc_id)}
    assert entries["Alice Liddell"]["meta"]["protocol"] == "y-websocket"
    assert entries["bob"]["meta"]["protocol"] == "hocuspocus"
    assert entries["Alice Liddell"]["user"]["color"] != entries["bob"]["user"]["color"]
    await a.set_awareness({"user": {"name": "alice"}, "cursor": 1})  # the same client: no new write
    await a.pump(0.1)
    assert listed()["Alice Liddell"] == [a.doc.client_id]
    await a.close()
    await mux.link.close()


async def test_frame_too_large_closes_4413_and_stores_nothing(alice: User, settings: Any) -> None:
    limit(settings, MAX_MESSAGE_BYTES=1000)
    doc_id = await make_doc(alice)
    client = await ywebsocket(doc_id, alice)
    await client.insert(0, "x" * 2000)
    await client.pump(0.5)
    assert client.closed == 4413
    assert await version_of(doc_id) == 0


async def test_document_too_large_closes_4413_and_stores_nothing(alice: User, settings: Any) -> None:
    limit(settings, MAX_DOCUMENT_BYTES=600)
    doc_id = await make_doc(alice, "start")
    client = await ywebsocket(doc_id, alice)
    for i in range(3):
        await client.insert(0, "y" * 200 + str(i))
    await client.pump(0.5)
    assert client.closed == 4413
    await eventually(lambda: stored_version(doc_id, 2))  # the two accepted updates; the refused one never
    await asyncio.sleep(0.2)
    assert await version_of(doc_id) == 2
    text = await stored_text(doc_id)
    assert "start" in text and "y" * 200 + "1" in text and "y" * 200 + "2" not in text


async def test_revocation_and_delete_close_live_sockets(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice)
    await add_member(doc_id, bob, "editor")
    bob_client = await ywebsocket(doc_id, bob)
    alice_client = await ywebsocket(doc_id, alice)
    await database_sync_to_async(Membership.objects.filter(document_id=doc_id, user=bob).delete)()
    await bob_client.until(lambda: bob_client.closed is not None)
    assert bob_client.closed == 4403
    await database_sync_to_async(Document.objects.filter(pk=doc_id).delete)()
    await alice_client.until(lambda: alice_client.closed is not None)
    assert alice_client.closed == 4410


async def test_downgrade_ignores_later_updates(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice)
    membership = await add_member(doc_id, bob, "editor")
    bob_client = await ywebsocket(doc_id, bob)
    membership.role = "viewer"
    await database_sync_to_async(membership.save)()
    await bob_client.pump(0.3)
    await bob_client.insert(0, "late")
    await bob_client.pump(0.3)
    assert bob_client.closed is None
    assert await version_of(doc_id) == 0


async def test_a_downgrade_takes_effect_at_once_on_both_endpoints(alice: User, bob: User) -> None:
    """An update sent right after the role change committed (no time for the connection's re-check
    to finish first) is judged by the new role: not applied, stored or relayed; Hocuspocus answers 0."""
    doc_id = await make_doc(alice)
    membership = await add_member(doc_id, bob, "editor")
    y = await ywebsocket(doc_id, bob)
    mux = await hocus()
    h = await hocus_synced(mux, doc_id + "\0bob", bob)
    membership.role = "viewer"
    await database_sync_to_async(membership.save)()
    answered = len(h.statuses)
    await y.insert(0, "late")
    await h.insert(0, "later")
    await h.until(lambda: len(h.statuses) > answered)
    await y.pump(0.3)
    assert h.statuses[answered:] == [False] and y.closed is None and mux.closed is None
    assert await version_of(doc_id) == 0


async def test_patch_content_reaches_live_clients_and_keeps_concurrent_edits(alice: User) -> None:
    doc_id = await make_doc(alice, "one two three")
    live = await ywebsocket(doc_id, alice)
    live.type(13, " four")  # typed, not yet sent, while the PATCH changes the start
    document = await database_sync_to_async(Document.objects.get)(pk=doc_id)
    await database_sync_to_async(yjs_documents.replace_text)(document, "ONE two three", user=alice)
    await live.flush()
    await live.until(lambda: live.content() == "ONE two three four")
    await live.pump(0.2)
    assert await stored_text(doc_id) == "ONE two three four"


async def test_connections_arriving_together_share_one_load(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One live document per room per process: the connections that arrive while it loads wait for it."""
    doc_id = await make_doc(alice, "once")
    loads: list[str] = []

    def slow_load(document_id: Any) -> Any:
        loads.append(str(document_id))
        time.sleep(0.3)
        return storage.load(document_id)

    monkeypatch.setattr(yjs_room, "_load", database_sync_to_async(slow_load))
    mux = await hocus()
    clients = await asyncio.gather(
        ywebsocket(doc_id, alice), ywebsocket(doc_id, alice), hocus_synced(mux, doc_id, alice)
    )
    assert [c.content() for c in clients] == ["once"] * 3
    assert loads == [doc_id]
    assert len(yjs_room.loaded(doc_id).peers) == 3  # type: ignore[union-attr]


@pytest.mark.parametrize("endpoint", ["y-websocket", "hocuspocus"])
async def test_a_failed_load_closes_1011_leaves_nothing_and_the_next_connection_loads(
    alice: User, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    doc_id = await make_doc(alice, "fine")

    def broken(document_id: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(yjs_room, "_load", database_sync_to_async(broken))
    if endpoint == "y-websocket":
        first: YClient | HocusClient = YClient(CommunicatorLink(await connect(f"/ws/yjs/{doc_id}", alice)))
    else:
        first = (await hocus()).add(doc_id, await token_of(alice))
    await first.start()
    await first.until(lambda: first.closed is not None)
    assert first.closed == 1011 and not first.synced
    await eventually(lambda: nothing_held(doc_id))
    monkeypatch.setattr(yjs_room, "_load", database_sync_to_async(storage.load))
    if endpoint == "y-websocket":
        again: YClient | HocusClient = await ywebsocket(doc_id, alice)
    else:
        again = await hocus_synced(await hocus(), doc_id, alice)
    assert again.content() == "fine"


async def nothing_held(doc_id: str) -> bool:
    """No live room, presence entry or hub member is left for the document."""
    return (
        yjs_room.loaded(doc_id) is None
        and not presence_registry().entries(doc_id)
        and not hub().members(doc_id)
    )


async def test_room_unloads_after_the_grace_period(alice: User, settings: Any) -> None:
    limit(settings, YJS_UNLOAD_GRACE=0.2)
    doc_id = await make_doc(alice, "x")
    client = await ywebsocket(doc_id, alice)
    assert yjs_room.loaded(doc_id) is not None
    await client.close()
    await eventually(lambda: unloaded(doc_id))
    again = await ywebsocket(doc_id, alice)
    assert again.content() == "x"


@pytest.mark.parametrize(
    ("limits", "pad"),
    [({"YJS_COMPACT_EVERY": 5}, ""), ({"YJS_COMPACT_EVERY": 1000, "YJS_COMPACT_BYTES": 500}, "b" * 100)],
    ids=["every-5-updates", "every-500-bytes"],
)
async def test_compaction_during_live_editing_keeps_the_state(
    alice: User, settings: Any, limits: dict[str, int], pad: str
) -> None:
    limit(settings, **limits)
    doc_id = await make_doc(alice)
    client = await ywebsocket(doc_id, alice)
    for i in range(23):  # by bytes: each update is over 100 bytes, so one snapshot every 5 or fewer
        await client.insert(len(client.content()), f"{i}😀{pad}")
        await client.pump(0.01)
    await client.pump(0.5)
    assert await version_of(doc_id) == 23
    assert await stored_text(doc_id) == client.content()
    snapshots = await database_sync_to_async(
        lambda: sorted(
            storage.YjsSnapshot.objects.filter(document_id=doc_id).values_list("version", flat=True)
        )
    )()
    assert max(snapshots) >= 20
    assert await database_sync_to_async(YjsUpdate.objects.filter(document_id=doc_id).count)() < 23


# -- Hocuspocus --------------------------------------------------------------------------------


async def hocus(path: str = "/ws/hocuspocus") -> Mux:
    """A Hocuspocus socket (no credentials of its own: each document authenticates)."""
    return Mux(CommunicatorLink(await connect(path)))


async def hocus_synced(mux: Mux, name: str, user: User, version: str | None = "4.0.0") -> HocusClient:
    """A document on a Hocuspocus socket, authenticated with ``user``'s token, started and synced."""
    client = mux.add(name, await token_of(user))
    await client.start(version)
    await client.until(lambda: client.scope is not None and client.synced and client.unsynced == 0)
    return client


async def test_hocuspocus_auth_sync_and_sync_status_after_store(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, "abc", public_role="editor")
    mux = await hocus("/ws/hocuspocus/")  # a trailing slash is fine too
    client = await hocus_synced(mux, doc_id, alice)
    assert client.scope == "read-write" and client.content() == "abc"
    await client.insert(3, "def")
    await client.until(lambda: client.unsynced == 0)
    assert await stored_text(doc_id) == "abcdef"  # SyncStatus 1 came after the update was stored
    y = await ywebsocket(doc_id, bob)
    assert y.content() == "abcdef"
    await y.insert(0, ">")
    await client.until(lambda: client.content() == ">abcdef")


async def test_hocuspocus_the_servers_own_sync_step_1_brings_in_the_providers_offline_edits(
    alice: User,
) -> None:
    """As the stock server does: the provider answers the server's step 1 with what the server lacks."""
    doc_id = await make_doc(alice, "online")
    mux = await hocus()
    client = mux.add(doc_id, await token_of(alice))
    client.type(0, "offline ")
    client.take_outgoing()  # made while offline: never sent as an update of its own
    await client.start()
    await client.until(lambda: client.synced and True in client.statuses)  # its step 2, stored
    text = await stored_text(doc_id)
    assert "offline " in text and "online" in text and text == client.content()


async def test_hocuspocus_messages_before_auth_are_held(alice: User) -> None:
    doc_id = await make_doc(alice, "held")
    mux = await hocus()
    client = mux.add(doc_id, await token_of(alice))
    client.type(4, "!")
    await client.send(codec.sync_step1(bytes(client.doc.get_state())))
    await client.flush()  # before the auth message
    await client.start()
    await client.until(lambda: client.content() in ("held!", "!held") and client.unsynced <= 0)
    await client.pump(0.2)
    assert await stored_text(doc_id) == client.content()  # concurrent inserts: either order


async def test_hocuspocus_denials(alice: User, bob: User) -> None:
    from collab import editing

    doc_id = await make_doc(alice)
    text_doc = await database_sync_to_async(editing.create_document)(owner=alice, title="t")
    mux = await hocus()
    private = mux.add(doc_id, await token_of(bob))
    anonymous = mux.add(doc_id + "\0k", "")
    wrong = mux.add(str(text_doc.pk), await token_of(alice))
    mine = mux.add(doc_id + "\0mine", await token_of(alice))
    private.type(0, "held then dropped")
    await private.send(codec.sync_update(private.take_outgoing()[0]))
    for client in (private, anonymous, wrong, mine):
        await client.start()
    await mine.until(lambda: mine.scope == "read-write" and mine.synced)
    await mine.until(lambda: None not in (private.denied, anonymous.denied, wrong.denied))
    assert private.denied == "not_found" and anonymous.denied == "unauthorized"
    assert wrong.denied == "wrong_kind"
    assert private.scope is None and not private.synced
    assert await version_of(doc_id) == 0


async def test_hocuspocus_after_permission_denied_nothing_more_of_that_document_is_applied_or_sent(
    alice: User, bob: User
) -> None:
    """Bob's token is denied on a socket that carries Alice's session cookie: what the provider sends
    for that document afterwards is not opened as Alice (no second auth answer, nothing stored),
    until it authenticates the name again."""
    doc_id = await make_doc(alice, "alice's")
    mux = Mux(CommunicatorLink(await connect("/ws/hocuspocus", headers=await session_cookie(alice))))
    denied = mux.add(doc_id, await token_of(bob))
    await denied.start()
    await denied.until(lambda: denied.denied == "not_found")
    await denied.insert(0, "bob was here ")
    await denied.send(codec.sync_step1(bytes(denied.doc.get_state())))
    await denied.pump(IMPLICIT_AUTH_AFTER + 0.5)  # a document without an auth message would open by now
    assert denied.denials == 1 and denied.scope is None and not denied.synced
    assert await version_of(doc_id) == 0
    denied.token = ""  # authenticating again, with the session: Alice's own document opens
    await denied.start()
    await denied.until(lambda: denied.scope == "read-write" and denied.synced)


async def test_hocuspocus_viewer_is_readonly_and_answered_0(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, "look", public_role="viewer")
    owner = await ywebsocket(doc_id, alice)
    mux = await hocus()
    viewer = await hocus_synced(mux, doc_id, bob)
    assert viewer.scope == "readonly"
    await viewer.insert(0, "no ")
    await viewer.until(lambda: False in viewer.statuses)
    await owner.pump(0.3)
    assert owner.updates_heard == 1 and owner.content() == "look"  # its sync step 2 only: nothing relayed
    assert await version_of(doc_id) == 0
    await owner.insert(4, "!")
    await viewer.until(lambda: viewer.content() == "no look!")  # a viewer still hears the others


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("MAX_MESSAGE_BYTES", "message_too_large"), ("MAX_DOCUMENT_BYTES", "document_too_large")],
)
async def test_hocuspocus_too_large_closes_that_document_only(
    alice: User, settings: Any, setting: str, reason: str
) -> None:
    """SyncStatus 0 and a CLOSE for that document, nothing of it stored; the socket stays open."""
    limit(settings, **{setting: 1000})
    first, second = await make_doc(alice, "one"), await make_doc(alice, "two")
    mux = await hocus()
    a, b = await hocus_synced(mux, first, alice), await hocus_synced(mux, second, alice)
    await a.insert(0, "x" * 2000)
    await a.until(lambda: a.closes == [reason])
    assert a.statuses[-1] is False
    await b.insert(3, "!")
    await b.until(lambda: b.unsynced == 0)
    assert await stored_text(second) == "two!" and await version_of(first) == 0
    assert await stored_text(first) == "one"
    assert mux.closed is None
    await mux.link.send(codec.PING)
    await mux.pump(0.3)
    assert mux.pongs == 1


async def test_hocuspocus_revocation_and_role_change(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice)
    membership = await add_member(doc_id, bob, "editor")
    owner = await ywebsocket(doc_id, alice)
    mux = await hocus()
    client = await hocus_synced(mux, doc_id, bob)
    assert client.scope == "read-write"
    membership.role = "viewer"
    await database_sync_to_async(membership.save)()
    await client.until(lambda: client.scope == "readonly")
    await client.insert(0, "ignored")  # a downgraded editor's later updates: answered 0, not applied
    await client.until(lambda: client.statuses[-1] is False)
    await owner.pump(0.3)
    assert owner.content() == "" and await version_of(doc_id) == 0
    await database_sync_to_async(membership.delete)()
    await client.until(lambda: client.denied == "access_revoked")
    assert mux.closed is None


async def test_hocuspocus_a_deleted_auth_token_denies_its_documents(alice: User, bob: User) -> None:
    """A token sent in the auth message (not the handshake's) is watched too: deleting it denies the
    documents it opened; the socket and a document opened with another token stay."""
    doc_id = await make_doc(alice, public_role="editor")
    mux = await hocus()
    alices, bobs = await hocus_synced(mux, doc_id, alice), await hocus_synced(mux, doc_id + "\0bob", bob)
    await database_sync_to_async(lambda: Token.objects.filter(user=alice).delete())()
    await alices.until(lambda: alices.denied == "unauthorized")
    await bobs.insert(0, "still here")
    await bobs.until(lambda: bobs.unsynced == 0)
    assert bobs.denied is None and mux.closed is None
    assert await stored_text(doc_id) == "still here"


async def test_hocuspocus_and_ywebsocket_share_awareness(alice: User, bob: User) -> None:
    doc_id = await make_doc(alice, public_role="editor")
    mux = await hocus()
    h = await hocus_synced(mux, doc_id, alice)
    y = await ywebsocket(doc_id, bob)
    await y.set_awareness({"name": "bob"})
    await h.until(lambda: y.doc.client_id in h.awareness)
    await h.set_awareness({"name": "alice"})
    await y.until(lambda: h.doc.client_id in y.awareness)
    await h.until(lambda: h.doc.client_id in h.awareness)
    await h.send(bytes((codec.Message.CLOSE,)))  # the provider detaches the document
    await y.until(lambda: h.doc.client_id not in y.awareness)


async def test_two_versions_of_the_auth_message(alice: User) -> None:
    """2.x/3.x send the token alone; 4.x adds the provider version."""
    doc_id = await make_doc(alice, "v")
    mux = await hocus()
    old = await hocus_synced(mux, doc_id + "\0old", alice, version=None)
    new = await hocus_synced(mux, doc_id + "\0new", alice, version="4.1.0")
    assert old.scope == new.scope == "read-write"


async def test_a_failed_store_drops_the_room_and_closes_1011(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc_id = await make_doc(alice, "kept")
    client = await ywebsocket(doc_id, alice)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(yjs_room, "_append", database_sync_to_async(broken))
    await client.insert(4, " lost")
    await client.pump(0.5)
    assert client.closed == 1011
    assert yjs_room.loaded(doc_id) is None  # the next connection loads what the database has
    monkeypatch.setattr(yjs_room, "_append", database_sync_to_async(storage.append))
    again = await ywebsocket(doc_id, alice)
    assert again.content() == "kept"


async def test_hocuspocus_without_an_auth_message_opens_as_the_socket_user(alice: User) -> None:
    """2.x providers without a token send no auth message: after a moment, the socket's user is used."""
    doc_id = await make_doc(alice, "public", public_role="editor")
    mux = await hocus()
    client = mux.add(doc_id)
    client.unsynced = 1
    await client.send(codec.sync_step1(bytes(client.doc.get_state())))
    await client.until(lambda: client.scope == "read-write" and client.synced and client.unsynced == 0)
    assert client.content() == "public"
    private = await make_doc(alice, "private")
    other = mux.add(private)
    await other.send(codec.sync_step1(bytes(other.doc.get_state())))
    await other.until(lambda: other.denied == "unauthorized")


async def test_a_stored_batch_is_relayed_as_one_merged_update(alice: User) -> None:
    """Updates stored together go out as one frame per connection (as the text kind's ops frames)."""
    doc_id = await make_doc(alice)
    room = await yjs_room.open_room(doc_id)

    class Listener:
        session = "listener"
        bodies: list[bytes] = []

        def send_body(self, body: bytes) -> None:
            self.bodies.append(body)

        def send_awareness(self, update: bytes, entries: list[codec.AwarenessEntry]) -> None:
            self.bodies.append(codec.awareness(update))

        def room_failed(self) -> None:
            raise AssertionError("the room broke")

    listener = Listener()
    room.attach(listener)
    writer = pycrdt.Doc()
    text = writer.get("content", type=pycrdt.Text)
    futures = []
    for piece in ("c😀", "b", "a"):  # offered before the first store: one batch
        before = writer.get_state()
        text.insert(0, piece)
        futures.append(room.offer(writer.get_update(before)))
    await asyncio.gather(*futures)
    assert len(listener.bodies) == 1
    reader = pycrdt.Doc()
    reader.apply_update(codec.read_sync(codec.Reader(listener.bodies[0][1:])).payload)
    assert str(reader.get("content", type=pycrdt.Text)) == "abc😀" == await stored_text(doc_id)
    room.detach(listener)
