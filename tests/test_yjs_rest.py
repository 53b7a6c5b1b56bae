"""REST on yjs documents: kind and limits, content from the Y.Text, PATCH as a minimal Yjs edit, /state/."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
from rest_framework.test import APIClient

from collab.models import Document, Membership, YjsUpdate
from collab.yjs import storage
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def create(api: APIClient, **extra: Any) -> dict[str, Any]:
    response = api.post("/api/documents/", {"title": "y", "kind": "yjs", **extra}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def client_doc(state: bytes) -> pycrdt.Doc:
    doc = pycrdt.Doc()
    doc.apply_update(state)
    return doc


def test_create_yjs_document_carries_kind_and_limits(api: APIClient) -> None:
    doc = create(api, content="héllo 😀")
    assert doc["kind"] == "yjs"
    assert doc["content"] == "héllo 😀"
    assert doc["version"] == 0
    assert set(doc["limits"]) == {"max_message_bytes", "max_document_bytes"}
    text = api.post("/api/documents/", {"title": "t"}, format="json").json()
    assert text["kind"] == "text" and "limits" not in text
    listed = api.get("/api/documents/").json()["results"]
    assert {d["kind"] for d in listed} == {"text", "yjs"}
    assert api.post("/api/documents/", {"title": "x", "kind": "svg"}, format="json").status_code == 400


def test_kind_never_changes(api: APIClient) -> None:
    doc = create(api)
    api.patch(f"/api/documents/{doc['id']}/", {"kind": "text"}, format="json")
    assert Document.objects.get(pk=doc["id"]).kind == "yjs"


def test_state_roundtrip_and_post_update(api: APIClient, alice: Any) -> None:
    doc = create(api, content="abc")
    response = api.get(f"/api/documents/{doc['id']}/state/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    local = client_doc(response.content)
    text = local.get("content", type=pycrdt.Text)
    before = local.get_state()
    text.insert(3, "def")
    update = local.get_update(before)
    posted = api.post(f"/api/documents/{doc['id']}/state/", update, content_type="application/octet-stream")
    assert posted.status_code == 204
    fresh = api.get(f"/api/documents/{doc['id']}/").json()
    assert fresh["content"] == "abcdef" and fresh["version"] == 1
    assert YjsUpdate.objects.get(document_id=doc["id"], version=1).user == alice
    # the same update again holds nothing new: nothing stored
    again = api.post(f"/api/documents/{doc['id']}/state/", update, content_type="application/octet-stream")
    assert again.status_code == 204
    assert api.get(f"/api/documents/{doc['id']}/").json()["version"] == 1


def test_post_state_refuses_garbage_and_viewers(api: APIClient, bob: Any) -> None:
    doc = create(api, public_role="viewer")
    bad = api.post(
        f"/api/documents/{doc['id']}/state/", b"\x07garbage", content_type="application/octet-stream"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_update"
    other = pycrdt.Doc()
    other.get("content", type=pycrdt.Text).insert(0, "x")
    viewer = client_for(bob)
    denied = viewer.post(
        f"/api/documents/{doc['id']}/state/", other.get_update(), content_type="application/octet-stream"
    )
    assert denied.status_code == 403
    assert viewer.get(f"/api/documents/{doc['id']}/state/").status_code == 200
    assert YjsUpdate.objects.filter(document_id=doc["id"]).count() == 0


def test_unreadable_yjs_document_is_401_or_404(api: APIClient, anon: APIClient, bob: Any) -> None:
    doc = create(api)
    assert anon.get(f"/api/documents/{doc['id']}/state/").status_code == 401
    assert client_for(bob).get(f"/api/documents/{doc['id']}/state/").status_code == 404


def test_wrong_kind_endpoints_answer_400(api: APIClient) -> None:
    ydoc = create(api)
    tdoc = api.post("/api/documents/", {"title": "t"}, format="json").json()
    for response in (
        api.post(f"/api/documents/{ydoc['id']}/ops/", {"version": 0, "op": ["x"]}, format="json"),
        api.get(f"/api/documents/{ydoc['id']}/ops/"),
        api.get(f"/api/documents/{tdoc['id']}/state/"),
        api.post(f"/api/documents/{tdoc['id']}/state/", b"\x00\x00", content_type="application/octet-stream"),
    ):
        assert response.status_code == 400
        assert "kind" not in response.json() and "document" in response.json()["detail"]


def test_patch_content_applies_only_the_difference(api: APIClient) -> None:
    doc = create(api, content="hello 😀 world")
    response = api.patch(f"/api/documents/{doc['id']}/", {"content": "hello 😀 big world"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["content"] == "hello 😀 big world"
    rows = list(YjsUpdate.objects.filter(document_id=doc["id"]).order_by("version"))
    assert len(rows) == 1
    # a minimal edit: one small insert, never the whole text again
    assert b"world" not in bytes(rows[0].data) and b"hello" not in bytes(rows[0].data)
    assert (
        api.patch(f"/api/documents/{doc['id']}/", {"content": "héllo"}, format="json").json()["content"]
        == "héllo"
    )


def test_patch_content_keeps_a_concurrent_edit_elsewhere(api: APIClient) -> None:
    doc = create(api, content="one two three")
    # a client synced at version 0 types at the end while the PATCH changes the start
    local = client_doc(api.get(f"/api/documents/{doc['id']}/state/").content)
    before = local.get_state()
    ltext = local.get("content", type=pycrdt.Text)
    ltext.insert(len(str(ltext).encode()), " four")
    concurrent = local.get_update(before)
    assert (
        api.patch(f"/api/documents/{doc['id']}/", {"content": "ONE two three"}, format="json").status_code
        == 200
    )
    api.post(f"/api/documents/{doc['id']}/state/", concurrent, content_type="application/octet-stream")
    assert api.get(f"/api/documents/{doc['id']}/").json()["content"] == "ONE two three four"


def test_patch_content_refused_when_content_is_rich_text(api: APIClient) -> None:
    doc = create(api)
    rich = pycrdt.Doc()
    rich["content"] = pycrdt.XmlFragment([pycrdt.XmlElement("p", {}, [pycrdt.XmlText("hi")])])
    api.post(f"/api/documents/{doc['id']}/state/", rich.get_update(), content_type="application/octet-stream")
    response = api.patch(f"/api/documents/{doc['id']}/", {"content": "plain"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "wrong_type"
    assert api.get(f"/api/documents/{doc['id']}/").json()["content"] == ""


def test_document_too_large_is_refused_and_nothing_stored(api: APIClient, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_BYTES": 200}
    too_big = api.post("/api/documents/", {"title": "y", "kind": "yjs", "content": "x" * 500}, format="json")
    assert too_big.status_code == 400 and too_big.json()["code"] == "document_too_large"
    doc = create(api, content="small")
    response = api.patch(f"/api/documents/{doc['id']}/", {"content": "y" * 500}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "document_too_large"
    assert YjsUpdate.objects.filter(document_id=doc["id"]).count() == 0
    assert storage.text_of(storage.load(doc["id"])) == "small"


def test_editor_member_may_post_state(api: APIClient, bob: Any) -> None:
    doc = create(api)
    Membership.objects.create(document_id=doc["id"], user=bob, role="editor")
    other = pycrdt.Doc()
    other.get("content", type=pycrdt.Text).insert(0, "bob")
    response = client_for(bob).post(
        f"/api/documents/{doc['id']}/state/", other.get_update(), content_type="application/octet-stream"
    )
    assert response.status_code == 204
    assert client_for(bob).get(f"/api/documents/{doc['id']}/").json()["content"] == "bob"
