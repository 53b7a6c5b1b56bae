"""Compaction while clients are connected: live editing goes on; sync and edits from before the kept
history answer ``history_unavailable`` (WebSocket, through Channels' communicator)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from collab import compaction
from collab.models import Document, Operation
from tests.test_consumers import edit, join, new_doc

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def compact_all_but_the_last(doc: Document) -> int | None:
    """Age every op but the newest by two days, then compact with one day of retention."""
    newest = Operation.objects.filter(document=doc).order_by("-version").first()
    assert newest is not None
    old = timezone.now() - timedelta(days=2)
    Operation.objects.filter(document=doc).exclude(pk=newest.pk).update(created_at=old)
    doc.refresh_from_db()
    return compaction.compact_document(doc, retention=86400).floor


async def test_compaction_under_live_clients(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "", public_role="editor")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    for seq in range(1, 6):
        await a.send("edit", edit(seq - 1, [seq - 1, "x"], seq, "ca"))
        assert (await a.recv_type("ack"))["payload"]["version"] == seq
        assert (await b.recv_type("op"))["payload"]["version"] == seq
    assert await compact_all_but_the_last(doc) == 4
    # live editing goes on at the current version, for both
    await b.send("edit", edit(5, ["y"], 1, "cb"))
    assert (await b.recv_type("ack"))["payload"]["version"] == 6
    assert (await a.recv_type("op"))["payload"]["op"] == ["y"]
    await a.send("sync", {"version": 4})  # from the floor on: fine
    assert [o["version"] for o in (await a.recv_type("ops"))["payload"]["ops"]] == [5, 6]
    # from before the kept history: a coded error, the connection stays open
    await a.send("sync", {"version": 1})
    error = (await a.recv_type("error"))["payload"]
    assert error["code"] == "history_unavailable" and "no longer kept" in error["message"]
    await a.send("edit", edit(2, ["z"], 6, "ca"))  # based on a compacted version
    error = (await a.recv_type("error"))["payload"]
    assert error["code"] == "history_unavailable" and error["ref"] == {"client_id": "ca", "seq": 6}
    await a.send("edit", edit(6, [6, "!"], 7, "ca"))
    assert (await a.recv_type("ack"))["payload"]["version"] == 7
    late = await join(doc.pk, bob)  # a new connection starts from the current text
    document = late.hello["payload"]["document"]
    assert (document["version"], document["content"]) == (7, "yxxxxx!")
    for client in (a, b, late):
        await client.close()
