"""Webhook subscriptions, the event outbox and the deliveries (loaded by ``collab.models``).

- ``WebhookSubscription``: an owner's endpoint (URL, secret, events), for every
  document they own or for one of them.
- ``WebhookEvent``: the outbox. A row is written in the transaction of the change
  it describes; ``document.changed`` rows are debounced (one pending row per
  document, its version range widened by each commit, due ``DEBOUNCE`` seconds
  after the previous one). The worker builds the body once (``body``) and marks
  it dispatched when it creates the deliveries.
- ``WebhookDelivery``: one event to one subscription; its id is the idempotency
  key (the ``webhook-id`` header), the same on every retry.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    DOCUMENT_CREATED = "document.created"
    DOCUMENT_CHANGED = "document.changed"
    DOCUMENT_DELETED = "document.deleted"
    MEMBER_ADDED = "member.added"
    MEMBER_CHANGED = "member.changed"
    MEMBER_REMOVED = "member.removed"


EVENT_TYPES = [t.value for t in EventType]


class WebhookSubscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="whsec_ and the base64 of the signing key")
    events = models.JSONField(default=list, help_text="event types delivered (see docs/operations.md)")
    document_id = models.UUIDField(null=True, blank=True, help_text="only this document (empty: all you own)")
    description = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({self.owner})"

    def wants(self, event_type: str, document_id: str) -> bool:
        return event_type in (self.events or []) and (
            self.document_id is None or str(self.document_id) == document_id
        )


class WebhookEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    document_id = models.UUIDField(db_index=True)
    data = models.JSONField(default=dict, help_text="what the change was (the body is built at dispatch)")
    first_version = models.PositiveIntegerField(null=True, blank=True)
    last_version = models.PositiveIntegerField(null=True, blank=True)
    audience = models.JSONField(
        null=True, blank=True, help_text="owners' user ids, kept when the document is gone"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(help_text="not dispatched before (the debounce of document.changed)")
    dispatched_at = models.DateTimeField(null=True, blank=True)
    body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["dispatched_at", "available_at"], name="webhook_event_due"),
            models.Index(fields=["document_id", "type", "dispatched_at"], name="webhook_event_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.document_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    give_up_at = models.DateTimeField(help_text="no retry after this: failed")
    leased_until = models.DateTimeField(null=True, blank=True, help_text="a worker is sending it")
    last_status = models.PositiveIntegerField(
        null=True, blank=True, help_text="HTTP status of the last attempt"
    )
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription.url}: {self.status}"
