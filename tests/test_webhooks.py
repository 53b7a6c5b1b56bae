"""Webhooks: the outbox in the change's transaction, the debounce, REST, and delivery to a real receiver.

The worker is driven pass by pass (``Worker.run_once``) against a local HTTP
receiver (tests/support/webhook_receiver.py). Killing a worker mid-delivery and
the worker that runs inside a server are in tests/test_webhooks_live.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from collab import editing, metrics
from collab.editing import EditRequest
from collab.models import Document, Membership
from collab.webhooks import outbox, signing
from collab.webhooks.models import (
    EVENT_TYPES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from collab.webhooks.worker import Worker, backoff
from tests.conftest import client_for
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    settings.COLLAB = {
        **settings.COLLAB,
        "WEBHOOK_ALLOW_PRIVATE": True,  # the receiver is on 127.0.0.1
        "WEBHOOK_DEBOUNCE": 0.5,
        "WEBHOOK_BACKOFF_BASE": 0.05,
        "WEBHOOK_BACKOFF_MAX": 0.2,
        "WEBHOOK_TIMEOUT": 5,
    }
    outbox.forget_subscriptions()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.pool.shutdown(wait=True)


def subscribe(user: User, url: str, events: list[str] | None = None, **fields: Any) -> WebhookSubscription:
    """A subscription to ``events`` (empty or None: all of them)."""
    sub = WebhookSubscription.objects.create(
        owner=user, url=url, secret=signing.new_secret(), events=events or list(EVENT_TYPES), **fields
    )
    outbox.forget_subscriptions()
    return sub


def drain(worker: Worker, until: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the worker did not get there"
        worker.run_once()
        time.sleep(0.05)


# -- signing ---------------------------------------------------------------------------------
def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    secret = signing.new_secret()
    headers = signing.sign(secret, "msg_1", b'{"a":1}')
    signing.verify(secret, headers, b'{"a":1}')
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, headers, b'{"a":2}')
    with pytest.raises(signing.InvalidSignature):
        signing.verify(signing.new_secret(), headers, b'{"a":1}')
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, {**headers, "webhook-id": "msg_2"}, b'{"a":1}')
    old = signing.sign(secret, "msg_1", b"{}", now=time.time() - 3600)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, old, b"{}")  # a replay outside the tolerance


def test_backoff_doubles_with_jitter_up_to_the_cap(settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "WEBHOOK_BACKOFF_BASE": 2, "WEBHOOK_BACKOFF_MAX": 60}
    for attempts, full in [(1, 2), (2, 4), (3, 8), (6, 60), (20, 60)]:
        delays = {backoff(attempts) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (attempts, delays)
        assert len(delays) > 1  # jittered


# -- the outbox ------------------------------------------------------------------------------
def test_nothing_is_written_while_nobody_subscribes(alice: User) -> None:
    doc = editing.create_document(owner=alice, title="t", content="a")
    editing.commit(EditRequest(doc.pk, 0, ["x"], user=alice))
    assert not WebhookEvent.objects.exists()


def test_an_event_commits_or_rolls_back_with_its_change(alice: User, receiver: Receiver) -> None:
    subscribe(alice, receiver.url, events=["document.changed", "document.created"])
    doc = editing.create_document(owner=alice, title="t", content="a")
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["document.created"]
    with pytest.raises(RuntimeError), transaction.atomic():
        editing.commit(EditRequest(doc.pk, 0, ["x"], user=alice))
        assert WebhookEvent.objects.filter(type="document.changed").count() == 1
        raise RuntimeError("the outer transaction fails")
    assert not WebhookEvent.objects.filter(type="document.changed").exists()
    assert Document.objects.get(pk=doc.pk).version == 0


def test_changes_are_debounced_into_one_event_per_interval(
    alice: User, receiver: Receiver, worker: Worker
) -> None:
    subscribe(alice, receiver.url, events=["document.changed"])
    doc = editing.create_document(owner=alice, title="t", content="")
    for v in range(3):
        editing.commit(EditRequest(doc.pk, v, ["x"], user=alice))
    (event,) = WebhookEvent.objects.filter(type="document.changed")
    assert (event.first_version, event.last_version) == (1, 3)
    drain(worker, lambda: len(receiver.requests) == 1)
    body = receiver.requests[0].json
    assert body["type"] == "document.changed" and body["id"] == str(event.pk)
    assert body["data"]["from_version"] == 1 and body["data"]["to_version"] == 3
    assert body["data"]["content"] == "xxx"
    assert body["data"]["links"]["ops"] == f"/api/documents/{doc.pk}/ops/?since=0"
    # the next change is not due before the debounce interval since the last one
    editing.commit(EditRequest(doc.pk, 3, ["y"], user=alice))
    editing.commit(EditRequest(doc.pk, 4, ["z"], user=alice))
    second = WebhookEvent.objects.get(type="document.changed", dispatched_at__isnull=True)
    assert second.available_at >= event.available_at + timedelta(seconds=0.5)
    worker.run_once()
    assert len(receiver.requests) == 1 or second.available_at <= timezone.now()
    drain(worker, lambda: len(receiver.requests) == 2)
    data = receiver.requests[1].json["data"]
    assert (data["from_version"], data["to_version"], data["content"]) == (4, 5, "zyxxx")


# -- delivery to a real receiver ----------------------------------------------------------------
def test_events_reach_the_receiver_signed_with_an_idempotency_key(
    alice: User, bob: User, receiver: Receiver, worker: Worker
) -> None:
    sub = subscribe(alice, receiver.url, events=[])
    api = client_for(alice)
    doc = api.post("/api/documents/", {"title": "Notes", "content": "hi"}, format="json").json()
    added = api.post(
        f"/api/documents/{doc['id']}/members/", {"username": "bob", "role": "editor"}, format="json"
    )
    assert added.status_code == 201
    assert (
        api.patch(f"/api/documents/{doc['id']}/members/bob/", {"role": "viewer"}, format="json").status_code
        == 200
    )
    assert api.delete(f"/api/documents/{doc['id']}/members/bob/").status_code == 204
    assert (
        api.patch(f"/api/documents/{doc['id']}/", {"content": "hi there"}, format="json").status_code == 200
    )
    drain(worker, lambda: len(receiver.requests) >= 5)
    types = sorted(r.headers["x-collab-event"] for r in receiver.requests)  # sent in parallel: any order
    assert types == [
        "document.changed",
        "document.created",
        "member.added",
        "member.changed",
        "member.removed",
    ]
    for r in receiver.requests:
        signing.verify(sub.secret, r.headers, r.body)  # raises if not signed right
        assert r.headers["idempotency-key"] == r.headers["webhook-id"]
        assert r.json["type"] == r.headers["x-collab-event"]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 5
    created, added = (receiver.of_type(t)[0].json["data"] for t in ("document.created", "member.added"))
    assert created["document"]["title"] == "Notes" and created["content"] == "hi"
    assert created["document"]["owner"] == {"id": alice.pk, "username": "alice"}
    assert added["member"] == {"user": {"id": bob.pk, "username": "bob"}, "role": "editor"}
    assert receiver.of_type("document.changed")[0].json["data"]["content"] == "hi there"

    # a deleted document: one document.deleted, no member.removed for its memberships
    Membership.objects.create(document_id=doc["id"], user=bob, role="editor")
    drain(worker, lambda: len(receiver.requests) >= 6)
    assert api.delete(f"/api/documents/{doc['id']}/").status_code == 204
    drain(worker, lambda: len(receiver.of_type("document.deleted")) == 1)
    worker.run_once()
    assert len(receiver.of_type("member.removed")) == 1  # the earlier one only
    gone = receiver.of_type("document.deleted")[0].json["data"]["document"]
    assert gone["id"] == doc["id"] and gone["title"] == "Notes"
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 7


def test_a_receiver_that_fails_then_recovers_gets_the_same_delivery_again(
    alice: User, receiver: Receiver, worker: Worker
) -> None:
    subscribe(alice, receiver.url, events=["document.created"])
    before = metrics.WEBHOOK_DELIVERIES.labels("retry")._value.get()
    receiver.answers = [500, 503]
    editing.create_document(owner=alice, title="t")
    drain(worker, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).exists())
    assert [r.status for r in receiver.requests] == [500, 503, 204]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # one delivery, three attempts
    assert len({r.body for r in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 3 and delivery.last_status == 204 and delivery.delivered_at is not None
    assert metrics.WEBHOOK_DELIVERIES.labels("retry")._value.get() == before + 2


def test_a_receiver_that_never_recovers_is_marked_failed_after_the_retry_window(
    alice: User, receiver: Receiver, worker: Worker, settings: Any
) -> None:
    settings.COLLAB = {**settings.COLLAB, "WEBHOOK_RETRY_FOR": 0.5}
    subscribe(alice, receiver.url, events=["document.created"])
    failed = metrics.WEBHOOK_DELIVERIES.labels("failed")._value.get()
    receiver.answers = [500] * 100
    editing.create_document(owner=alice, title="t")
    drain(worker, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).exists())
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status == 500 and delivery.attempts >= 2 and "500" in delivery.last_error
    assert metrics.WEBHOOK_DELIVERIES.labels("failed")._value.get() == failed + 1
    count = len(receiver.requests)
    worker.run_once()
    assert len(receiver.requests) == count  # no more attempts


def test_private_addresses_are_refused_unless_allowed(
    alice: User, receiver: Receiver, worker: Worker, settings: Any
) -> None:
    settings.COLLAB = {**settings.COLLAB, "WEBHOOK_ALLOW_PRIVATE": False, "WEBHOOK_RETRY_FOR": 0.1}
    subscribe(alice, receiver.url, events=["document.created"])
    editing.create_document(owner=alice, title="t")
    drain(worker, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).exists())
    assert not receiver.requests
    assert "private address" in WebhookDelivery.objects.get().last_error


def test_other_owners_and_other_documents_are_not_delivered(
    alice: User, bob: User, receiver: Receiver, worker: Worker
) -> None:
    mine = editing.create_document(owner=alice, title="mine")
    subscribe(alice, receiver.url, events=["document.changed"], document_id=mine.pk)
    other = editing.create_document(owner=alice, title="other")
    bobs = editing.create_document(owner=bob, title="bob's")
    for doc in (other, bobs, mine):
        editing.commit(EditRequest(doc.pk, 0, ["x"], user=doc.owner))
    drain(worker, lambda: not WebhookEvent.objects.filter(dispatched_at__isnull=True).exists())
    worker.run_once()
    assert [r.json["data"]["document"]["title"] for r in receiver.requests] == ["mine"]


# -- REST --------------------------------------------------------------------------------------
def test_owners_manage_their_subscriptions_over_rest(alice: User, bob: User, anon: APIClient) -> None:
    api, other = client_for(alice), client_for(bob)
    doc = editing.create_document(owner=alice, title="t")
    response = api.post(
        "/api/webhooks/",
        {"url": "https://hooks.example.com/c", "events": ["document.changed"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["document.changed"]
    hook = f"/api/webhooks/{created['id']}/"
    shown = api.get(hook).json()
    assert "secret" not in shown and shown["url"] == "https://hooks.example.com/c"
    assert api.get("/api/webhooks/").json()["count"] == 1
    assert other.get(hook).status_code == 404 and other.get("/api/webhooks/").json()["count"] == 0
    assert anon.get("/api/webhooks/").status_code == 401
    assert (
        api.patch(hook, {"active": False, "document": str(doc.pk)}, format="json").json()["active"] is False
    )
    refused = other.post(
        "/api/webhooks/", {"url": "https://x.example/", "document": str(doc.pk)}, format="json"
    )
    assert refused.status_code == 400 and "own" in refused.json()["detail"]
    assert api.post("/api/webhooks/", {"url": "ftp://x.example/"}, format="json").status_code == 400
    assert (
        api.post(
            "/api/webhooks/", {"url": "https://x.example/", "events": ["nope"]}, format="json"
        ).status_code
        == 400
    )
    bad_secret = api.post("/api/webhooks/", {"url": "https://x.example/", "secret": "hunter2"}, format="json")
    assert bad_secret.status_code == 400
    all_events = api.post("/api/webhooks/", {"url": "https://x.example/"}, format="json").json()
    assert len(all_events["events"]) == 6
    assert api.get(f"{hook}deliveries/").json() == []
    assert api.delete(hook).status_code == 204 and api.get(hook).status_code == 404


def test_a_yjs_document_change_carries_the_text_of_its_y_text(
    alice: User, receiver: Receiver, worker: Worker
) -> None:
    from collab.yjs import documents as yjs_documents

    subscribe(alice, receiver.url, events=["document.changed"])
    doc = yjs_documents.create(owner=alice, title="rich", content="hello")
    yjs_documents.replace_text(Document.objects.get(pk=doc.pk), "hello world", user=alice)
    drain(worker, lambda: len(receiver.requests) == 1)
    data = receiver.requests[0].json["data"]
    assert data["document"]["kind"] == "yjs" and data["content"] == "hello world"
    assert data["from_version"] == 1 and data["to_version"] == 1 and "ops" not in data["links"]


def test_failed_deliveries_are_visible_in_the_admin_and_can_be_retried(
    alice: User, receiver: Receiver, worker: Worker, settings: Any
) -> None:
    from django.test import Client

    settings.COLLAB = {**settings.COLLAB, "WEBHOOK_RETRY_FOR": 0.3}
    subscribe(alice, receiver.url, events=["document.created"])
    receiver.answers = [500] * 100
    editing.create_document(owner=alice, title="t")
    drain(worker, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).exists())
    delivery = WebhookDelivery.objects.get()
    site = Client()
    site.force_login(User.objects.create_superuser("root", "root@example.com", "root-pw"))
    page = site.get("/admin/collab/webhookdelivery/?status__exact=failed").content.decode()
    assert receiver.url in page and "HTTP 500" in page
    assert site.get(f"/admin/collab/webhookdelivery/{delivery.pk}/change/").status_code == 200
    settings.COLLAB = {**settings.COLLAB, "WEBHOOK_RETRY_FOR": 60}
    receiver.answers = []  # the receiver is fixed
    site.post(
        "/admin/collab/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [str(delivery.pk)]},
    )
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    drain(worker, lambda: WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED)
    assert receiver.requests[-1].headers["webhook-id"] == str(delivery.pk)
