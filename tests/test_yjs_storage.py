"""The yjs update log: append, load, catch-up, compaction (state identical), the text of content."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
from django.test import override_settings

from collab.models import YjsSnapshot, YjsUpdate
from collab.yjs import documents, storage
from collab.yjs.storage import Incoming

pytestmark = pytest.mark.django_db


def edits(n: int, seed: int = 1) -> list[bytes]:
    """n updates of one client typing and deleting in the root Y.Text ``content``."""
    doc = pycrdt.Doc(client_id=seed)
    text = doc.get("content", type=pycrdt.Text)
    out: list[bytes] = []
    subscription = doc.observe(lambda event: out.append(bytes(event.update)))
    for i in range(n):
        if i % 5 == 4:  # delete the first character (pycrdt counts UTF-8 bytes)
            del text[0 : len(str(text)[0].encode())]
        else:
            text.insert(len(str(text).encode()), f"{i}😀")
    doc.unobserve(subscription)
    return out


def replay(parts: storage.Parts) -> pycrdt.Doc:
    doc = pycrdt.Doc()
    for part in parts.parts:
        doc.apply_update(part)
    return doc


def test_append_gives_consecutive_versions_and_load_replays_them(alice: Any) -> None:
    document = documents.create(owner=alice, title="y", content="start ")
    updates = edits(7)
    first = storage.append(document.pk, [Incoming(u, alice) for u in updates[:3]], known=0)
    second = storage.append(document.pk, [Incoming(u) for u in updates[3:]], known=first.last)
    assert (first.first, first.last, second.first, second.last) == (1, 3, 4, 7)
    assert second.missed is None
    document.refresh_from_db()
    assert document.version == 7
    loaded = storage.load(document.pk)
    assert loaded.version == 7
    expected = pycrdt.Doc()
    expected.apply_update(storage.load(document.pk).parts[0])
    for u in updates:
        expected.apply_update(u)
    assert storage.text_of(loaded) == str(expected.get("content", type=pycrdt.Text))
    assert "start " in storage.text_of(loaded) and "6😀" in storage.text_of(loaded)


def test_append_reports_what_the_caller_missed(alice: Any) -> None:
    document = documents.create(owner=alice, title="y")
    updates = edits(4)
    storage.append(document.pk, [Incoming(u) for u in updates[:2]], known=0)
    done = storage.append(document.pk, [Incoming(updates[2])], known=0)
    assert done.missed is not None and done.missed.version == 2
    assert list(done.missed.parts) == updates[:2]


@override_settings(COLLAB={**__import__("django.conf").conf.settings.COLLAB, "YJS_COMPACT_EVERY": 5})
def test_compaction_keeps_the_state_identical_and_bounds_the_log(alice: Any) -> None:
    document = documents.create(owner=alice, title="y", content="héllo")
    updates = edits(40, seed=7)
    for u in updates[:20]:
        storage.append(document.pk, [Incoming(u)])
    before = replay(storage.load(document.pk))
    assert storage.compact(document.pk) == 20
    after = replay(storage.load(document.pk))
    assert after.get_state() == before.get_state()
    assert str(after.get("content", type=pycrdt.Text)) == str(before.get("content", type=pycrdt.Text))
    # one generation is kept: the updates after the previous snapshot (0) are gone only after the next
    for u in updates[20:]:
        storage.append(document.pk, [Incoming(u)])
    assert storage.compact(document.pk) == 40
    assert set(YjsSnapshot.objects.filter(document=document).values_list("version", flat=True)) == {20, 40}
    assert YjsUpdate.objects.filter(document=document, version__lte=20).count() == 0
    assert YjsUpdate.objects.filter(document=document).count() == 20
    final = replay(storage.load(document.pk))
    whole = pycrdt.Doc()
    whole.apply_update(YjsSnapshot.objects.get(document=document, version=20).state)
    for u in updates[20:]:
        whole.apply_update(u)
    assert final.get_state() == whole.get_state()
    assert str(final.get("content", type=pycrdt.Text)) == str(whole.get("content", type=pycrdt.Text))
    document.refresh_from_db()
    assert document.version == 40  # the version only grows across compaction
    # a copy that knew version 3 (compacted away) catches up from the snapshot
    catch_up = storage.since(document.pk, 3)
    assert catch_up.version == 40 and len(catch_up.parts) == 1
    assert "38😀" in str(final.get("content", type=pycrdt.Text))


def test_compaction_with_nothing_new_does_nothing(alice: Any) -> None:
    document = documents.create(owner=alice, title="y")
    assert storage.compact(document.pk) is None


def test_text_of_a_document_without_a_text_root_is_empty() -> None:
    doc = pycrdt.Doc()
    doc["content"] = pycrdt.XmlFragment([pycrdt.XmlText("rich")])
    assert storage.text_of([bytes(doc.get_update())]) == ""
