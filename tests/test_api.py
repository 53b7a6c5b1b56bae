"""The REST contract of PROTOCOL.md section 3, row by row, plus the permissions matrix and bad input.

Every request goes through DRF's ``APIClient`` with a token (``client_for(user)``)
or none (``anon``)::

    resp = client_for(bob).post(f"/api/documents/{doc.pk}/ops/", {"version": 0, "op": ["x"]}, format="json")
    assert resp.status_code == 201 and resp.json() == {"version": 1}

The permissions matrix derives every expected status from one small rule
(:func:`expected_status`), never from a table copied from the implementation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from collab import editing
from collab.editing import CommittedOp, EditRequest
from collab.models import Document, Membership, Operation
from collab.ot import apply
from collab.realtime.presence_store import registry as presence_registry
from tests.conftest import client_for
from tests.support.publications import Publication

pytestmark = pytest.mark.django_db

DOC_FIELDS = {
    "id", "title", "content", "version", "owner", "public_role", "role", "kind", "created_at", "updated_at",
}  # fmt: skip
OP_FIELDS = {"version", "op", "client_id", "seq", "user", "created_at"}
RANK = {"none": 0, "viewer": 1, "editor": 2, "owner": 3}


@pytest.fixture(autouse=True)
def _fast_passwords(settings: SettingsWrapper) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(document: Document | str | uuid.UUID, tail: str = "") -> str:
    pk = document.pk if isinstance(document, Document) else document
    return f"/api/documents/{pk}/{tail}"


def new_doc(owner: User, title: str = "Doc", content: str = "", public_role: str = "none") -> Document:
    return editing.create_document(owner=owner, title=title, content=content, public_role=public_role)


def add_ops(document: Document, *ops: list[Any], user: User | None = None) -> None:
    """Commit ``ops`` one after the other (each based on the version before it)."""
    document.refresh_from_db()
    requests = [EditRequest(document.pk, document.version + i, op, user=user) for i, op in enumerate(ops)]
    outcomes = editing.commit_many(document.pk, requests)
    assert all(isinstance(o, CommittedOp) for o in outcomes), outcomes
    document.refresh_from_db()


def state(document_id: Any) -> dict[str, Any] | None:
    """Everything a request could change about a document (None once it is gone)."""
    doc = Document.objects.filter(pk=document_id).first()
    if doc is None:
        return None
    return {
        "title": doc.title,
        "content": doc.content,
        "version": doc.version,
        "public_role": doc.public_role,
        "ops": list(Operation.objects.filter(document=doc).values_list("version", "op")),
        "members": sorted(Membership.objects.filter(document=doc).values_list("user__username", "role")),
    }


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.content[:500])
    assert resp["Content-Type"].startswith("application/json"), resp["Content-Type"]
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], body
    if code is not None:
        assert body.get("code") == code, body
    return body


def assert_document(body: dict[str, Any], document: Document, role: str) -> None:
    document.refresh_from_db()
    assert set(body) == DOC_FIELDS
    assert body["id"] == str(document.pk)
    assert body["title"] == document.title
    assert body["content"] == document.content
    assert body["version"] == document.version
    assert body["owner"] == {"id": document.owner.pk, "username": document.owner.username}
    assert body["public_role"] == document.public_role
    assert body["role"] == role
    assert parse_time(body["created_at"]) == document.created_at
    assert parse_time(body["updated_at"]) == document.updated_at


# --- document representation and create ---------------------------------------------------------


def test_create_answers_201_with_the_full_representation(api: APIClient, alice: User) -> None:
    resp = api.post("/api/documents/", {"title": "Notes", "content": "héllo 🎉\n"}, format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert set(body) == DOC_FIELDS
    uuid.UUID(body["id"])
    assert body["title"] == "Notes"
    assert body["content"] == "héllo 🎉\n"
    assert body["version"] == 0
    assert body["owner"] == {"id": alice.pk, "username": "alice"}
    assert body["public_role"] == "none"
    assert body["role"] == "owner"
    doc = Document.objects.get(pk=body["id"])
    assert doc.owner == alice and doc.content == "héllo 🎉\n"
    assert_document(body, doc, "owner")
    assert not Operation.objects.filter(document=doc).exists(), "creation records no op"


def test_create_without_content_makes_an_empty_document(api: APIClient) -> None:
    resp = api.post("/api/documents/", {"title": "Empty"}, format="json")
    assert resp.status_code == 201
    assert resp.json()["content"] == "" and resp.json()["version"] == 0


def test_create_keeps_text_exactly_as_sent(api: APIClient) -> None:
    title, content = "  spaced title  ", "  leading and trailing  \n\n\tcafe\u0301 e\u0301 "
    resp = api.post("/api/documents/", {"title": title, "content": content}, format="json")
    assert resp.status_code == 201
    doc = Document.objects.get(pk=resp.json()["id"])
    assert (doc.title, doc.content) == (title, content)
    assert resp.json()["content"] == content


@pytest.mark.parametrize("public_role", ["none", "viewer", "editor"])
def test_create_accepts_each_public_role(api: APIClient, public_role: str) -> None:
    resp = api.post("/api/documents/", {"title": "t", "public_role": public_role}, format="json")
    assert resp.status_code == 201
    assert resp.json()["public_role"] == public_role
    assert Document.objects.get(pk=resp.json()["id"]).public_role == public_role


@pytest.mark.parametrize("title", ["x", "t" * 200, "🎉" * 200])
def test_create_accepts_titles_of_1_to_200_code_points(api: APIClient, title: str) -> None:
    resp = api.post("/api/documents/", {"title": title}, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["title"] == title


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": "no title"},
        {"title": ""},
        {"title": "t" * 201},
        {"title": "🎉" * 201},
        {"title": None},
        {"title": "t", "public_role": "owner"},
        {"title": "t", "public_role": "admin"},
        {"title": "t", "public_role": ""},
        {"title": "t", "public_role": None},
    ],
    ids=repr,
)
def test_create_rejects_invalid_fields_with_400(api: APIClient, body: dict[str, Any]) -> None:
    resp = api.post("/api/documents/", body, format="json")
    err = assert_error(resp, 400)
    assert isinstance(err.get("errors"), dict) and err["errors"], err
    assert Document.objects.count() == 0


def test_create_ignores_read_only_fields(api: APIClient, alice: User, bob: User) -> None:
    body = {"title": "t", "version": 42, "owner": {"id": bob.pk}, "role": "viewer", "id": str(uuid.uuid4())}
    resp = api.post("/api/documents/", body, format="json")
    assert resp.status_code == 201
    data = resp.json()
    assert data["version"] == 0 and data["owner"]["id"] == alice.pk and data["role"] == "owner"
    assert data["id"] != body["id"]


def test_create_needs_a_signed_in_user(anon: APIClient) -> None:
    assert_error(anon.post("/api/documents/", {"title": "t"}, format="json"), 401)
    assert Document.objects.count() == 0


def test_create_makes_a_version_0_snapshot(api: APIClient) -> None:
    resp = api.post("/api/documents/", {"title": "t", "content": "start"}, format="json")
    doc_id = resp.json()["id"]
    add_ops(Document.objects.get(pk=doc_id), [5, "!"])
    snap = api.get(url(doc_id, "snapshot/"), {"version": 0})
    assert snap.status_code == 200
    assert snap.json() == {"version": 0, "content": "start"}


# --- list ------------------------------------------------------------------------------------------


def test_list_holds_owned_and_member_documents_only(alice: User, bob: User, carol: User) -> None:
    mine = new_doc(alice, "mine")
    shared_with_me = new_doc(bob, "shared", public_role="none")
    Membership.objects.create(document=shared_with_me, user=alice, role="viewer")
    public_editable = new_doc(bob, "public", public_role="editor")
    new_doc(carol, "carol's")
    Membership.objects.create(document=public_editable, user=carol, role="viewer")

    resp = client_for(alice).get("/api/documents/")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    roles = {d["id"]: d["role"] for d in body["results"]}
    assert roles == {str(mine.pk): "owner", str(shared_with_me.pk): "viewer"}
    for item in body["results"]:
        assert set(item) == DOC_FIELDS
    # the public document is readable by link, just not listed
    assert client_for(alice).get(url(public_editable)).status_code == 200


def test_list_shows_a_document_once_whatever_its_members(alice: User, bob: User, carol: User) -> None:
    doc = new_doc(alice, "team")
    Membership.objects.create(document=doc, user=bob, role="editor")
    Membership.objects.create(document=doc, user=carol, role="viewer")
    body = client_for(alice).get("/api/documents/").json()
    assert body["count"] == 1 and [d["id"] for d in body["results"]] == [str(doc.pk)]


def test_list_role_is_the_higher_of_membership_and_public_role(alice: User, bob: User) -> None:
    doc = new_doc(alice, "t", public_role="editor")
    Membership.objects.create(document=doc, user=bob, role="viewer")
    (item,) = client_for(bob).get("/api/documents/").json()["results"]
    assert item["role"] == "editor"


def test_list_is_newest_updated_first(alice: User) -> None:
    docs = [new_doc(alice, f"d{i}") for i in range(4)]
    base = timezone.now() - timedelta(days=1)
    for minutes, doc in zip([30, 10, 40, 20], docs, strict=True):
        Document.objects.filter(pk=doc.pk).update(updated_at=base + timedelta(minutes=minutes))
    client = client_for(alice)
    titles = [d["title"] for d in client.get("/api/documents/").json()["results"]]
    assert titles == ["d2", "d0", "d3", "d1"]
    # an edit moves a document to the top
    assert client.patch(url(docs[1]), {"content": "edited"}, format="json").status_code == 200
    titles = [d["title"] for d in client.get("/api/documents/").json()["results"]]
    assert titles == ["d1", "d2", "d0", "d3"]


def test_list_is_paginated(alice: User) -> None:
    for i in range(25):
        new_doc(alice, f"doc {i:02}")
    client = client_for(alice)
    first = client.get("/api/documents/").json()
    assert first["count"] == 25
    assert len(first["results"]) == 20
    assert first["previous"] is None and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 5
    assert second["next"] is None and second["previous"]
    ids = [d["id"] for d in first["results"] + second["results"]]
    assert len(set(ids)) == 25
    small = client.get("/api/documents/", {"page_size": 7}).json()
    assert len(small["results"]) == 7 and small["count"] == 25
    assert_error(client.get("/api/documents/", {"page": 99}), 404)


def test_list_search_filters_titles_case_insensitively(alice: User, bob: User) -> None:
    new_doc(alice, "Shopping list")
    new_doc(alice, "Meeting notes")
    new_doc(alice, "weekend SHOPPING")
    new_doc(bob, "Shopping for bob", public_role="editor")
    client = client_for(alice)
    body = client.get("/api/documents/", {"search": "shopping"}).json()
    assert body["count"] == 2
    assert sorted(d["title"] for d in body["results"]) == ["Shopping list", "weekend SHOPPING"]
    assert client.get("/api/documents/", {"search": "nothing like it"}).json()["count"] == 0
    assert client.get("/api/documents/", {"search": ""}).json()["count"] == 3


def test_list_needs_a_signed_in_user(anon: APIClient, alice: User) -> None:
    new_doc(alice, "public", public_role="editor")
    assert_error(anon.get("/api/documents/"), 401)


def test_session_authentication_works(alice: User) -> None:
    doc = new_doc(alice, "session")
    client = APIClient()
    assert client.login(username="alice", password="alice-pw")
    resp = client.get("/api/documents/")
    assert resp.status_code == 200 and resp.json()["count"] == 1
    assert client.get(url(doc)).json()["role"] == "owner"


def test_session_writes_need_the_csrf_token(alice: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password="alice-pw")
    assert_error(client.post("/api/documents/", {"title": "t"}, format="json"), 403)
    assert Document.objects.count() == 0


def test_an_invalid_token_is_refused(alice: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(client.get("/api/documents/"), 401)


# --- retrieve ----------------------------------------------------------------------------------


def test_retrieve_answers_the_current_version(alice: User) -> None:
    doc = new_doc(alice, "t", "abc")
    add_ops(doc, [3, "d"], ["_"])
    resp = client_for(alice).get(url(doc))
    assert resp.status_code == 200
    assert resp.json()["content"] == "_abcd" and resp.json()["version"] == 2
    assert_document(resp.json(), doc, "owner")


@pytest.mark.parametrize("doc_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_retrieve_of_a_missing_document_is_404_or_401(alice: User, anon: APIClient, doc_id: str) -> None:
    assert_error(client_for(alice).get(url(doc_id)), 404)
    assert_error(anon.get(url(doc_id)), 401)
    assert_error(client_for(alice).delete(url(doc_id)), 404)
    assert_error(anon.post(url(doc_id, "ops/"), {"version": 0, "op": []}, format="json"), 401)


# --- PATCH --------------------------------------------------------------------------------------


@pytest.fixture
def shared(alice: User, bob: User, carol: User) -> Document:
    """alice's document "hello"; bob is an editor, carol a viewer."""
    doc = new_doc(alice, "Shared", "hello")
    Membership.objects.create(document=doc, user=bob, role="editor")
    Membership.objects.create(document=doc, user=carol, role="viewer")
    return doc


def test_editor_patches_the_title(shared: Document, bob: User) -> None:
    resp = client_for(bob).patch(url(shared), {"title": "Renamed"}, format="json")
    assert resp.status_code == 200
    assert_document(resp.json(), shared, "editor")
    assert shared.title == "Renamed" and shared.version == 0


@pytest.mark.django_db(transaction=True)  # live clients are told on commit: the test must commit
def test_content_patch_commits_one_op_through_the_commit_path(
    shared: Document, bob: User, published: list[Publication]
) -> None:
    client = client_for(bob)
    resp = client.patch(url(shared), {"content": "hello, world"}, format="json")
    assert resp.status_code == 200
    assert_document(resp.json(), shared, "editor")
    assert shared.content == "hello, world" and shared.version == 1
    (entry,) = client.get(url(shared, "ops/")).json()
    assert entry["version"] == 1
    assert apply("hello", entry["op"]) == "hello, world"
    assert entry["user"]["id"] == bob.pk and entry["user"]["name"] == "bob"
    assert entry["client_id"] == "" and entry["seq"] is None
    # live clients are told, after the commit: exactly that op
    assert [(p.document_id, p.versions, p.in_transaction) for p in published] == [
        (str(shared.pk), [1], False)
    ]
    resp = client.post(url(shared, "ops/"), {"version": 0, "op": ["¡"]}, format="json")
    assert resp.status_code == 201 and resp.json() == {"version": 2}
    assert [p.versions for p in published] == [[1], [2]]


def test_content_patch_to_the_same_text_commits_nothing(shared: Document, bob: User) -> None:
    resp = client_for(bob).patch(url(shared), {"content": "hello"}, format="json")
    assert resp.status_code == 200 and resp.json()["version"] == 0
    assert not Operation.objects.filter(document=shared).exists()


def test_title_and_content_patched_together(shared: Document, alice: User) -> None:
    resp = client_for(alice).patch(url(shared), {"title": "Both", "content": ""}, format="json")
    assert resp.status_code == 200
    assert (resp.json()["title"], resp.json()["content"], resp.json()["version"]) == ("Both", "", 1)


def test_content_patch_composes_with_concurrent_history(shared: Document, bob: User) -> None:
    add_ops(shared, [5, " there"])
    resp = client_for(bob).patch(url(shared), {"content": "Oh hello there"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["content"] == "Oh hello there" and resp.json()["version"] == 2


def test_only_the_owner_changes_public_role(shared: Document, alice: User, bob: User) -> None:
    before = state(shared.pk)
    err = assert_error(client_for(bob).patch(url(shared), {"public_role": "editor"}, format="json"), 403)
    assert "editor" in err["detail"]
    # a forbidden field makes the whole request fail: the title is not changed either
    assert_error(
        client_for(bob).patch(url(shared), {"title": "x", "public_role": "viewer"}, format="json"), 403
    )
    assert state(shared.pk) == before
    resp = client_for(alice).patch(url(shared), {"public_role": "viewer"}, format="json")
    assert resp.status_code == 200 and resp.json()["public_role"] == "viewer"
    shared.refresh_from_db()
    assert shared.public_role == "viewer"


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "x" * 201}, {"public_role": "owner"}, {"content": None}, {"title": None}],
    ids=repr,
)
def test_invalid_patch_is_400_and_changes_nothing(
    shared: Document, alice: User, body: dict[str, Any]
) -> None:
    before = state(shared.pk)
    assert_error(client_for(alice).patch(url(shared), body, format="json"), 400)
    assert state(shared.pk) == before


def test_viewer_cannot_patch(shared: Document, carol: User) -> None:
    before = state(shared.pk)
    assert_error(client_for(carol).patch(url(shared), {"content": "vandalised"}, format="json"), 403)
    assert state(shared.pk) == before


# --- DELETE -------------------------------------------------------------------------------------


def test_owner_deletes(shared: Document, alice: User) -> None:
    add_ops(shared, [5, "!"])
    client = client_for(alice)
    resp = client.delete(url(shared))
    assert resp.status_code == 204 and not resp.content
    assert not Document.objects.filter(pk=shared.pk).exists()
    assert not Operation.objects.filter(document_id=shared.pk).exists()
    assert not Membership.objects.filter(document_id=shared.pk).exists()
    assert_error(client.get(url(shared)), 404)


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_non_owners_cannot_delete(shared: Document, who: str) -> None:
    assert_error(client_for(User.objects.get(username=who)).delete(url(shared)), 403)
    assert Document.objects.filter(pk=shared.pk).exists()


# --- GET ops --------------------------------------------------------------------------------------


def test_ops_are_listed_ascending_with_their_shape(shared: Document, alice: User, bob: User) -> None:
    editing.commit(EditRequest(shared.pk, 0, [2, 3, " ", "world"], user=bob, client_id="tab-1", seq=7))
    editing.commit(EditRequest(shared.pk, 1, ["¡"], user=alice, client_id="tab-2", seq=1))
    ops = client_for(alice).get(url(shared, "ops/")).json()
    assert [o["version"] for o in ops] == [1, 2]
    for entry in ops:
        assert set(entry) == OP_FIELDS
        assert set(entry["user"]) == {"id", "name", "color"}
        parse_time(entry["created_at"])
    assert ops[0]["op"] == [5, " world"], "stored normalized"
    assert (ops[0]["client_id"], ops[0]["seq"], ops[0]["user"]["id"]) == ("tab-1", 7, bob.pk)
    assert ops[1]["user"]["name"] == "Alice Liddell"
    assert ops[0]["user"]["color"].startswith("#")


def test_ops_since_and_limit(shared: Document, carol: User) -> None:
    add_ops(shared, *[[i, str(i)] for i in range(1, 7)])
    client = client_for(carol)

    def versions(**params: Any) -> list[int]:
        resp = client.get(url(shared, "ops/"), params)
        assert resp.status_code == 200, resp.content
        return [o["version"] for o in resp.json()]

    assert versions() == [1, 2, 3, 4, 5, 6]
    assert versions(since=0) == [1, 2, 3, 4, 5, 6]
    assert versions(since=4) == [5, 6]
    assert versions(limit=2) == [1, 2]
    assert versions(since=2, limit=3) == [3, 4, 5]
    assert versions(since=6) == []
    assert versions(since=100) == []


def test_ops_limit_defaults_to_100_and_caps_at_1000(shared: Document, alice: User) -> None:
    add_ops(shared, *[["x"] for _ in range(1005)])
    client = client_for(alice)
    default = client.get(url(shared, "ops/")).json()
    assert [o["version"] for o in default] == list(range(1, 101))
    assert len(client.get(url(shared, "ops/"), {"limit": 1000}).json()) == 1000
    capped = client.get(url(shared, "ops/"), {"limit": 5000})
    assert capped.status_code == 200
    assert [o["version"] for o in capped.json()] == list(range(1, 1001))
    tail = client.get(url(shared, "ops/"), {"since": 1000, "limit": 1000}).json()
    assert [o["version"] for o in tail] == [1001, 1002, 1003, 1004, 1005]


@pytest.mark.parametrize(
    "params", [{"since": "x"}, {"since": -1}, {"limit": 0}, {"limit": "ten"}, {"since": "1.5"}]
)
def test_ops_with_bad_query_parameters_are_400(shared: Document, alice: User, params: dict[str, Any]) -> None:
    assert_error(client_for(alice).get(url(shared, "ops/"), params), 400)


# --- POST ops -------------------------------------------------------------------------------------


def test_post_op_commits_and_answers_201_version(shared: Document, bob: User) -> None:
    resp = client_for(bob).post(url(shared, "ops/"), {"version": 0, "op": [2, 1, "y", 2]}, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json() == {"version": 1}
    shared.refresh_from_db()
    assert (shared.content, shared.version) == ("helylo", 1)
    row = Operation.objects.get(document=shared, version=1)
    assert row.op == [3, "y"] and row.user == bob


def test_post_op_counts_code_points(alice: User) -> None:
    doc = new_doc(alice, "emoji", "a🎉b")
    resp = client_for(alice).post(url(doc, "ops/"), {"version": 0, "op": [2, "X", -1]}, format="json")
    assert resp.status_code == 201
    doc.refresh_from_db()
    assert doc.content == "a🎉X"


def test_post_op_behind_is_transformed(shared: Document, bob: User, carol: User) -> None:
    add_ops(shared, [5, " world"], ["Oh, "])  # "Oh, hello world" at version 2
    client = client_for(bob)
    resp = client.post(url(shared, "ops/"), {"version": 0, "op": [5, "!"]}, format="json")
    assert resp.status_code == 201 and resp.json() == {"version": 3}
    shared.refresh_from_db()
    # concurrent inserts at one position: the op committed first stays on the left
    assert shared.content == "Oh, hello world!"
    resp = client.post(url(shared, "ops/"), {"version": 1, "op": [1, -4]}, format="json")
    assert resp.status_code == 201
    shared.refresh_from_db()
    assert shared.content == "Oh, h world!"


def test_post_op_reduced_to_a_noop_still_gets_its_version(shared: Document, alice: User) -> None:
    add_ops(shared, [-5])
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": [1, -1]}, format="json")
    assert resp.status_code == 201 and resp.json() == {"version": 2}
    shared.refresh_from_db()
    assert (shared.content, shared.version) == ("", 2)
    assert Operation.objects.get(document=shared, version=2).op == []


@pytest.mark.parametrize(
    "op",
    [
        [6, "x"],
        [-6],
        [10],
        [5, -1],
        ["x", 3, -3],
        [1.5],
        [1.0, "x"],
        [True],
        [2, False],
        [0, 9],
        ["", -9],
        [None],
        [{"insert": "x"}],
        [["x"]],
        ["\ud800"],
    ],
    ids=repr,
)
def test_post_invalid_op_is_400_invalid_op(shared: Document, alice: User, op: list[Any]) -> None:
    before = state(shared.pk)
    raw = json.dumps({"version": 0, "op": op})  # ASCII escapes, so a lone surrogate can be sent
    resp = client_for(alice).post(url(shared, "ops/"), raw, content_type="application/json")
    assert_error(resp, 400, "invalid_op")
    assert state(shared.pk) == before


@pytest.mark.parametrize("op", ["insert", 5, {"0": "x"}, None], ids=repr)
def test_post_op_that_is_not_a_list_is_400(shared: Document, alice: User, op: Any) -> None:
    before = state(shared.pk)
    assert_error(client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": op}, format="json"), 400)
    assert state(shared.pk) == before


def test_post_op_past_the_end_of_a_stale_base_is_invalid(shared: Document, alice: User) -> None:
    add_ops(shared, [5, " world"])  # 11 characters now, 5 at version 0
    before = state(shared.pk)
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": [8, "x"]}, format="json")
    assert_error(resp, 400, "invalid_op")
    assert state(shared.pk) == before


def test_post_op_version_ahead_is_409(shared: Document, alice: User) -> None:
    before = state(shared.pk)
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 1, "op": ["x"]}, format="json")
    assert_error(resp, 409, "version_ahead")
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 10**30, "op": ["x"]}, format="json")
    assert resp.status_code in (400, 409)
    assert state(shared.pk) == before


def test_post_op_by_a_viewer_is_403(shared: Document, carol: User) -> None:
    before = state(shared.pk)
    assert_error(client_for(carol).post(url(shared, "ops/"), {"version": 0, "op": ["x"]}, format="json"), 403)
    assert state(shared.pk) == before


def test_post_op_resend_is_idempotent(shared: Document, bob: User) -> None:
    client = client_for(bob)
    edit = {"version": 0, "op": ["A"], "client_id": "c-1", "seq": 1}
    first = client.post(url(shared, "ops/"), edit, format="json")
    assert first.status_code == 201 and first.json() == {"version": 1}
    add_ops(shared, [6, "B"])
    again = client.post(url(shared, "ops/"), edit, format="json")
    assert again.status_code == 201 and again.json() == {"version": 1}
    # even with a different op or base version, (client_id, seq) identifies the edit
    changed = client.post(url(shared, "ops/"), {**edit, "version": 2, "op": ["Z"]}, format="json")
    assert changed.json() == {"version": 1}
    shared.refresh_from_db()
    assert (shared.content, shared.version) == ("AhelloB", 2)
    assert Operation.objects.filter(document=shared, client_id="c-1").count() == 1
    nxt = client.post(url(shared, "ops/"), {**edit, "version": 2, "seq": 2}, format="json")
    assert nxt.json() == {"version": 3}
    other_client = client.post(url(shared, "ops/"), {**edit, "version": 3, "client_id": "c-2"}, format="json")
    assert other_client.json() == {"version": 4}


@pytest.mark.parametrize(
    "extra",
    [
        {"client_id": "c"},
        {"seq": 1},
        {"client_id": "", "seq": 1},
        {"client_id": "x" * 65, "seq": 1},
        {"client_id": "c", "seq": -1},
        {"client_id": "c", "seq": 2**63},
        {"client_id": "c", "seq": "1"},
        {"client_id": 5, "seq": 1},
    ],
    ids=repr,
)
def test_post_op_with_bad_client_id_or_seq_is_400(
    shared: Document, alice: User, extra: dict[str, Any]
) -> None:
    before = state(shared.pk)
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": ["x"], **extra}, format="json")
    assert_error(resp, 400)
    assert state(shared.pk) == before


def test_post_op_accepts_the_largest_seq(shared: Document, alice: User) -> None:
    edit = {"version": 0, "op": ["x"], "client_id": "c", "seq": 2**63 - 1}
    assert client_for(alice).post(url(shared, "ops/"), edit, format="json").json() == {"version": 1}


def test_post_op_too_large_is_document_too_large(
    shared: Document, alice: User, settings: SettingsWrapper
) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 10}
    before = state(shared.pk)
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": [5, "123456"]}, format="json")
    assert_error(resp, 400, "document_too_large")
    assert state(shared.pk) == before
    resp = client_for(alice).post(url(shared, "ops/"), {"version": 0, "op": [5, "12345"]}, format="json")
    assert resp.status_code == 201


# --- snapshot --------------------------------------------------------------------------------------


def test_snapshot_at_every_version_equals_replay(shared: Document, carol: User) -> None:
    ops: list[list[Any]] = [[5, " world"], ["¡"], [1, -5], [7, "🎉"], [-1, "H"]]
    add_ops(shared, *ops)
    texts = ["hello"]
    for op in ops:
        texts.append(apply(texts[-1], op))
    client = client_for(carol)
    for version, text in enumerate(texts):
        resp = client.get(url(shared, "snapshot/"), {"version": version})
        assert resp.status_code == 200
        assert resp.json() == {"version": version, "content": text}
    assert client.get(url(shared, "snapshot/")).json() == {"version": 5, "content": texts[-1]}
    assert texts[-1] == shared.content


def test_snapshot_beyond_current_is_404(shared: Document, alice: User) -> None:
    add_ops(shared, ["x"])
    assert_error(client_for(alice).get(url(shared, "snapshot/"), {"version": 2}), 404)


@pytest.mark.parametrize("version", ["abc", "1.0", "-1", "1e3"])
def test_snapshot_with_a_garbage_version_is_400(shared: Document, alice: User, version: str) -> None:
    assert_error(client_for(alice).get(url(shared, "snapshot/"), {"version": version}), 400)


# --- presence --------------------------------------------------------------------------------------


def test_presence_lists_who_is_connected(shared: Document, carol: User) -> None:
    client = client_for(carol)
    resp = client.get(url(shared, "presence/"))
    assert resp.status_code == 200 and resp.json() == []
    entry = {
        "session": "s1",
        "user": {"id": 1, "name": "alice", "color": "#d94f4f"},
        "role": "owner",
        "status": "active",
        "meta": {},
        "cursor": None,
        "joined_at": "2026-01-01T00:00:00Z",
    }
    presence_registry().join(str(shared.pk), entry)
    assert client.get(url(shared, "presence/")).json() == [entry]


# --- members --------------------------------------------------------------------------------------


def test_members_are_listed(shared: Document, carol: User, bob: User) -> None:
    resp = client_for(carol).get(url(shared, "members/"))
    assert resp.status_code == 200
    members = resp.json()
    assert [(m["username"], m["role"]) for m in members] == [("bob", "editor"), ("carol", "viewer")]
    assert set(members[0]) == {"username", "role", "user", "created_at"}
    assert members[0]["user"]["id"] == bob.pk
    assert set(members[0]["user"]) == {"id", "name", "color"}


def test_owner_adds_a_member(alice: User, bob: User) -> None:
    doc = new_doc(alice, "private")
    assert_error(client_for(bob).get(url(doc)), 404)
    resp = client_for(alice).post(url(doc, "members/"), {"username": "bob", "role": "viewer"}, format="json")
    assert resp.status_code == 201
    assert resp.json()["username"] == "bob" and resp.json()["role"] == "viewer"
    assert Membership.objects.get(document=doc, user=bob).role == "viewer"
    assert client_for(bob).get(url(doc)).json()["role"] == "viewer"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody", "role": "viewer"},
        {"username": "carol", "role": "admin"},
        {"username": "carol", "role": "none"},
        {"username": "carol"},
        {"role": "viewer"},
        {"username": "bob", "role": "viewer"},
        {"username": "alice", "role": "editor"},
    ],
    ids=repr,
)
def test_adding_a_member_badly_is_400(shared: Document, alice: User, body: dict[str, Any]) -> None:
    Membership.objects.filter(user__username="carol").delete()
    before = state(shared.pk)
    assert_error(client_for(alice).post(url(shared, "members/"), body, format="json"), 400)
    assert state(shared.pk) == before


def test_owner_changes_a_role_and_it_takes_effect(shared: Document, alice: User, bob: User) -> None:
    resp = client_for(alice).patch(url(shared, "members/bob/"), {"role": "viewer"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["username"] == "bob" and resp.json()["role"] == "viewer"
    assert_error(client_for(bob).patch(url(shared), {"title": "mine now"}, format="json"), 403)
    assert_error(client_for(alice).patch(url(shared, "members/bob/"), {"role": "boss"}, format="json"), 400)
    assert Membership.objects.get(user=bob).role == "viewer"


def test_owner_removes_a_member_and_they_lose_access(shared: Document, alice: User, bob: User) -> None:
    resp = client_for(alice).delete(url(shared, "members/bob/"))
    assert resp.status_code == 204
    assert not Membership.objects.filter(user=bob).exists()
    assert_error(client_for(bob).get(url(shared)), 404)


@pytest.mark.parametrize("username", ["dave", "nobody", "alice"])
def test_changing_or_removing_a_non_member_is_404(shared: Document, alice: User, username: str) -> None:
    User.objects.create(username="dave")
    client = client_for(alice)
    assert_error(client.patch(url(shared, f"members/{username}/"), {"role": "viewer"}, format="json"), 404)
    assert_error(client.delete(url(shared, f"members/{username}/")), 404)


def test_editors_cannot_manage_members(shared: Document, bob: User) -> None:
    before = state(shared.pk)
    client = client_for(bob)
    assert_error(
        client.post(url(shared, "members/"), {"username": "alice", "role": "viewer"}, format="json"), 403
    )
    assert_error(client.patch(url(shared, "members/carol/"), {"role": "editor"}, format="json"), 403)
    assert_error(client.delete(url(shared, "members/carol/")), 403)
    assert state(shared.pk) == before


def test_a_member_with_the_owner_role_has_owner_rights(alice: User, bob: User) -> None:
    doc = new_doc(alice, "co-owned")
    Membership.objects.create(document=doc, user=bob, role="owner")
    assert client_for(bob).get(url(doc)).json()["role"] == "owner"
    assert client_for(bob).patch(url(doc), {"public_role": "viewer"}, format="json").status_code == 200


# --- token, schema, docs --------------------------------------------------------------------------


def test_token_for_good_credentials(alice: User, anon: APIClient) -> None:
    resp = anon.post("/api/auth/token/", {"username": "alice", "password": "alice-pw"}, format="json")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"token"} and isinstance(body["token"], str) and body["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/documents/").status_code == 200
    again = anon.post("/api/auth/token/", {"username": "alice", "password": "alice-pw"}, format="json")
    assert again.json() == body


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "x"},
        {"username": "alice"},
        {},
    ],
    ids=repr,
)
def test_token_for_bad_credentials_is_400(alice: User, anon: APIClient, body: dict[str, Any]) -> None:
    assert_error(anon.post("/api/auth/token/", body, format="json"), 400)


def test_openapi_schema_describes_the_document_paths(anon: APIClient) -> None:
    resp = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    schema = json.loads(resp.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    expected = {
        "/api/documents/",
        "/api/documents/{id}/",
        "/api/documents/{id}/ops/",
        "/api/documents/{id}/snapshot/",
        "/api/documents/{id}/presence/",
        "/api/documents/{id}/members/",
        "/api/documents/{id}/members/{username}/",
        "/api/auth/token/",
    }
    assert expected <= paths, expected - paths
    assert set(schema["paths"]["/api/documents/{id}/"]) >= {"get", "patch", "delete"}
    assert set(schema["paths"]["/api/documents/{id}/ops/"]) >= {"get", "post"}
    assert set(schema["paths"]["/api/documents/{id}/members/{username}/"]) >= {"patch", "delete"}
    plain = anon.get("/api/schema/")  # JSON with no Accept header, like the rest of the API
    assert plain.status_code == 200 and plain.json()["openapi"].startswith("3.")
    yaml = anon.get("/api/schema.yaml")
    assert yaml.status_code == 200 and b"openapi: 3." in yaml.content


@pytest.mark.parametrize("method", ["put", "post", "options"])
def test_unreadable_document_is_404_or_401_for_any_method(
    alice: User, bob: User, anon: APIClient, method: str
) -> None:
    doc = editing.create_document(owner=alice, title="private")
    assert getattr(client_for(bob), method)(f"/api/documents/{doc.pk}/").status_code == 404
    assert getattr(anon, method)(f"/api/documents/{doc.pk}/").status_code == 401
    assert getattr(client_for(alice), method)(f"/api/documents/{doc.pk}/").status_code in (200, 405)
    assert getattr(client_for(bob), method)(f"/api/documents/{doc.pk}/members/alice/").status_code == 404


def test_swagger_ui_renders(anon: APIClient) -> None:
    resp = anon.get("/api/docs/")
    assert resp.status_code == 200
    assert b"swagger" in resp.content.lower()


# --- the permissions matrix ------------------------------------------------------------------------

REQUESTERS = ["owner", "editor", "viewer", "removed", "stranger", "anonymous"]
MEMBER_ROLE = {"owner": "owner", "editor": "editor", "viewer": "viewer"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    tail: str
    needs: str
    ok: int
    body: Callable[[str], dict[str, Any]] | None = None
    mutates: bool = field(default=False)


ENDPOINTS = [
    Endpoint("retrieve", "get", "", "viewer", 200),
    Endpoint("patch title", "patch", "", "editor", 200, lambda _: {"title": "Renamed"}, True),
    Endpoint("patch content", "patch", "", "editor", 200, lambda _: {"content": "hello world!"}, True),
    Endpoint(
        "patch public_role",
        "patch",
        "",
        "owner",
        200,
        lambda current: {"public_role": "viewer" if current != "viewer" else "none"},
        True,
    ),
    Endpoint("delete", "delete", "", "owner", 204, None, True),
    Endpoint("list ops", "get", "ops/", "viewer", 200),
    Endpoint("post op", "post", "ops/", "editor", 201, lambda _: {"version": 0, "op": [11, "!"]}, True),
    Endpoint("snapshot", "get", "snapshot/", "viewer", 200),
    Endpoint("presence", "get", "presence/", "viewer", 200),
    Endpoint("list members", "get", "members/", "viewer", 200),
    Endpoint(
        "add member",
        "post",
        "members/",
        "owner",
        201,
        lambda _: {"username": "newbie", "role": "viewer"},
        True,
    ),
    Endpoint("change member", "patch", "members/tom/", "owner", 200, lambda _: {"role": "editor"}, True),
    Endpoint("remove member", "delete", "members/tom/", "owner", 204, None, True),
]


def expected_role(requester: str, public_role: str) -> str:
    """PROTOCOL.md section 2: the higher of membership and public_role."""
    membership = MEMBER_ROLE.get(requester, "none")
    return max(membership, public_role, key=RANK.__getitem__)


def expected_status(requester: str, public_role: str, endpoint: Endpoint) -> int:
    role = expected_role(requester, public_role)
    if RANK[role] < RANK["viewer"]:
        return 401 if requester == "anonymous" else 404
    if RANK[role] < RANK[endpoint.needs]:
        return 403
    return endpoint.ok


def matrix_document(public_role: str) -> tuple[Document, dict[str, APIClient]]:
    users = {name: User.objects.create(username=name) for name in ["olga", "ed", "vic", "remy", "sam"]}
    User.objects.create(username="newbie")
    tom = User.objects.create(username="tom")
    doc = new_doc(users["olga"], "Matrix", "hello world", public_role=public_role)
    Membership.objects.create(document=doc, user=users["ed"], role="editor")
    Membership.objects.create(document=doc, user=users["vic"], role="viewer")
    Membership.objects.create(document=doc, user=tom, role="viewer")
    Membership.objects.create(document=doc, user=users["remy"], role="editor").delete()
    clients = {
        "owner": client_for(users["olga"]),
        "editor": client_for(users["ed"]),
        "viewer": client_for(users["vic"]),
        "removed": client_for(users["remy"]),
        "stranger": client_for(users["sam"]),
        "anonymous": APIClient(),
    }
    return doc, clients


def test_matrix_rule_is_not_trivial() -> None:
    """The rule gives every kind of answer somewhere, so the matrix can catch each kind of mistake."""
    answers = {expected_status(r, p, e) for r in REQUESTERS for p in RANK if p != "owner" for e in ENDPOINTS}
    assert answers == {200, 201, 204, 401, 403, 404}
    assert expected_role("viewer", "editor") == "editor"
    assert expected_role("removed", "viewer") == "viewer"
    assert expected_role("editor", "viewer") == "editor"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("public_role", ["none", "viewer", "editor"])
@pytest.mark.parametrize("requester", REQUESTERS)
def test_permissions_matrix(requester: str, public_role: str, endpoint: Endpoint) -> None:
    doc, clients = matrix_document(public_role)
    before = state(doc.pk)
    body = endpoint.body(public_role) if endpoint.body else None
    client = clients[requester]
    call = getattr(client, endpoint.method)
    resp = (
        call(url(doc, endpoint.tail), body, format="json")
        if body is not None
        else call(url(doc, endpoint.tail))
    )
    want = expected_status(requester, public_role, endpoint)
    assert resp.status_code == want, (requester, public_role, endpoint.name, resp.content[:300])
    after = state(doc.pk)
    if want >= 400:
        assert_error(resp, want)
        assert after == before, "a refused request changed the document"
        return
    if endpoint.mutates:
        assert after != before, "an accepted write changed nothing"
    else:
        assert after == before
    if endpoint.name in ("retrieve", "patch title", "patch content", "patch public_role"):
        assert resp.json()["role"] == expected_role(requester, public_role)


# --- bad input -------------------------------------------------------------------------------------


BAD_BODIES: list[tuple[str, str, str | bytes]] = [
    ("post", "", b'{"title": "x",'),
    ("post", "", b"not json at all"),
    ("post", "", b"[1, 2]"),
    ("post", "", b'"title"'),
    ("post", "", b"null"),
    ("post", "", b'{"title": NaN}'),
    ("post", "", b'{"title": "\xff\xfe"}'),
    ("post", "", json.dumps({"title": 5})),
    ("post", "", json.dumps({"title": ["a"]})),
    ("post", "", json.dumps({"title": {"a": 1}})),
    ("post", "", json.dumps({"title": True})),
    ("post", "", json.dumps({"title": "t", "content": 5})),
    ("post", "", json.dumps({"title": "t", "content": ["a"]})),
    ("post", "", json.dumps({"title": "t", "public_role": ["viewer"]})),
    ("post", "", json.dumps({"title": "\ud800"})),
    ("patch", "{doc}", b'{"title": '),
    ("patch", "{doc}", json.dumps({"title": 12})),
    ("patch", "{doc}", json.dumps({"content": 12})),
    ("patch", "{doc}", json.dumps({"content": {"text": "x"}})),
    ("patch", "{doc}", json.dumps({"content": "bad \ud800 surrogate"})),
    ("patch", "{doc}", b"[]"),
    ("post", "{doc}ops/", b'{"version": 0, "op": ["x"]'),
    ("post", "{doc}ops/", json.dumps({"version": "0", "op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"version": 0.0, "op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"version": True, "op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"version": None, "op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"version": -1, "op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"op": ["x"]})),
    ("post", "{doc}ops/", json.dumps({"version": 0})),
    ("post", "{doc}ops/", json.dumps({"version": 0, "op": "x"})),
    ("post", "{doc}ops/", json.dumps({"version": 0, "op": [1.5, "x"]})),
    ("post", "{doc}ops/", json.dumps({"version": 0, "op": [True]})),
    ("post", "{doc}ops/", json.dumps({"version": 0, "op": [0.5, "x"]})),
    ("post", "{doc}ops/", json.dumps({"version": 0, "op": [2**70, "x"]})),
    ("post", "{doc}ops/", b'{"version": 0, "op": [1e400]}'),
    ("post", "{doc}ops/", b'{"version": 0, "op": [Infinity]}'),
    ("post", "{doc}ops/", b"[0, [1]]"),
    ("post", "{doc}members/", b'{"username": "bob", "role": '),
    ("post", "{doc}members/", json.dumps({"username": 5, "role": "viewer"})),
    ("post", "{doc}members/", json.dumps({"username": ["bob"], "role": "viewer"})),
    ("post", "{doc}members/", json.dumps({"username": "\ud800", "role": "viewer"})),
    ("post", "{doc}members/", json.dumps({"username": "bob", "role": ["viewer"]})),
    ("patch", "{doc}members/carol/", b"{"),
    ("patch", "{doc}members/carol/", json.dumps({"role": 3})),
    ("patch", "{doc}members/carol/", json.dumps({})),
]


@pytest.mark.parametrize(("method", "path", "raw"), BAD_BODIES, ids=lambda v: repr(v)[:60])
def test_bad_input_is_4xx_json_and_changes_nothing(
    shared: Document, alice: User, method: str, path: str, raw: str | bytes
) -> None:
    target = "/api/documents/" + path.format(doc=f"{shared.pk}/")
    before = state(shared.pk)
    count = Document.objects.count()
    resp = getattr(client_for(alice), method)(target, raw, content_type="application/json")
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.content[:300])
    assert_error(resp, resp.status_code)
    assert state(shared.pk) == before
    assert Document.objects.count() == count


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"title=hello", 415), (b"<doc><title>x</title></doc>", 415)],
)
def test_unsupported_media_type_is_415(api: APIClient, raw: bytes, status: int) -> None:
    assert_error(api.post("/api/documents/", raw, content_type="text/plain"), status)
    assert Document.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "tail"), [("post", ""), ("patch", "{doc}"), ("post", "{doc}ops/"), ("post", "{doc}members/")]
)
def test_a_body_over_the_upload_limit_is_413(shared: Document, alice: User, method: str, tail: str) -> None:
    from django.conf import settings

    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    payloads = {
        "": {"title": "t", "content": big},
        "{doc}": {"content": big},
        "{doc}ops/": {"version": 0, "op": [big]},
        "{doc}members/": {"username": big, "role": "viewer"},
    }
    before = state(shared.pk)
    target = "/api/documents/" + tail.format(doc=f"{shared.pk}/")
    resp = getattr(client_for(alice), method)(target, payloads[tail], format="json")
    assert_error(resp, 413, "request_too_large")
    assert state(shared.pk) == before
    assert Document.objects.count() == 1


def test_a_body_over_the_upload_limit_is_413_over_a_session_too(
    alice: User, settings: SettingsWrapper
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = Client()
    client.force_login(alice)
    resp = client.post(
        "/api/documents/", json.dumps({"title": "t", "content": "x" * 2000}), content_type="application/json"
    )
    assert resp.status_code == 413
    assert resp.json()["detail"]
    assert Document.objects.count() == 0


@pytest.mark.parametrize("where", ["create", "patch", "op"])
def test_content_over_max_document_chars_is_document_too_large(
    alice: User, settings: SettingsWrapper, where: str
) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 100}
    doc = new_doc(alice, "limit", "x" * 100)
    before = state(doc.pk)
    client = client_for(alice)
    if where == "create":
        resp = client.post("/api/documents/", {"title": "t", "content": "y" * 101}, format="json")
    elif where == "patch":
        resp = client.patch(url(doc), {"content": "y" * 101}, format="json")
    else:
        resp = client.post(url(doc, "ops/"), {"version": 0, "op": ["y"]}, format="json")
    assert_error(resp, 400, "document_too_large")
    assert state(doc.pk) == before
    assert Document.objects.count() == 1
    # exactly at the limit is fine
    assert client.patch(url(doc), {"content": "z" * 100}, format="json").status_code == 200
