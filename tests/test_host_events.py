"""collab.events: the host's Django signals, sent after commit (none on rollback), one
``edits_committed`` per committed batch from every write path (REST, the live committer, yjs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from django.dispatch import Signal

from collab import editing, events
from collab.models import Document, Membership
from collab.yjs import documents as yjs_documents
from tests.conftest import client_for
from tests.test_consumers import edit, join
from tests.test_yjs_consumers import ywebsocket

ALL = {name: getattr(events, name) for name in events.__all__}


@contextmanager
def heard(*names: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every event of ``names`` (all by default) as a host receiver gets it, with whether a
    transaction was still open then."""
    seen: list[tuple[str, dict[str, Any]]] = []
    receivers: list[tuple[Signal, Callable[..., None]]] = []
    for name in names or tuple(ALL):

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            seen.append(
                (
                    name,
                    {**kwargs, "sender": sender, "in_atomic": transaction.get_connection().in_atomic_block},
                )
            )

        ALL[name].connect(receiver, weak=False)
        receivers.append((ALL[name], receiver))
    try:
        yield seen
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)


def names(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in seen]


@pytest.mark.django_db(transaction=True)
def test_rest_writes_send_each_event_after_commit(alice: User, bob: User) -> None:
    api = client_for(alice)
    with heard() as seen:
        doc_id = api.post("/api/documents/", {"title": "Notes", "content": "hi"}, format="json").json()["id"]
        api.patch(f"/api/documents/{doc_id}/", {"content": "hi there"}, format="json")
        api.post(f"/api/documents/{doc_id}/members/", {"username": "bob", "role": "viewer"}, format="json")
        api.patch(f"/api/documents/{doc_id}/members/bob/", {"role": "editor"}, format="json")
        api.delete(f"/api/documents/{doc_id}/members/bob/")
        api.delete(f"/api/documents/{doc_id}/")
    assert names(seen) == [
        "document_created",
        "edits_committed",
        "member_added",
        "member_changed",
        "member_removed",
        "document_deleted",
    ]
    assert not any(kwargs["in_atomic"] for _, kwargs in seen)  # all after commit
    created, edited, added, changed, removed, deleted = (kwargs for _, kwargs in seen)
    assert created["sender"] is Document and str(created["document"].pk) == doc_id
    assert edited["versions"] == [1] and edited["kind"] == "text"
    assert edited["document"].content == "hi there" and edited["document"].version == 1
    assert (added["user_id"], added["role"], added["document_id"]) == (bob.pk, "viewer", doc_id)
    assert changed["role"] == "editor" and removed["role"] == "editor" and removed["sender"] is Membership
    assert deleted["document_id"] == doc_id and deleted["document"].title == "Notes"


@pytest.mark.django_db(transaction=True)
def test_a_rollback_sends_nothing(alice: User) -> None:
    with heard() as seen, transaction.atomic():
        doc = editing.create_document(owner=alice, title="Notes", content="x")
        editing.commit(editing.EditRequest(doc.pk, 0, [1, "y"], user=alice))
        transaction.set_rollback(True)
    assert seen == []


@pytest.mark.django_db(transaction=True)
def test_a_deleted_document_takes_its_memberships_without_member_removed(alice: User, bob: User) -> None:
    doc = editing.create_document(owner=alice, title="Notes")
    Membership.objects.create(document=doc, user=bob, role="editor")
    with heard() as seen:
        doc.delete()
    assert names(seen) == ["document_deleted"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_is_logged_and_changes_nothing(alice: User, caplog: Any) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("host bug")

    events.document_created.connect(broken, weak=False)
    try:
        doc = editing.create_document(owner=alice, title="Notes")
    finally:
        events.document_created.disconnect(broken)
    assert Document.objects.filter(pk=doc.pk).exists()
    assert "host bug" in caplog.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_live_edits_send_one_event_per_committed_batch_and_presence(alice: User) -> None:
    doc = await database_sync_to_async(editing.create_document)(owner=alice, title="Notes", content="")
    with heard("edits_committed", "presence_joined", "presence_left") as seen:
        a = await join(doc.pk, alice)
        session = a.hello["payload"]["session"]
        for seq in range(1, 4):  # pipelined: the group commit may take them in one batch or several
            await a.send("edit", edit(seq - 1, [seq - 1, "x"] if seq > 1 else ["x"], seq))
        for _ in range(3):
            await a.recv_type("ack")
        await a.close()
        for _ in range(50):
            if "presence_left" in names(seen):
                break
            await asyncio.sleep(0.05)
    batches = [kwargs["versions"] for name, kwargs in seen if name == "edits_committed"]
    assert [v for batch in batches for v in batch] == [1, 2, 3]
    assert all(
        kwargs["document"].version >= kwargs["versions"][-1] for n, kwargs in seen if n == "edits_committed"
    )
    joined = [kwargs for name, kwargs in seen if name == "presence_joined"]
    left = [kwargs for name, kwargs in seen if name == "presence_left"]
    assert [(j["document_id"], j["session"], j["role"], j["user"]["id"]) for j in joined] == [
        (str(doc.pk), session, "owner", alice.pk)
    ]
    assert [(x["document_id"], x["session"]) for x in left] == [(str(doc.pk), session)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_yjs_updates_send_edits_committed(alice: User) -> None:
    doc = await database_sync_to_async(yjs_documents.create)(owner=alice, title="y", content="ab")
    with heard("edits_committed") as seen:
        client = await ywebsocket(str(doc.pk), alice)
        client.type(2, "c")
        await client.flush()
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.05)
        await client.close()
    ((_, kwargs),) = seen
    assert kwargs["kind"] == "yjs" and kwargs["versions"] == [kwargs["document"].version]
