"""The history API (docs/history.md): versions, diff, blame, restore, and 410 after compaction.

Requests go through DRF's ``APIClient`` with a token, as in ``test_api.py``.
Roles: alice owns the documents, bob is an editor, carol a viewer, dave a stranger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from collab import compaction, editing
from collab.editing import EditRequest
from collab.models import Document, DocumentVersion, Membership, Operation
from collab.yjs import documents as yjs_documents
from tests.conftest import Publication, client_for, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(db: Any) -> User:
    return make_user("dave")


@pytest.fixture
def doc(alice: User, bob: User, carol: User) -> Document:
    document = editing.create_document(owner=alice, title="Plan", content="one\ntwo\n")
    Membership.objects.create(document=document, user=bob, role="editor")
    Membership.objects.create(document=document, user=carol, role="viewer")
    editing.commit(EditRequest(document.pk, 0, [4, "TWO", -3], user=alice))  # v1: one\nTWO\n
    editing.commit(EditRequest(document.pk, 1, [8, "three\n"], user=bob))  # v2: + three
    document.refresh_from_db()
    return document


def url(document: Document, tail: str) -> str:
    return f"/api/documents/{document.pk}/{tail}"


# -- versions ----------------------------------------------------------------------
def test_name_list_rename_and_delete_versions(doc: Document, alice: User, bob: User) -> None:
    editor = client_for(bob)
    resp = editor.post(url(doc, "versions/"), {"name": "Draft", "description": "first pass"}, format="json")
    assert resp.status_code == 201, resp.content
    made = resp.json()
    assert made["version"] == 2 and made["name"] == "Draft" and made["automatic"] is False
    assert made["author"]["id"] == bob.pk and made["description"] == "first pass"
    older = (
        client_for(alice).post(url(doc, "versions/"), {"name": "Start", "version": 0}, format="json").json()
    )
    listed = client_for(alice).get(url(doc, "versions/")).json()
    assert [(v["name"], v["version"]) for v in listed] == [("Draft", 2), ("Start", 0)]  # newest first
    one = editor.get(url(doc, f"versions/{older['id']}/")).json()
    assert one["content"] == "one\ntwo\n" and one["name"] == "Start"
    renamed = editor.patch(url(doc, f"versions/{made['id']}/"), {"name": "Draft 1"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Draft 1"
    assert editor.delete(url(doc, f"versions/{made['id']}/")).status_code == 204  # its author
    assert client_for(alice).delete(url(doc, f"versions/{older['id']}/")).status_code == 204  # the owner
    assert not DocumentVersion.objects.filter(document=doc).exists()


def test_who_may_do_what_with_versions(
    doc: Document, alice: User, bob: User, carol: User, dave: User
) -> None:
    mine = client_for(alice).post(url(doc, "versions/"), {"name": "Owner's"}, format="json").json()
    viewer, stranger, editor = client_for(carol), client_for(dave), client_for(bob)
    assert viewer.get(url(doc, "versions/")).status_code == 200
    refused = viewer.post(url(doc, "versions/"), {"name": "x"}, format="json")
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert editor.patch(url(doc, f"versions/{mine['id']}/"), {"name": "y"}, format="json").status_code == 403
    assert editor.delete(url(doc, f"versions/{mine['id']}/")).status_code == 403
    assert stranger.get(url(doc, "versions/")).status_code == 404
    assert APIClient().get(url(doc, "versions/")).status_code == 401
    assert stranger.post(url(doc, "restore/"), {"version": 0}, format="json").status_code == 404
    missing = editor.get(url(doc, "versions/999999/"))
    assert missing.status_code == 404 and "no kept version 999999" in missing.json()["detail"]
    assert editor.get(url(doc, "versions/abc/")).status_code == 404
    bad = editor.post(url(doc, "versions/"), {"name": ""}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["errors"]


@pytest.mark.parametrize("method", ["options", "put", "delete"])
@pytest.mark.parametrize("tail", ["versions/", "diff/", "blame/", "restore/"])
def test_unreadable_document_is_404_or_401_for_any_method_on_history_routes(
    doc: Document, alice: User, dave: User, method: str, tail: str
) -> None:
    """PROTOCOL.md section 2, as for the document itself: OPTIONS and unserved methods included."""
    assert getattr(client_for(dave), method)(url(doc, tail)).status_code == 404
    assert getattr(APIClient(), method)(url(doc, tail)).status_code == 401
    assert getattr(client_for(alice), method)(url(doc, tail)).status_code in (200, 405)


def test_naming_an_automatic_version_is_for_editors(doc: Document, bob: User, carol: User) -> None:
    Document.objects.filter(pk=doc.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    editing.commit(EditRequest(doc.pk, 2, ["# "], user=bob))
    auto = DocumentVersion.objects.get(document=doc)
    assert auto.automatic and auto.version == 2
    assert (
        client_for(carol).patch(url(doc, f"versions/{auto.pk}/"), {"name": "x"}, format="json").status_code
        == 403
    )
    resp = client_for(bob).patch(
        url(doc, f"versions/{auto.pk}/"), {"name": "Before the heading"}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["automatic"] is False
    assert resp.json()["author"]["id"] == bob.pk


# -- diff --------------------------------------------------------------------------
def test_diff_between_two_versions(doc: Document, alice: User, bob: User, carol: User) -> None:
    resp = client_for(carol).get(url(doc, "diff/?from=0&to=2"))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["from_version"] == 0 and body["to_version"] == 2 and body["composed"] is True
    assert body["op"] == [4, "TWO", -3, 1, "three\n"]
    assert [(s["kind"], s["text"], (s["user"] or {}).get("name")) for s in body["spans"]] == [
        ("equal", "one\n", None),
        ("inserted", "TWO", "Alice Liddell"),
        ("deleted", "two", None),
        ("equal", "\n", None),
        ("inserted", "three\n", "bob"),
    ]
    default = client_for(carol).get(url(doc, "diff/?from=1")).json()  # to: the current version
    assert default["to_version"] == 2 and default["op"] == [8, "three\n"]


def test_unified_diff(doc: Document, carol: User) -> None:
    resp = client_for(carol).get(url(doc, "diff/?from=0&to=2&format=unified"))
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/x-diff")
    assert resp.content.decode().splitlines() == [
        "--- version 0",
        "+++ version 2",
        "@@ -1,2 +1,3 @@",
        " one",
        "-two",
        "+TWO",
        "+three",
    ]
    same = client_for(carol).get(url(doc, "diff/?from=2&to=2&format=unified"))
    assert same.status_code == 200 and same["Content-Type"].startswith("text/x-diff") and same.content == b""


def test_diff_beyond_the_current_version_is_404_with_a_detail(doc: Document, carol: User) -> None:
    for query in ("from=0&to=3", "from=7", "from=3&format=unified"):
        resp = client_for(carol).get(url(doc, f"diff/?{query}"))
        assert resp.status_code == 404, (query, resp.content)
        assert resp["Content-Type"] == "application/json"
        assert "current version is 2" in resp.json()["detail"]
    bad = client_for(carol).get(url(doc, "diff/?from=-1"))
    assert bad.status_code == 400 and bad.json()["errors"] == {"from": ["from must be at least 0."]}


# -- blame -------------------------------------------------------------------------
def test_blame_names_who_wrote_each_span(doc: Document, alice: User, bob: User, carol: User) -> None:
    body = client_for(carol).get(url(doc, "blame/")).json()
    assert body["version"] == 2
    assert [(s["text"], (s["user"] or {}).get("id"), s["first_version"]) for s in body["spans"]] == [
        ("one\n", None, 0),
        ("TWO", alice.pk, 1),
        ("\n", None, 0),
        ("three\n", bob.pk, 2),
    ]


def test_blame_of_a_yjs_document_is_400(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="x")
    resp = client_for(alice).get(url(doc, "blame/"))
    assert resp.status_code == 400 and "text documents" in resp.json()["detail"]


# -- restore -----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_restore_is_one_new_edit_that_live_clients_receive(
    alice: User, bob: User, carol: User, published: list[Publication]
) -> None:
    doc = editing.create_document(owner=alice, title="Plan", content="one\n")
    Membership.objects.create(document=doc, user=bob, role="editor")
    Membership.objects.create(document=doc, user=carol, role="viewer")
    editing.commit(EditRequest(doc.pk, 0, [4, "two\n"], user=alice))
    published.clear()
    assert client_for(carol).post(url(doc, "restore/"), {"version": 0}, format="json").status_code == 403
    resp = client_for(bob).post(url(doc, "restore/"), {"version": 0}, format="json")
    assert resp.status_code == 200 and resp.json() == {"version": 2, "restored": 0, "changed": True}
    doc.refresh_from_db()
    assert doc.content == "one\n"
    (publication,) = published
    assert publication.versions == [2] and publication.ops[0].op == [4, -4]
    assert publication.ops[0].user["id"] == bob.pk
    beyond = client_for(bob).post(url(doc, "restore/"), {"version": 9}, format="json")
    assert beyond.status_code == 404 and "current version is 2" in beyond.json()["detail"]
    assert client_for(bob).post(url(doc, "restore/"), {"version": "1"}, format="json").status_code == 400


# -- yjs documents -------------------------------------------------------------------
def test_versions_diff_and_restore_of_a_yjs_document(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Y", content="hello")
    owner = client_for(alice)
    kept = owner.post(url(doc, "versions/"), {"name": "hello"}, format="json").json()
    owner.patch(f"/api/documents/{doc.pk}/", {"content": "hello world"}, format="json")
    doc.refresh_from_db()
    body = owner.get(url(doc, f"diff/?from={kept['version']}")).json()
    assert body["composed"] is False
    assert [(s["kind"], s["text"]) for s in body["spans"]] == [("equal", "hello"), ("inserted", " world")]
    assert owner.get(url(doc, f"versions/{kept['id']}/")).json()["content"] == "hello"
    resp = owner.post(url(doc, "restore/"), {"version": kept["version"]}, format="json")
    assert resp.status_code == 200 and resp.json()["changed"] is True
    assert owner.get(f"/api/documents/{doc.pk}/").json()["content"] == "hello"


# -- retention ---------------------------------------------------------------------
def test_ops_and_diff_from_before_the_retained_history_answer_410(doc: Document, alice: User) -> None:
    Operation.objects.filter(document=doc).update(created_at=timezone.now() - timedelta(days=2))
    editing.commit(EditRequest(doc.pk, 2, ["# "], user=alice))
    compaction.compact_document(doc, retention=86400)
    owner = client_for(alice)
    for path in ("ops/?since=0", "ops/", "diff/?from=1", "snapshot/?version=1"):
        resp = owner.get(url(doc, path))
        assert resp.status_code == 410, (path, resp.content)
        assert resp.json()["code"] == "history_unavailable" and "no longer kept" in resp.json()["detail"]
    assert [o["version"] for o in owner.get(url(doc, "ops/?since=2")).json()] == [3]
    stale = owner.post(url(doc, "ops/"), {"version": 1, "op": ["x"]}, format="json")
    assert stale.status_code == 410 and stale.json()["code"] == "history_unavailable"
    assert owner.get(url(doc, "blame/")).status_code == 200
