"""A host's permission policy (``COLLAB["PERMISSION_POLICY"]``) decides every role: REST, the pages,
the text and presence WebSockets and both yjs endpoints; ``access.roles_changed`` makes live
connections ask it again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import transaction

from collab import access, editing
from collab.models import Document, Membership
from collab.yjs import documents as yjs_documents
from project.asgi import application
from tests.conftest import client_for
from tests.support import policies
from tests.test_consumers import join, refused
from tests.test_yjs_consumers import closed_with, connect, ywebsocket

POLICY = "tests.support.policies.grants"


@pytest.fixture
def host_policy(settings: Any) -> Iterator[dict[tuple[str, str], str]]:
    settings.COLLAB = {**settings.COLLAB, "PERMISSION_POLICY": POLICY}
    policies.GRANTS.clear()
    yield policies.GRANTS
    policies.GRANTS.clear()


def grant(grants: dict[tuple[str, str], str], user: User, document: Any, role: str) -> None:
    grants[(user.username, str(document.pk))] = role


@database_sync_to_async
def new_doc(owner: User, kind: str = "text", public_role: str = "none") -> Document:
    create = yjs_documents.create if kind == "yjs" else editing.create_document
    return create(owner=owner, title="Doc", content="hello", public_role=public_role)


@database_sync_to_async
def roles_changed(document: Document) -> None:
    with transaction.atomic():
        access.roles_changed(document)


# -- REST and pages ----------------------------------------------------------------------


@pytest.mark.django_db
def test_rest_roles_come_from_the_policy(alice: User, bob: User, host_policy: Any) -> None:
    doc = editing.create_document(owner=alice, title="Doc", content="hi", public_role="editor")
    bob_api = client_for(bob)
    url = f"/api/documents/{doc.pk}/"
    assert bob_api.get(url).status_code == 404  # public_role says editor; the policy says none
    grant(host_policy, bob, doc, "viewer")
    got = bob_api.get(url)
    assert got.status_code == 200 and got.json()["role"] == "viewer"
    assert bob_api.patch(url, {"content": "no"}, format="json").status_code == 403
    grant(host_policy, bob, doc, "editor")
    assert bob_api.patch(url, {"content": "yes"}, format="json").status_code == 200
    assert client_for(alice).get(url).json()["role"] == "owner"


@pytest.mark.django_db
def test_lists_show_only_what_the_policy_lets_people_read(alice: User, bob: User, host_policy: Any) -> None:
    shown = editing.create_document(owner=alice, title="shown")
    hidden = editing.create_document(owner=alice, title="hidden")
    for doc in (shown, hidden):  # a member by the default policy's data, but the policy rules
        Membership.objects.create(document=doc, user=bob, role="editor")
    grant(host_policy, bob, shown, "viewer")
    listed = client_for(bob).get("/api/documents/").json()
    assert [(d["title"], d["role"]) for d in listed["results"]] == [("shown", "viewer")]
    assert listed["count"] == 1


@pytest.mark.django_db
def test_an_invalid_answer_is_none(alice: User, bob: User, host_policy: Any) -> None:
    doc = editing.create_document(owner=alice, title="Doc")
    grant(host_policy, bob, doc, "admin")
    assert access.role_for(bob, doc) == "none"


@pytest.mark.django_db
def test_a_callable_works_as_well_as_a_path(alice: User, bob: User, settings: Any) -> None:
    doc = editing.create_document(owner=alice, title="Doc")
    settings.COLLAB = {"PERMISSION_POLICY": lambda user, document: "editor"}
    assert access.role_for(bob, doc) == "editor"
    assert access.resolve_cached(bob, doc.pk)[1] == "editor"


# -- WebSockets ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_text_socket_roles_follow_the_policy_live(alice: User, bob: User, host_policy: Any) -> None:
    doc = await new_doc(alice, public_role="editor")
    error, code = await refused(doc.pk, bob)
    assert error["payload"]["code"] == "not_found"
    assert code == 4404
    grant(host_policy, bob, doc, "viewer")  # no signal: a policy is asked on every handshake (no cache)
    b = await join(doc.pk, bob)
    assert b.hello["payload"]["role"] == "viewer"
    grant(host_policy, bob, doc, "editor")
    await roles_changed(doc)
    assert (await b.recv_type("role"))["payload"] == {"role": "editor"}
    del host_policy[(bob.username, str(doc.pk))]
    await roles_changed(doc)
    assert (await b.recv_type("error"))["payload"]["code"] == "access_revoked"
    assert await b.comm.receive_output(3) == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_roles_changed_waits_for_the_commit(alice: User, bob: User, host_policy: Any) -> None:
    doc = await new_doc(alice)
    grant(host_policy, bob, doc, "viewer")
    b = await join(doc.pk, bob)

    @database_sync_to_async
    def rolled_back() -> None:
        with transaction.atomic():
            access.roles_changed(doc)
            transaction.set_rollback(True)

    grant(host_policy, bob, doc, "editor")
    await rolled_back()
    assert await b.nothing(0.3)  # never published
    await roles_changed(doc)
    assert (await b.recv_type("role"))["payload"] == {"role": "editor"}
    await b.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_presence_room_asks_the_policy(alice: User, bob: User, host_policy: Any) -> None:
    doc = await new_doc(alice, public_role="viewer")
    token = await database_sync_to_async(lambda: client_for(bob)._credentials["HTTP_AUTHORIZATION"][6:])()
    watcher = WebsocketCommunicator(application, f"/ws/presence/?token={token}")
    assert (await watcher.connect(timeout=5))[0]
    subscribe = json.dumps({"type": "subscribe", "payload": {"documents": [str(doc.pk)]}})
    await watcher.send_to(text_data=subscribe)
    assert json.loads(await watcher.receive_from(3))["payload"]["code"] == "not_found"
    assert json.loads(await watcher.receive_from(3))["payload"] == {"documents": []}
    grant(host_policy, bob, doc, "viewer")
    await watcher.send_to(text_data=subscribe)
    assert json.loads(await watcher.receive_from(3))["type"] == "presence"
    assert json.loads(await watcher.receive_from(3))["payload"] == {"documents": [str(doc.pk)]}
    del host_policy[(bob.username, str(doc.pk))]
    await roles_changed(doc)
    assert json.loads(await watcher.receive_from(3))["payload"] == {"documents": []}
    await watcher.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_yjs_endpoints_ask_the_policy(alice: User, bob: User, host_policy: Any) -> None:
    doc = await new_doc(alice, kind="yjs", public_role="editor")
    assert await closed_with(await connect(f"/ws/yjs/{doc.pk}", bob)) == 4404
    grant(host_policy, bob, doc, "editor")
    b = await ywebsocket(str(doc.pk), bob)
    assert b.content() == "hello"
    del host_policy[(bob.username, str(doc.pk))]
    await roles_changed(doc)
    assert await closed_with(b.link.comm) == 4403
