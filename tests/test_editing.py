"""The commit path (``collab.editing``): versions, transformation, dedupe, limits, history, concurrency.

Every change to a document's text goes through ``commit()``/``commit_many()``::

    done = editing.commit(EditRequest(doc.pk, version=0, op=[5, "!"], user=alice))
    assert done.version == 1

The invariant checked everywhere: ``Document.content`` equals replaying the op
log on the version-0 snapshot, and versions are gapless. The concurrency test
runs on SQLite here and, marked ``postgres``, on PostgreSQL in the CI's second
run (``DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pytest -m postgres``).
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from pytest_django import Settings

from collab import editing
from collab.editing import CommittedOp, EditRequest
from collab.exceptions import CollabError, DocumentTooLarge, InvalidOp, NotFound, VersionAhead
from collab.models import Document, Operation, Snapshot
from collab.ot import apply
from tests.conftest import IN_CI
from tests.support.publications import Publication


def new_doc(owner: User, content: str = "") -> Document:
    return editing.create_document(owner=owner, title="t", content=content)


def replay(document: Document) -> str:
    """The text at the current version, rebuilt from the version-0 snapshot and every op."""
    text = Snapshot.objects.get(document=document, version=0).content
    versions = []
    for version, op in (
        Operation.objects.filter(document=document).order_by("version").values_list("version", "op")
    ):
        versions.append(version)
        text = apply(text, op)
    assert versions == list(range(1, len(versions) + 1)), "versions have gaps"
    return text


def assert_consistent(document: Document) -> None:
    document.refresh_from_db()
    assert Operation.objects.filter(document=document).count() == document.version
    assert replay(document) == document.content


def append(length: int, text: str) -> list[Any]:
    """The op that appends ``text`` to a text of ``length`` code points."""
    return [length, text] if length else [text]


def random_op(rng: random.Random, text: str) -> list[Any]:
    """A valid, often non-normalized op on ``text`` (split retains, trailing retain, delete before insert)."""
    op: list[Any] = []
    pos, n = 0, len(text)
    while pos < n and rng.random() < 0.75:
        kind = rng.choice("rrid")
        if kind == "r":
            k = rng.randint(1, n - pos)
            op.append(k)
            pos += k
        elif kind == "i":
            op.append(rng.choice(["a", "é", "🎉", "xy", " ", "\n"]))
        else:
            k = rng.randint(1, min(3, n - pos))
            op.append(-k)
            pos += k
    if rng.random() < 0.5:
        op.append(rng.choice(["z", "🙂", "end"]))
    if pos < n and rng.random() < 0.3:
        op.append(n - pos)
    return op


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- commit() ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_versions_increment_without_gaps(alice: User) -> None:
    doc = new_doc(alice, "abc")
    for expected in range(1, 6):
        done = editing.commit(EditRequest(doc.pk, expected - 1, ["x"], user=alice))
        assert done.version == expected
        assert not done.duplicate
    doc.refresh_from_db()
    assert (doc.version, doc.content) == (5, "xxxxxabc")
    assert list(Operation.objects.filter(document=doc).values_list("version", flat=True)) == [1, 2, 3, 4, 5]
    assert_consistent(doc)


@pytest.mark.django_db
def test_committed_op_carries_who_and_what(alice: User) -> None:
    doc = new_doc(alice, "abc")
    done = editing.commit(
        EditRequest(doc.pk, 0, [1, 1, "x", "y", 1], user=alice, client_id="tab", seq=3, session="s-1")
    )
    assert done.op == [2, "xy"], "stored and returned normalized"
    assert (done.client_id, done.seq, done.session, done.document_id) == ("tab", 3, "s-1", str(doc.pk))
    assert done.user == {"id": alice.pk, "name": "Alice Liddell", "color": done.user["color"]}
    row = Operation.objects.get(document=doc, version=1)
    assert (row.op, row.user, row.client_id, row.seq, row.session) == ([2, "xy"], alice, "tab", 3, "s-1")
    assert done.payload() == {
        "version": 1,
        "op": [2, "xy"],
        "client_id": "tab",
        "seq": 3,
        "session": "s-1",
        "user": done.user,
    }


@pytest.mark.django_db
def test_anonymous_edits_are_stored_without_a_user(alice: User) -> None:
    from django.contrib.auth.models import AnonymousUser

    doc = new_doc(alice, "abc")
    done = editing.commit(EditRequest(doc.pk, 0, ["x"], user=AnonymousUser(), session="abcd1234"))
    assert Operation.objects.get(document=doc).user is None
    assert done.user["id"] is None and done.user["name"] == "Guest abcd"


@pytest.mark.django_db
def test_concurrent_inserts_at_one_position_first_committed_is_left(alice: User) -> None:
    doc = new_doc(alice, "ab")
    first = editing.commit(EditRequest(doc.pk, 0, [1, "X"]))
    second = editing.commit(EditRequest(doc.pk, 0, [1, "Y"]))
    assert (first.version, second.version) == (1, 2)
    assert second.op == [2, "Y"], "transformed past the first insert"
    doc.refresh_from_db()
    assert doc.content == "aXYb"
    assert_consistent(doc)


@pytest.mark.django_db
def test_transform_against_everything_since_the_base(alice: User) -> None:
    doc = new_doc(alice, "hello")
    editing.commit(EditRequest(doc.pk, 0, [5, " world"]))
    editing.commit(EditRequest(doc.pk, 1, ["Oh, "]))
    editing.commit(EditRequest(doc.pk, 2, [4, -1, "H"]))  # "Oh, Hello world"
    late = editing.commit(EditRequest(doc.pk, 1, [6, -5, "there"]))  # made on "hello world"
    doc.refresh_from_db()
    assert doc.content == "Oh, Hello there"
    assert late.version == 4
    assert_consistent(doc)


@pytest.mark.django_db
def test_an_edit_transformed_to_a_noop_is_still_committed(alice: User) -> None:
    doc = new_doc(alice, "abc")
    editing.commit(EditRequest(doc.pk, 0, [-3]))
    done = editing.commit(EditRequest(doc.pk, 0, [1, -1]))
    assert (done.version, done.op) == (2, [])
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("", 2)


@pytest.mark.django_db(transaction=True)
def test_resending_client_id_and_seq_is_not_committed_twice(
    alice: User, published: list[Publication]
) -> None:
    doc = new_doc(alice, "abc")
    first = editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c1", seq=1))
    editing.commit(EditRequest(doc.pk, 1, ["y"], client_id="c2", seq=1))
    again = editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c1", seq=1))
    assert again.version == first.version == 1
    assert again.duplicate and again.op == first.op
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("yxabc", 2)
    assert Operation.objects.filter(document=doc, client_id="c1", seq=1).count() == 1
    assert [p.versions for p in published] == [[1], [2]], "a resend is not published"


@pytest.mark.django_db
def test_dedupe_is_per_document_and_per_seq(alice: User) -> None:
    doc, other = new_doc(alice, "a"), new_doc(alice, "b")
    editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c", seq=1))
    assert editing.commit(EditRequest(other.pk, 0, ["x"], client_id="c", seq=1)).version == 1
    assert editing.commit(EditRequest(doc.pk, 1, ["x"], client_id="c", seq=2)).version == 2
    # edits without a client_id are never deduplicated
    assert editing.commit(EditRequest(doc.pk, 2, ["x"])).version == 3
    assert editing.commit(EditRequest(doc.pk, 3, ["x"])).version == 4


@pytest.mark.django_db
def test_dedupe_within_one_batch(alice: User) -> None:
    doc = new_doc(alice, "")
    outcomes = editing.commit_many(
        doc.pk,
        [
            EditRequest(doc.pk, 0, ["a"], client_id="c", seq=1),
            EditRequest(doc.pk, 0, ["a"], client_id="c", seq=1),
            EditRequest(doc.pk, 1, [1, "b"], client_id="c", seq=2),
        ],
    )
    assert [o.version for o in outcomes if isinstance(o, CommittedOp)] == [1, 1, 2]
    assert isinstance(outcomes[1], CommittedOp) and outcomes[1].duplicate
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("ab", 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "op",
    [[5, "x"], [-5], [10], [4, -1], [1.5], [True], [0, 9], ["", -9], [None], "abc", {"0": 1}, ["\udc00"]],
    ids=repr,
)
def test_invalid_op_leaves_the_document_unchanged(alice: User, op: Any, published: list[Publication]) -> None:
    doc = new_doc(alice, "abc")
    editing.commit(EditRequest(doc.pk, 0, ["x"]))
    with pytest.raises(InvalidOp) as info:
        editing.commit(EditRequest(doc.pk, 1, op, client_id="c", seq=9))
    assert info.value.code == "invalid_op" and info.value.message
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("xabc", 1)
    assert not Operation.objects.filter(client_id="c").exists()
    assert len(published) == 1
    # the (client_id, seq) of a refused edit is not burnt: it can be sent again, fixed
    assert editing.commit(EditRequest(doc.pk, 1, ["y"], client_id="c", seq=9)).version == 2


@pytest.mark.django_db
def test_op_past_the_end_of_its_stale_base_is_invalid(alice: User) -> None:
    doc = new_doc(alice, "abc")
    editing.commit(EditRequest(doc.pk, 0, [3, "defgh"]))
    with pytest.raises(InvalidOp):
        editing.commit(EditRequest(doc.pk, 0, [5, "x"]))  # valid on the text now, not at version 0
    with pytest.raises(InvalidOp):
        editing.commit(EditRequest(doc.pk, 0, [4]))
    assert editing.commit(EditRequest(doc.pk, 0, [3])).version == 2


@pytest.mark.django_db
def test_version_ahead(alice: User) -> None:
    doc = new_doc(alice, "abc")
    with pytest.raises(VersionAhead) as info:
        editing.commit(EditRequest(doc.pk, 1, ["x"]))
    assert info.value.code == "version_ahead" and info.value.http_status == 409
    with pytest.raises(InvalidOp):
        editing.commit(EditRequest(doc.pk, -1, ["x"]))
    doc.refresh_from_db()
    assert doc.version == 0


@pytest.mark.django_db
def test_unknown_document(alice: User) -> None:
    import uuid

    with pytest.raises(NotFound):
        editing.commit(EditRequest(uuid.uuid4(), 0, ["x"]))


@pytest.mark.django_db
def test_document_too_large(alice: User, settings: Settings) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 5}
    doc = new_doc(alice, "abc")
    assert editing.commit(EditRequest(doc.pk, 0, ["🎉🎉"])).version == 1  # 5 code points: at the limit
    with pytest.raises(DocumentTooLarge) as info:
        editing.commit(EditRequest(doc.pk, 1, ["x"]))
    assert info.value.code == "document_too_large"
    # deleting while over the limit is allowed (the result is what counts)
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 2}
    assert editing.commit(EditRequest(doc.pk, 1, [-3])).version == 2
    doc.refresh_from_db()
    assert doc.content == "bc"
    with pytest.raises(DocumentTooLarge):
        editing.create_document(owner=alice, title="big", content="xyz")
    with pytest.raises(DocumentTooLarge):
        editing.replace_content(doc, "xyz", user=alice)
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("bc", 2)


@pytest.mark.django_db(transaction=True)
def test_commit_many_gives_each_request_its_own_outcome(
    alice: User, published: list[Publication], settings: Settings
) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 20}
    doc = new_doc(alice, "abc")
    requests = [
        EditRequest(doc.pk, 0, ["1"], client_id="c", seq=1),  # ok -> v1
        EditRequest(doc.pk, 0, [9, "x"]),  # past the end
        EditRequest(doc.pk, 5, ["x"]),  # version ahead
        EditRequest(doc.pk, 0, [3, "2"]),  # ok, transformed -> v2
        EditRequest(doc.pk, 0, ["1"], client_id="c", seq=1),  # duplicate of the first
        EditRequest(doc.pk, 2, ["y" * 50]),  # too large
        EditRequest(doc.pk, 0, [1.5]),  # malformed
        EditRequest(doc.pk, 2, [-1]),  # ok -> v3
    ]
    outcomes = editing.commit_many(doc.pk, requests)
    assert len(outcomes) == len(requests)
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "CommittedOp", "InvalidOp", "VersionAhead", "CommittedOp",
        "CommittedOp", "DocumentTooLarge", "InvalidOp", "CommittedOp",
    ]  # fmt: skip
    versions = [o.version for o in outcomes if isinstance(o, CommittedOp)]
    assert versions == [1, 2, 1, 3]
    assert isinstance(outcomes[4], CommittedOp) and outcomes[4].duplicate
    for outcome in outcomes:
        if isinstance(outcome, CollabError):
            assert outcome.message
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("abc2", 3)
    assert_consistent(doc)
    assert [p.versions for p in published] == [[1, 2, 3]], "one publish per batch"


@pytest.mark.django_db(transaction=True)
def test_commit_many_with_nothing_valid_commits_nothing(alice: User, published: list[Publication]) -> None:
    doc = new_doc(alice, "abc")
    outcomes = editing.commit_many(doc.pk, [EditRequest(doc.pk, 0, [5, "x"]), EditRequest(doc.pk, 3, ["x"])])
    assert all(isinstance(o, CollabError) for o in outcomes)
    doc.refresh_from_db()
    assert doc.version == 0 and published == []


@pytest.mark.django_db
def test_errors_name_the_edit_they_belong_to(alice: User) -> None:
    doc = new_doc(alice, "abc")
    (outcome,) = editing.commit_many(doc.pk, [EditRequest(doc.pk, 7, ["x"], client_id="tab", seq=4)])
    assert isinstance(outcome, VersionAhead)
    assert outcome.ref == {"client_id": "tab", "seq": 4}


# --- publishing after commit ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_what_was_committed_is_published(alice: User, published: list[Publication]) -> None:
    doc = new_doc(alice, "abc")
    done = editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c", seq=1))
    assert [(p.document_id, p.ops, p.in_transaction) for p in published] == [(str(doc.pk), [done], False)]
    editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c", seq=1))  # duplicate
    with pytest.raises(InvalidOp):
        editing.commit(EditRequest(doc.pk, 1, [99, "x"]))
    with pytest.raises(VersionAhead):
        editing.commit(EditRequest(doc.pk, 9, ["x"]))
    # the live committer's call: it publishes itself
    editing.commit_unpublished(doc.pk, [EditRequest(doc.pk, 1, ["y"])])
    assert len(published) == 1
    editing.replace_content(doc, "hello", user=alice)
    assert [p.versions for p in published] == [[1], [3]]


@pytest.mark.django_db(transaction=True)
def test_published_once_committed_and_visible(alice: User) -> None:
    doc = new_doc(alice, "abc")
    seen: list[tuple[bool, int]] = []

    def receiver(sender: Any, document_id: str, ops: list[CommittedOp], **kwargs: Any) -> None:
        # from outside any transaction, and the op is already visible in the database
        seen.append(
            (transaction.get_connection().in_atomic_block, Document.objects.get(pk=document_id).version)
        )

    editing.ops_committed.connect(receiver)
    try:
        editing.commit(EditRequest(doc.pk, 0, ["x"]))
    finally:
        editing.ops_committed.disconnect(receiver)
    assert seen == [(False, 1)]


class Abort(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_an_edit_in_an_outer_transaction_that_rolls_back_is_never_published(
    alice: User, published: list[Publication]
) -> None:
    doc = new_doc(alice, "abc")
    with pytest.raises(Abort), transaction.atomic():
        assert editing.commit(EditRequest(doc.pk, 0, ["x"], client_id="c", seq=1)).version == 1
        raise Abort
    # a savepoint that rolls back inside an outer transaction that commits
    with transaction.atomic(), pytest.raises(Abort), transaction.atomic():
        editing.commit(EditRequest(doc.pk, 0, ["y"], client_id="c", seq=1))
        raise Abort
    assert published == []
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("abc", 0)
    # the rolled-back (client_id, seq) was never committed: sending it again commits it, as version 1
    assert editing.commit(EditRequest(doc.pk, 0, ["z"], client_id="c", seq=1)).version == 1
    assert [(p.versions, p.ops[0].op) for p in published] == [([1], ["z"])]


@pytest.mark.django_db(transaction=True)
def test_an_edit_in_an_outer_transaction_is_published_when_that_commits(
    alice: User, published: list[Publication]
) -> None:
    doc = new_doc(alice, "abc")
    with transaction.atomic():
        editing.commit(EditRequest(doc.pk, 0, ["x"]))
        editing.commit_many(doc.pk, [EditRequest(doc.pk, 1, ["y"]), EditRequest(doc.pk, 1, [1, "z"])])
        assert published == [], "not while the outer transaction is open"
    assert [(p.versions, p.in_transaction) for p in published] == [([1], False), ([2, 3], False)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_neither_fails_the_write_nor_stops_the_others(
    alice: User, published: list[Publication], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ConnectionError("layer down")

    doc = new_doc(alice, "abc")
    editing.ops_committed.connect(broken)
    try:
        assert editing.commit(EditRequest(doc.pk, 0, ["x"])).version == 1
    finally:
        editing.ops_committed.disconnect(broken)
    assert [p.versions for p in published] == [[1]]
    assert "layer down" in caplog.text


# --- snapshots and history -----------------------------------------------------------------------


@pytest.mark.django_db
def test_snapshot_at_across_snapshot_boundaries_equals_replay(alice: User, settings: Settings) -> None:
    settings.COLLAB = {**settings.COLLAB, "SNAPSHOT_EVERY": 3}
    rng = random.Random(7)
    doc = new_doc(alice, "start")
    texts = ["start"]
    for version in range(11):
        op = random_op(rng, texts[-1])
        editing.commit(EditRequest(doc.pk, version, op))
        texts.append(apply(texts[-1], op))
    doc.refresh_from_db()
    assert doc.content == texts[-1]
    snapshots = dict(Snapshot.objects.filter(document=doc).values_list("version", "content"))
    assert snapshots == {v: texts[v] for v in (0, 3, 6, 9)}
    for version, text in enumerate(texts):
        assert editing.snapshot_at(doc, version) == (version, text)
    assert editing.snapshot_at(doc) == (11, texts[-1])
    # the snapshots are really used: without the early ops, later versions still resolve
    Operation.objects.filter(document=doc, version__lte=6).delete()
    assert editing.snapshot_at(doc, 8) == (8, texts[8])
    assert editing.snapshot_at(doc, 6) == (6, texts[6])


@pytest.mark.django_db
def test_snapshots_made_in_one_batch(alice: User, settings: Settings) -> None:
    settings.COLLAB = {**settings.COLLAB, "SNAPSHOT_EVERY": 2}
    doc = new_doc(alice, "")
    editing.commit_many(doc.pk, [EditRequest(doc.pk, v, append(v, str(v))) for v in range(5)])
    assert dict(Snapshot.objects.filter(document=doc).values_list("version", "content")) == {
        0: "",
        2: "01",
        4: "0123",
    }


@pytest.mark.django_db
def test_snapshot_at_outside_the_history(alice: User) -> None:
    doc = new_doc(alice, "abc")
    editing.commit(EditRequest(doc.pk, 0, ["x"]))
    doc.refresh_from_db()
    with pytest.raises(NotFound):
        editing.snapshot_at(doc, 2)
    with pytest.raises(NotFound):
        editing.snapshot_at(doc, -1)
    assert editing.snapshot_at(doc, 0) == (0, "abc")


@pytest.mark.django_db
def test_ops_since_and_sync_ops(alice: User, settings: Settings) -> None:
    doc = new_doc(alice, "")
    for v in range(6):
        editing.commit(EditRequest(doc.pk, v, append(v, str(v))))
    assert [o.version for o in editing.ops_since(doc.pk, 2)] == [3, 4, 5, 6]
    assert [o.version for o in editing.ops_since(doc.pk, 2, limit=2)] == [3, 4]
    assert [o.version for o in editing.ops_since(doc.pk, 0, upto=3)] == [1, 2, 3]
    current, ops = editing.sync_ops(doc.pk, 4)
    assert current == 6 and [o.version for o in ops] == [5, 6]
    with pytest.raises(VersionAhead):
        editing.sync_ops(doc.pk, 7)
    settings.COLLAB = {**settings.COLLAB, "SYNC_MAX_OPS": 3}
    with pytest.raises(CollabError) as info:
        editing.sync_ops(doc.pk, 2)
    assert info.value.code == "history_unavailable"
    assert len(editing.sync_ops(doc.pk, 3)[1]) == 3


@pytest.mark.django_db
def test_replace_content_commits_the_difference(alice: User) -> None:
    doc = new_doc(alice, "the quick brown fox")
    done = editing.replace_content(doc, "the quick red fox!", user=alice)
    assert done is not None and done.version == 1
    doc.refresh_from_db()
    assert doc.content == "the quick red fox!"
    assert editing.replace_content(doc, "the quick red fox!", user=alice) is None
    assert_consistent(doc)


@pytest.mark.django_db
def test_create_document_makes_the_version_0_snapshot(alice: User) -> None:
    doc = editing.create_document(owner=alice, title="t", content="  raw\r\n text ", public_role="viewer")
    doc.refresh_from_db()
    assert (doc.version, doc.content, doc.public_role, doc.owner) == (0, "  raw\r\n text ", "viewer", alice)
    assert Snapshot.objects.get(document=doc, version=0).content == "  raw\r\n text "
    assert not Operation.objects.filter(document=doc).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_random_edits_at_stale_bases_keep_content_equal_to_replay(alice: User, seed: int) -> None:
    rng = random.Random(seed)
    doc = new_doc(alice, rng.choice(["", "hello world", "a🎉b\nc"]))
    texts = [doc.content]
    for i in range(60):
        base = rng.randint(max(0, len(texts) - 5), len(texts) - 1)
        op = random_op(rng, texts[base])
        done = editing.commit(EditRequest(doc.pk, base, op, client_id=f"r{seed}", seq=i))
        assert done.version == len(texts)
        doc.refresh_from_db()
        if base == len(texts) - 1:  # no concurrency: the op applies as sent
            assert doc.content == apply(texts[-1], op)
        texts.append(doc.content)
    assert_consistent(doc)
    for version in rng.sample(range(len(texts)), 10):
        assert editing.snapshot_at(doc, version) == (version, texts[version])


# --- concurrency ----------------------------------------------------------------------------------

THREADS = 8
COMMITS_PER_THREAD = 50


def run_concurrent_commits(
    document_id: Any, *, threads: int = THREADS, commits: int = COMMITS_PER_THREAD
) -> None:
    """``threads`` writers, each with its own client_id and increasing seq, at deliberately stale bases."""
    outcomes: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(index: int) -> None:
        client_id = f"writer-{index}"
        rng = random.Random(index)
        mine: list[int] = []
        try:
            start.wait()
            for seq in range(1, commits + 1):
                doc = Document.objects.get(pk=document_id)
                base = max(0, doc.version - rng.randint(0, 6))  # stale on purpose
                _, text = editing.snapshot_at(doc, base)
                op = random_op(rng, text)
                done = editing.commit(EditRequest(document_id, base, op, client_id=client_id, seq=seq))
                assert not done.duplicate
                mine.append(done.version)
                if rng.random() < 0.1:  # a resend gets the original version back
                    again = editing.commit(EditRequest(document_id, base, op, client_id=client_id, seq=seq))
                    assert again.duplicate and again.version == done.version
            outcomes[client_id] = mine
        except BaseException as exc:
            errors.append(exc)
            start.abort()
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers), "a writer hung"
    assert not errors, errors

    total = threads * commits
    document = Document.objects.get(pk=document_id)
    assert document.version == total
    rows = list(
        Operation.objects.filter(document=document)
        .order_by("version")
        .values_list("version", "client_id", "seq")
    )
    assert [v for v, _, _ in rows] == list(range(1, total + 1)), "versions are not 1..N gapless"
    assert len({(c, s) for _, c, s in rows}) == total, "a (client_id, seq) was stored twice"
    for index in range(threads):
        client_id = f"writer-{index}"
        versions = outcomes[client_id]
        assert len(versions) == len(set(versions)) == commits
        assert versions == sorted(versions), "one writer's commits are in its own order"
        stored = {s: v for v, c, s in rows if c == client_id}
        assert stored == dict(zip(range(1, commits + 1), versions, strict=True))
    every_version = [v for versions in outcomes.values() for v in versions]
    assert sorted(every_version) == list(range(1, total + 1))
    assert replay(document) == document.content


@pytest.mark.django_db(transaction=True)
def test_concurrent_commits_at_stale_bases(alice: User) -> None:
    doc = new_doc(alice, "shared text to edit")
    run_concurrent_commits(doc.pk)


def require_postgresql(request: pytest.FixtureRequest) -> None:
    """Run only against PostgreSQL; skip with the reason otherwise, unless this is the PostgreSQL run."""
    if connection.vendor == "postgresql":
        return
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith(("postgres", "pgsql")):
        pytest.fail(f"DATABASE_URL names PostgreSQL but the test database is {connection.vendor}")
    if IN_CI and "postgres" in (request.config.getoption("markexpr", "") or ""):
        pytest.fail("the PostgreSQL run (-m postgres) must set DATABASE_URL=postgres://...")
    pytest.skip(
        f"the test database is {connection.vendor}; this runs in the PostgreSQL pass: "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pytest -m postgres"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_commits_at_stale_bases_on_postgresql(request: pytest.FixtureRequest, alice: User) -> None:
    require_postgresql(request)
    assert connection.vendor == "postgresql"
    doc = new_doc(alice, "shared text to edit")
    run_concurrent_commits(doc.pk)


@pytest.mark.django_db
def test_a_resend_committed_by_another_process_is_still_deduplicated(alice: User) -> None:
    """The per-process seq cache skips the dedupe query for seqs above what this process
    committed; if another process committed that seq, the unique constraint catches it."""
    doc = editing.create_document(owner=alice, title="t", content="")
    editing.commit(EditRequest(doc.pk, 0, ["a"], user=alice, client_id="c", seq=1))
    first_two = editing.commit(EditRequest(doc.pk, 1, [1, "b"], user=alice, client_id="c", seq=2))
    # as if seq 2 had been committed by another server process: this one only knows seq 1
    editing._last_seq[(str(doc.pk), "c")] = 1
    again = editing.commit(EditRequest(doc.pk, 1, [1, "b"], user=alice, client_id="c", seq=2))
    assert again.duplicate and again.version == first_two.version == 2
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("ab", 2)
    assert Operation.objects.filter(document=doc).count() == 2
