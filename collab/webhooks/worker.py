"""The delivery worker: due events become deliveries, deliveries are POSTed, signed, and retried.

One pass (``Worker.run_once``):

1. dispatch: each due event (``available_at`` passed) is claimed in a
   transaction that also locks its document, so the body (built once, with the
   document as it is now: for ``document.changed`` the version range and the
   current text) and one delivery per matching subscription are written
   together;
2. deliver: due deliveries are leased (``leased_until``: the HTTP timeout and a
   margin) and POSTed by a few threads. 2xx: delivered. Anything else: retried
   after an exponential backoff with jitter (``WEBHOOK_BACKOFF_BASE`` doubling up
   to ``WEBHOOK_BACKOFF_MAX``) until ``WEBHOOK_RETRY_FOR`` seconds after the
   delivery was made, then marked failed (the admin lists them and can retry).

At least once: a worker killed mid-delivery leaves the lease behind; once it
runs out, any worker (the restarted one, another process) sends the delivery
again with the same ``webhook-id``, which receivers use as the idempotency key.
Several workers (one per server process) share the tables safely: every claim
is a conditional UPDATE that only one of them wins.

Each server process runs one worker thread (``start_with_server``, from
``project.asgi``) unless ``COLLAB_WEBHOOKS_WORKER=off``; then run
``manage.py collab_webhooks`` as a process of its own.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from collab import metrics
from collab.conf import collab_settings
from collab.models import Document, Kind
from collab.webhooks import outbox
from collab.webhooks.models import (
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from collab.webhooks.receivers import document_data, owners
from collab.webhooks.signing import sign

log = logging.getLogger("collab.webhooks")
USER_AGENT = "collab-webhooks/1"
CLEANUP_EVERY = 3600.0


def cfg(name: str) -> Any:
    return collab_settings[name]


# -- dispatch ------------------------------------------------------------------------------
def _links(document_id: str, since: int | None) -> dict[str, str]:
    base = str(cfg("WEBHOOK_BASE_URL") or "").rstrip("/")
    links = {"document": f"{base}/api/documents/{document_id}/"}
    if since is not None:
        links["ops"] = f"{base}/api/documents/{document_id}/ops/?since={since}"
    return links


def _text(document: Document) -> str:
    if document.kind == Kind.YJS:
        from collab.yjs import documents as yjs_documents

        return yjs_documents.text(document)
    return document.content


def _data(event: WebhookEvent, document: Document | None) -> dict[str, Any] | None:
    """The ``data`` of the body, or None when there is nothing left to say (the document is gone)."""
    doc_id = str(event.document_id)
    if event.type == EventType.DOCUMENT_DELETED:
        return dict(event.data)
    if event.type == EventType.DOCUMENT_CREATED:  # as it was created
        return {**event.data, "links": _links(doc_id, None)} if document is not None else None
    if document is None:
        return None  # deleted meanwhile: its document.deleted event tells
    data: dict[str, Any] = {"document": document_data(document)}
    if event.type == EventType.DOCUMENT_CHANGED:
        first = event.first_version if event.first_version is not None else document.version
        data |= {"from_version": first, "to_version": document.version}
        data["links"] = _links(doc_id, max(first - 1, 0) if document.kind == Kind.TEXT else None)
    else:
        data["links"] = _links(doc_id, None)
    if event.type == EventType.DOCUMENT_CHANGED:
        limit = int(cfg("WEBHOOK_CONTENT_CHARS"))
        text = _text(document) if limit > 0 else ""
        if limit > 0 and len(text) <= limit:
            data["content"] = text
    if "member" in event.data:
        data["member"] = event.data["member"]
    return data


def _locked_document(document_id: Any) -> Document | None:
    qs = Document.objects.select_related("owner")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update(of=("self",))
    return qs.filter(pk=document_id).first()


def dispatch(event_id: Any) -> int:
    """Claim one due event and write its deliveries; how many were written."""
    now = timezone.now()
    with transaction.atomic():
        document_id = (
            WebhookEvent.objects.filter(pk=event_id, dispatched_at__isnull=True)
            .values_list("document_id", flat=True)
            .first()
        )
        if document_id is None:
            return 0
        document = _locked_document(document_id)  # first: committers widen the event under this lock
        if not WebhookEvent.objects.filter(pk=event_id, dispatched_at__isnull=True).update(dispatched_at=now):
            return 0  # another worker took it
        event = WebhookEvent.objects.get(pk=event_id)
        audience = event.audience if event.audience is not None else (owners(document) if document else [])
        subscriptions = [
            s
            for s in WebhookSubscription.objects.filter(active=True, owner_id__in=audience)
            if s.wants(event.type, str(event.document_id))
        ]
        data = _data(event, document) if subscriptions else None
        if data is None:
            return 0
        body = {
            "id": str(event.pk),
            "type": event.type,
            "timestamp": event.created_at.isoformat(),
            "data": data,
        }
        event.body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if document is not None:
            event.last_version = document.version
        event.save(update_fields=["body", "last_version"])
        give_up = now + timedelta(seconds=float(cfg("WEBHOOK_RETRY_FOR")))
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(subscription=s, event=event, next_attempt_at=now, give_up_at=give_up)
            for s in subscriptions
        )
        return len(subscriptions)


def dispatch_due(limit: int = 100) -> int:
    ids = list(
        WebhookEvent.objects.filter(dispatched_at__isnull=True, available_at__lte=timezone.now())
        .order_by("available_at")
        .values_list("id", flat=True)[:limit]
    )
    return sum(dispatch(event_id) for event_id in ids)


# -- delivery ------------------------------------------------------------------------------
def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from the base, capped, with jitter (the
    second half of the interval is random, so receivers coming back are not hit all at once)."""
    cap = float(cfg("WEBHOOK_BACKOFF_MAX"))
    delay = min(cap, float(cfg("WEBHOOK_BACKOFF_BASE")) * 2 ** max(attempts - 1, 0))
    return delay / 2 + random.uniform(0, delay / 2)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer like any other non-2xx: retried


_opener = urllib.request.build_opener(_NoRedirects)


def _refused_address(url: str) -> str | None:
    """Why a URL may not be called (private addresses, unless WEBHOOK_ALLOW_PRIVATE), or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http and https URLs are called"
    if cfg("WEBHOOK_ALLOW_PRIVATE"):
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        return f"cannot resolve {parts.hostname}: {exc}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"{parts.hostname} is a private address ({address}); set COLLAB_WEBHOOK_ALLOW_PRIVATE=1 to allow"
    return None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """(HTTP status or None, error text)."""
    refused = _refused_address(url)
    if refused:
        return None, refused
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status), ""
    except urllib.error.HTTPError as err:
        return int(err.code), f"HTTP {err.code}"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


def send(delivery_id: Any) -> str:
    """One attempt of a leased delivery; the outcome (delivered, retry, failed)."""
    delivery = WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    body = event.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Collab-Event": event.type,
        "Idempotency-Key": str(delivery.pk),
        **sign(subscription.secret, str(delivery.pk), body),
    }
    status, error = post(subscription.url, body, headers, float(cfg("WEBHOOK_TIMEOUT")))
    now = timezone.now()
    attempts = delivery.attempts + 1
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING)
    if status is not None and 200 <= status < 300:
        pending.update(
            status=DeliveryStatus.DELIVERED, attempts=attempts, last_status=status, last_error="",
            delivered_at=now, leased_until=None,
        )  # fmt: skip
        outcome = "delivered"
    else:
        delay = backoff(attempts)
        error = error or f"HTTP {status}"
        if now + timedelta(seconds=delay) > delivery.give_up_at:
            pending.update(
                status=DeliveryStatus.FAILED, attempts=attempts, last_status=status, last_error=error,
                leased_until=None,
            )  # fmt: skip
            outcome = "failed"
            log.warning(
                "webhook delivery failed for good event=%s type=%s url=%s attempts=%d error=%s",
                event.pk, event.type, subscription.url, attempts, error,
                extra={"event": "webhook.failed", "delivery": str(delivery.pk), "attempts": attempts},
            )  # fmt: skip
        else:
            pending.update(
                attempts=attempts, last_status=status, last_error=error, leased_until=None,
                next_attempt_at=now + timedelta(seconds=delay),
            )  # fmt: skip
            outcome = "retry"
            log.info(
                "webhook delivery will be retried event=%s type=%s url=%s attempts=%d in=%.1fs error=%s",
                event.pk, event.type, subscription.url, attempts, delay, error,
            )  # fmt: skip
    metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()
    return outcome


def _lease_seconds() -> float:
    return float(cfg("WEBHOOK_TIMEOUT")) * 2 + 5


def claim_due(limit: int) -> list[Any]:
    """Lease up to ``limit`` due deliveries; their ids."""
    now = timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    due = WebhookDelivery.objects.filter(free, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    lease = now + timedelta(seconds=_lease_seconds())
    claimed = []
    for delivery_id in due.order_by("next_attempt_at").values_list("id", flat=True)[:limit]:
        if WebhookDelivery.objects.filter(free, pk=delivery_id).update(leased_until=lease):
            claimed.append(delivery_id)
    return claimed


def _send_in_thread(delivery_id: Any) -> str:
    try:
        return send(delivery_id)
    except Exception:
        log.exception("sending webhook delivery %s failed", delivery_id)
        return "error"
    finally:
        connection.close()  # this pool thread's connection


def cleanup() -> None:
    """Forget delivered deliveries and finished events older than WEBHOOK_KEEP_DAYS (failed ones stay)."""
    cutoff = timezone.now() - timedelta(days=float(cfg("WEBHOOK_KEEP_DAYS")))
    WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED, delivered_at__lt=cutoff).delete()
    WebhookEvent.objects.filter(dispatched_at__lt=cutoff, deliveries__isnull=True).delete()


class Worker:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.woken = threading.Event()
        self.pool = ThreadPoolExecutor(int(cfg("WEBHOOK_CONCURRENCY")), thread_name_prefix="collab-webhook")
        self.cleaned_at = 0.0

    def wake(self) -> None:
        self.woken.set()

    def run_once(self) -> int:
        """One pass; how many deliveries were made or attempted."""
        made = dispatch_due()
        claimed = claim_due(int(cfg("WEBHOOK_CONCURRENCY")) * 4)
        list(self.pool.map(_send_in_thread, claimed))
        if time.monotonic() - self.cleaned_at > CLEANUP_EVERY:
            self.cleaned_at = time.monotonic()
            cleanup()
        return made + len(claimed)

    def run_forever(self) -> None:
        outbox.wake_hooks.append(self.wake)
        try:
            while not self.stopping.is_set():
                close_old_connections()
                pause = float(cfg("WEBHOOK_POLL"))
                try:
                    busy = self.run_once()
                except Exception:
                    log.exception("the webhook worker's pass failed; trying again in 10 s")
                    busy, pause = 0, max(pause, 10.0)
                if not busy:
                    self.woken.wait(pause)
                    self.woken.clear()
        finally:
            outbox.wake_hooks.remove(self.wake)
            self.pool.shutdown(wait=False)
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()


_started: Worker | None = None
_start_lock = threading.Lock()


def start_with_server() -> Worker | None:
    """Run a worker thread in this server process (once), unless COLLAB_WEBHOOKS_WORKER=off."""
    global _started
    if str(cfg("WEBHOOKS_WORKER")).lower() != "server":
        return None
    with _start_lock:
        if _started is None:
            _started = Worker()
            threading.Thread(target=_started.run_forever, name="collab-webhooks", daemon=True).start()
    return _started
