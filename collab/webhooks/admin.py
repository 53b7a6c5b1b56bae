"""Admin for webhooks: subscriptions, the outbox (read-only) and deliveries, failed ones first to see.

A delivery that failed for good (``status`` failed) is listed with its last
HTTP status and error; the "retry now" action puts it back in the queue with a
fresh retry window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from collab.conf import collab_settings
from collab.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "events", "document_id", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__username", "description"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["id", "created_at"]


class MadeByTheServer(admin.ModelAdmin):
    """Rows the outbox and the worker write: never added by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(MadeByTheServer):
    list_display = [
        "type",
        "document_id",
        "first_version",
        "last_version",
        "created_at",
        "available_at",
        "dispatched_at",
    ]
    list_filter = ["type"]
    search_fields = ["document_id"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Retry now (a fresh retry window)")
def retry_now(modeladmin: Any, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
    now = timezone.now()
    window = timedelta(seconds=float(collab_settings["WEBHOOK_RETRY_FOR"]))
    count = queryset.exclude(status=DeliveryStatus.DELIVERED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, give_up_at=now + window, leased_until=None
    )
    modeladmin.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(MadeByTheServer):
    list_display = [
        "event_type",
        "url",
        "status",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event__type"]
    search_fields = ["subscription__url", "event__document_id", "id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = [retry_now]
    list_select_related = ["event", "subscription"]

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return str(obj.event.type)

    @admin.display(description="URL")
    def url(self, obj: WebhookDelivery) -> str:
        return str(obj.subscription.url)
