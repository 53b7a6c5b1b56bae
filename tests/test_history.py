"""History: automatic and named versions, text at a version, diff, blame, restore, and compaction.

Time passes by moving timestamps (``age``), never by sleeping. Each text
document's expected state comes from an independent model: the texts and the
per-character authors computed here from the ops the test committed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pycrdt
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from pytest_django import Settings

from collab import compaction, editing, history, versions
from collab.editing import CommittedOp, EditRequest
from collab.exceptions import HistoryUnavailable, NotFound
from collab.models import CompactedHistory, Document, DocumentVersion, Operation, Snapshot, YjsUpdate
from collab.ot import apply
from collab.yjs import documents as yjs_documents
from collab.yjs import history as yjs_history
from collab.yjs import storage as yjs_storage
from tests.conftest import Publication

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _history_settings(settings: Settings) -> None:
    settings.COLLAB = {
        **settings.COLLAB,
        "HISTORY_IDLE": 300,
        "HISTORY_AUTOMATIC_MAX": 100,
        "SNAPSHOT_EVERY": 10,
    }


def new_doc(owner: User, content: str = "") -> Document:
    return editing.create_document(owner=owner, title="Doc", content=content, public_role="none")


def edit(document: Document, op: list[Any], user: User | None = None) -> CommittedOp:
    document.refresh_from_db()
    done = editing.commit(EditRequest(document.pk, document.version, op, user=user))
    document.refresh_from_db()
    return done


def age(document: Document, seconds: float) -> None:
    """Make everything about the document ``seconds`` older (its ops, snapshots, versions, last change)."""
    delta = timedelta(seconds=seconds)
    for row in Operation.objects.filter(document=document):
        Operation.objects.filter(pk=row.pk).update(created_at=row.created_at - delta)
    for kept in DocumentVersion.objects.filter(document=document):
        DocumentVersion.objects.filter(pk=kept.pk).update(created_at=kept.created_at - delta)
    Document.objects.filter(pk=document.pk).update(updated_at=document.updated_at - delta)
    document.refresh_from_db()


# -- automatic versions --------------------------------------------------------------
def test_the_first_edit_after_a_pause_keeps_the_version_before_it(alice: User) -> None:
    doc = new_doc(alice, "draft")
    edit(doc, [5, " one"], alice)
    edit(doc, [9, " two"], alice)
    assert not DocumentVersion.objects.filter(document=doc).exists()  # no pause yet
    age(doc, 299)
    edit(doc, [13, " three"], alice)
    assert not DocumentVersion.objects.exists()  # 299 s is not a pause
    age(doc, 301)
    edit(doc, ["> "], alice)
    (kept,) = DocumentVersion.objects.filter(document=doc)
    assert (kept.version, kept.automatic, kept.name, kept.author) == (3, True, "", None)
    assert history.text_at(doc, kept.version) == "draft one two three"


def test_automatic_versions_are_capped_named_ones_are_not(alice: User, settings: Settings) -> None:
    settings.COLLAB = {**settings.COLLAB, "HISTORY_AUTOMATIC_MAX": 3}
    doc = new_doc(alice)
    history.pin(doc, name="start", user=alice)
    for i in range(6):
        age(doc, 600)
        edit(doc, [i, "x"], alice)
    autos = list(
        DocumentVersion.objects.filter(document=doc, automatic=True).values_list("version", flat=True)
    )
    assert autos == [5, 4, 3]  # the newest three
    assert DocumentVersion.objects.filter(document=doc, automatic=False).count() == 1


def test_idle_setting_zero_turns_automatic_versions_off(alice: User, settings: Settings) -> None:
    settings.COLLAB = {**settings.COLLAB, "HISTORY_IDLE": 0}
    doc = new_doc(alice)
    age(doc, 10_000)
    edit(doc, ["x"], alice)
    assert not DocumentVersion.objects.exists()


def test_a_yjs_document_keeps_its_state_before_a_pause(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="hello")
    yjs_documents.replace_text(doc, "hello world", user=alice)
    doc.refresh_from_db()
    age(doc, 600)
    yjs_documents.replace_text(doc, "hello world!", user=alice)
    doc.refresh_from_db()
    (kept,) = DocumentVersion.objects.filter(document=doc)
    assert kept.automatic and kept.version == 1 and kept.state is not None
    assert yjs_history.readable(bytes(kept.state)) == "hello world"


# -- named versions and the text at a version ------------------------------------------
def test_pin_names_the_current_version_and_keeps_its_text(alice: User) -> None:
    doc = new_doc(alice, "v0")
    edit(doc, [2, " then"], alice)
    kept = history.pin(doc, name="First draft", description="for review", user=alice)
    assert (kept.version, kept.name, kept.description, kept.author, kept.automatic) == (
        1, "First draft", "for review", alice, False,
    )  # fmt: skip
    assert kept.content == "v0 then"
    edit(doc, [0, "!"], alice)
    assert history.text_at(doc, 1) == "v0 then"
    older = history.pin(doc, name="the start", user=alice, version=0)
    assert older.content == "v0"
    with pytest.raises(NotFound, match="current version is 2"):
        history.pin(doc, name="future", user=alice, version=3)


def test_naming_an_automatic_version_makes_it_named(alice: User, bob: User) -> None:
    doc = new_doc(alice, "a")
    age(doc, 600)
    edit(doc, [1, "b"], alice)
    auto = DocumentVersion.objects.get(document=doc)
    assert auto.automatic and auto.content is None
    history.rename(doc, auto, user=bob, name="Before b")
    auto.refresh_from_db()
    assert (auto.automatic, auto.name, auto.author, auto.content) == (False, "Before b", bob, "a")
    pinned = history.pin(doc, name="now", user=alice)
    assert DocumentVersion.objects.filter(document=doc).count() == 2 and pinned.version == 1


# -- diff ------------------------------------------------------------------------------
def test_diff_composes_the_logged_ops_and_names_the_writers(alice: User, bob: User) -> None:
    doc = new_doc(alice, "hello world")
    edit(doc, [6, -5, "there"], alice)  # hello there
    edit(doc, [11, ", bob here"], bob)  # hello there, bob here
    found = history.diff(doc, 0, 2)
    assert found.composed and apply("hello world", found.op) == "hello there, bob here"
    assert [(s.kind, s.text, s.user) for s in found.spans] == [
        ("equal", "hello ", None),
        ("inserted", "there", alice.pk),
        ("inserted", ", bob here", bob.pk),
        ("deleted", "world", None),  # normalized ops put inserts before deletes where they meet
    ]
    assert [(s.first, s.last) for s in found.spans if s.kind == "inserted"] == [(1, 1), (2, 2)]
    back = history.diff(doc, 2, 0)  # newer to older: the inverse
    assert apply("hello there, bob here", back.op) == "hello world"
    assert "".join(s.text for s in back.spans if s.kind != "deleted") == "hello world"
    with pytest.raises(NotFound, match="Version 3 does not exist"):
        history.diff(doc, 0, 3)


def test_diff_is_a_text_diff_where_the_log_is_gone(alice: User) -> None:
    doc = new_doc(alice, "one\ntwo\n")
    edit(doc, [0, "ONE", -3], alice)
    history.pin(doc, name="caps", user=alice)
    edit(doc, [8, "three\n"], alice)
    age(doc, 3600)
    compaction.compact_document(doc, retention=60)
    assert not Operation.objects.filter(document=doc).exists()
    found = history.diff(doc, 1, 2)  # a named version (kept text) against the current text
    assert not found.composed
    assert [(s.kind, s.text) for s in found.spans] == [("equal", "ONE\ntwo\n"), ("inserted", "three\n")]
    assert found.spans[-1].user == alice.pk  # the authors of the current text survive compaction
    with pytest.raises(HistoryUnavailable):
        history.diff(doc, 0, 2)  # version 0: neither kept nor in the log


# -- blame -------------------------------------------------------------------------------
def test_blame_gives_each_span_its_writer_and_versions(alice: User, bob: User) -> None:
    doc = new_doc(alice, "base")
    edit(doc, [4, " alice"], alice)
    edit(doc, [0, "bob: "], bob)
    edit(doc, [9, -6], bob)  # bob deletes " alice"
    edit(doc, [9, " again"], alice)
    spans = history.blame(doc)
    assert "".join(s.text for s in spans) == doc.content == "bob: base again"
    assert [(s.text, s.user, s.first) for s in spans] == [
        ("bob: ", bob.pk, 2),
        ("base", None, 0),
        (" again", alice.pk, 4),
    ]


def test_blame_is_for_text_documents(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="x")
    with pytest.raises(history.WrongKind):
        history.blame(doc)


# -- restore ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_restore_commits_one_op_published_after_commit(alice: User, published: list[Publication]) -> None:
    doc = new_doc(alice, "alpha\nbeta\n")
    edit(doc, [6, "BETA", -4], alice)
    edit(doc, [11, "gamma\n"], alice)
    published.clear()
    done = history.restore(doc, 0, user=alice)
    doc.refresh_from_db()
    assert (done.version, done.restored, done.changed) == (3, 0, True)
    assert doc.content == "alpha\nbeta\n" and doc.version == 3
    assert [p.versions for p in published] == [[3]] and not published[0].in_transaction
    assert Operation.objects.filter(document=doc).count() == 3  # history intact: nothing rewritten
    again = history.restore(doc, 2, user=alice)  # restoring is undone by restoring again
    doc.refresh_from_db()
    assert again.version == 4 and doc.content == "alpha\nBETA\ngamma\n"
    same = history.restore(doc, 4, user=alice)
    assert (same.version, same.changed) == (4, False)


def test_restore_merges_with_edits_made_meanwhile(alice: User, bob: User) -> None:
    doc = new_doc(alice, "title\nbody\n")
    edit(doc, [6, "BODY", -4], alice)
    stale = Document.objects.get(pk=doc.pk)  # the restore was decided on version 1
    edit(doc, ["# "], bob)
    history.restore(stale, 0, user=alice)
    doc.refresh_from_db()
    assert doc.content == "# title\nbody\n"  # bob's edit survives


def test_restore_of_a_yjs_document_edits_text_and_rich_text_roots(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="hello")
    rich = pycrdt.Doc()
    for part in yjs_storage.load(doc.pk).parts:
        rich.apply_update(part)
    fragment = rich.get("default", type=pycrdt.XmlFragment)
    paragraph = fragment.children.append(pycrdt.XmlElement("paragraph"))
    paragraph.children.append(pycrdt.XmlText("first"))
    yjs_documents.apply_update(doc, bytes(rich.get_update()), user=alice)
    doc.refresh_from_db()
    kept = history.pin(doc, name="v1", user=alice)
    yjs_documents.replace_text(doc, "hello world", user=alice)
    doc.refresh_from_db()
    later = pycrdt.Doc()
    for part in yjs_storage.load(doc.pk).parts:
        later.apply_update(part)
    later_fragment = later.get("default", type=pycrdt.XmlFragment)
    later_fragment.children.append(pycrdt.XmlElement("heading")).children.append(pycrdt.XmlText("added"))
    yjs_documents.apply_update(doc, bytes(later.get_update()), user=alice)
    doc.refresh_from_db()
    assert yjs_documents.text(doc) == "hello world"
    done = history.restore(doc, kept.version, user=alice)
    doc.refresh_from_db()
    assert done.changed and doc.version == done.version
    state = yjs_storage.load(doc.pk)
    assert yjs_storage.text_of(state) == "hello"
    restored = pycrdt.Doc()
    for part in state.parts:
        restored.apply_update(part)
    assert str(restored.get("default", type=pycrdt.XmlFragment)) == "<paragraph>first</paragraph>"


# -- compaction ------------------------------------------------------------------------
def test_compaction_folds_old_ops_into_a_snapshot_and_keeps_what_matters(alice: User, bob: User) -> None:
    doc = new_doc(alice, "start")
    texts = [doc.content]
    for i in range(25):
        edit(doc, [len(doc.content), f" {i}"], alice if i % 2 else bob)
        texts.append(doc.content)
    history.pin(doc, name="at 5", user=alice, version=5)
    blame_before = history.blame(doc)
    age(doc, 7200)
    for i in range(3):  # recent ops: kept
        edit(doc, [0, f"{i}"], bob)
        texts.append(doc.content)
    report = compaction.compact_document(doc, retention=3600)
    assert (report.floor, report.ops_deleted) == (25, 25)
    assert list(Operation.objects.filter(document=doc).values_list("version", flat=True)) == [26, 27, 28]
    assert list(Snapshot.objects.filter(document=doc).values_list("version", flat=True)) == [25]
    assert CompactedHistory.objects.get(document=doc).version == 25
    # current text, named versions and every version since the floor are still there
    assert history.text_at(doc, 5) == texts[5]
    for version in range(25, 29):
        assert history.text_at(doc, version) == texts[version]
    with pytest.raises(HistoryUnavailable):
        history.text_at(doc, 7)
    # blame survives (the three new prefixes are bob's)
    after = history.blame(doc)
    assert "".join(s.text for s in after) == doc.content
    assert [(s.text, s.user) for s in after[1:]] == [(s.text, s.user) for s in blame_before]
    # reading or editing from before the floor: history_unavailable
    with pytest.raises(HistoryUnavailable, match="compacted"):
        editing.sync_ops(doc.pk, 3)
    with pytest.raises(HistoryUnavailable):
        editing.ops_since(doc.pk, 0)
    assert [o.version for o in editing.ops_since(doc.pk, 25)] == [26, 27, 28]
    with pytest.raises(HistoryUnavailable):
        editing.commit(EditRequest(doc.pk, 3, ["x"], user=alice))
    assert edit(doc, ["ok "], alice).version == 29  # edits at current versions go on
    assert compaction.compact_document(doc, retention=3600).floor is None  # nothing more to fold


def test_compaction_drops_automatic_versions_before_the_floor(alice: User) -> None:
    doc = new_doc(alice)
    for i in range(4):
        age(doc, 600)
        edit(doc, [i, "x"], alice)
    assert list(DocumentVersion.objects.filter(document=doc).values_list("version", flat=True)) == [
        3,
        2,
        1,
        0,
    ]
    history.pin(doc, name="named", user=alice, version=1)  # the automatic version 1 becomes named
    age(doc, 86400)
    edit(doc, [4, "y"], alice)  # after a pause: version 4 kept too
    compaction.compact_document(doc, retention=3600)
    rows = DocumentVersion.objects.filter(document=doc)
    assert sorted((r.version, r.automatic) for r in rows) == [(1, False), (4, True)]


def test_an_idle_document_is_pinned_by_the_command(alice: User) -> None:
    doc = new_doc(alice, "x")
    edit(doc, [1, "y"], alice)
    age(doc, 600)
    call_command("collab_compact", "--retention", "0", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(DocumentVersion.objects.filter(document=doc).values_list("version", "automatic")) == [
        (1, True)
    ]
    assert Operation.objects.filter(document=doc).count() == 1  # retention 0: every op kept


def test_compaction_of_a_yjs_document_merges_its_log_and_ages_out_automatic_versions(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="a")
    for text in ("ab", "abc", "abcd"):
        yjs_documents.replace_text(doc, text, user=alice)
        doc.refresh_from_db()
    versions.pin_automatic(doc.pk, 1, state=yjs_history.merged(yjs_history.state_at(doc, 1)))
    DocumentVersion.objects.update(created_at=timezone.now() - timedelta(days=2))
    report = compaction.compact_document(doc, retention=86400)
    assert report.yjs_snapshot == 3 and report.automatic_deleted == 1
    assert YjsUpdate.objects.filter(document=doc).count() == 3  # one generation kept, as live rooms do
    assert yjs_documents.text(doc) == "abcd"


@pytest.mark.slow
def test_storage_stays_bounded_under_a_long_editing_run(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long run (2,400 edits, one simulated minute apart with a 7-minute pause every 50,
    compaction every 300 edits with an hour of retention) keeps the ops, snapshots and automatic
    versions of the document bounded, while blame, named versions and the text stay right."""
    clock = [timezone.now() - timedelta(days=10)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])  # one clock for the write path and compaction
    doc = new_doc(alice, "")
    model: list[tuple[str, int | None]] = []  # (character, user id) of the current text
    sizes = []
    named = {}
    for i in range(1, 2401):
        user = alice if i % 3 else bob
        pos = (i * 7) % (len(model) + 1)
        if i % 5 == 0 and model:
            pos = min(pos, len(model) - 1)
            op: list[Any] = [pos, -1] if pos else [-1]
            del model[pos]
        else:
            op = [pos, "ab"] if pos else ["ab"]
            model[pos:pos] = [("a", user.pk), ("b", user.pk)]
        clock[0] += timedelta(seconds=420 if i % 50 == 0 else 60)
        editing.commit(EditRequest(doc.pk, i - 1, op, user=user))
        if i % 500 == 0:
            doc.refresh_from_db()
            named[i] = history.pin(doc, name=f"at {i}", user=alice).pk
        if i % 300 == 0:
            doc.refresh_from_db()
            compaction.compact_document(doc, retention=3600)
            sizes.append(
                (
                    Operation.objects.filter(document=doc).count(),
                    Snapshot.objects.filter(document=doc).count(),
                    DocumentVersion.objects.filter(document=doc, automatic=True).count(),
                )
            )
    doc.refresh_from_db()
    assert doc.version == 2400 and doc.content == "".join(c for c, _ in model)
    # an hour of retention at one edit a minute: about 60 ops, 6 snapshots, 1-2 automatic versions
    assert all(ops <= 61 and snaps <= 8 and autos <= 2 for ops, snaps, autos in sizes), sizes
    assert Operation.objects.filter(document=doc).count() <= 61 + 300
    got = [(ch, s.user) for s in history.blame(doc) for ch in s.text]
    assert got == model
    for version, pk in named.items():
        kept = DocumentVersion.objects.get(pk=pk)
        assert kept.version == version and history.text_at(doc, version) == kept.content
