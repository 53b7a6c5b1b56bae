"""REST for webhook subscriptions: ``/api/webhooks/`` (a signed-in user's own) and their deliveries.

A subscription delivers the events it names for every document its owner owns
(the creator, or a member with the owner role), or for one such document
(``document``). The secret is shown once, in the answer to the create (give
your own, ``whsec_`` + base64, or let the server make one)::

    POST /api/webhooks/ {"url": "https://hooks.example.com/collab", "events": ["document.changed"]}
    -> 201 {"id": "...", "url": "...", "events": [...], "document": null, "active": true,
            "secret": "whsec_...", ...}
    GET /api/webhooks/{id}/deliveries/   -> the latest 50 deliveries, newest first
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from collab import access
from collab.api.base import CollabAPI
from collab.api.schema import extend_schema
from collab.api.serializers import StrictCharField
from collab.exceptions import NotFound
from collab.webhooks import signing
from collab.webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookSubscription

RECENT_DELIVERIES = 50


class WebhookSerializer(serializers.ModelSerializer[WebhookSubscription]):
    url = serializers.URLField(max_length=500, help_text="http or https; called with POST")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        min_length=1,
        required=False,
        help_text="event types to deliver (default: all)",
    )
    document = serializers.UUIDField(
        source="document_id", allow_null=True, required=False, help_text="only this document (one you own)"
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    secret = StrictCharField(
        write_only=True, required=False, max_length=100, help_text="whsec_ + base64 (default: made for you)"
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "document", "description", "active", "secret", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https URLs can be called.")
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_secret(self, value: str) -> str:
        try:
            signing.key_of(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_document(self, value: Any) -> Any:
        if value is None:
            return None
        user = self.context["request"].user
        try:
            _, role = access.resolve(user, str(value))
        except NotFound:
            role = "none"
        if not access.is_owner(role):
            raise serializers.ValidationError("You can subscribe only to documents you own.")
        return value


class WebhookCreatedSerializer(WebhookSerializer):
    secret = StrictCharField(read_only=True, help_text="shown this once: keep it to verify signatures")


class DeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    event = serializers.UUIDField(source="event_id", read_only=True, help_text="the event's id (body ``id``)")
    type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event", "type", "status", "attempts", "last_status", "last_error",
            "next_attempt_at", "created_at", "delivered_at",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookViewSet(
    CollabAPI,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WebhookSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        if not self.request.user.is_authenticated:
            return WebhookSubscription.objects.none()
        qs = WebhookSubscription.objects.filter(owner=self.request.user).order_by("created_at", "id")
        if self.kwargs.get("pk") is not None:
            try:
                uuid.UUID(str(self.kwargs["pk"]))
            except ValueError:
                return WebhookSubscription.objects.none()  # not an id: 404, not a 500
        return qs

    @extend_schema(request=WebhookSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        owner = request.user
        if not owner.is_authenticated:  # IsAuthenticated refused it already: this narrows the type
            raise NotAuthenticated()
        serializer = WebhookSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("events", list(EVENT_TYPES))
        data.setdefault("secret", signing.new_secret())
        subscription = WebhookSubscription.objects.create(owner=owner, **data)
        return Response(WebhookCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        subscription = self.get_object()
        rows = subscription.deliveries.select_related("event").order_by("-created_at")[:RECENT_DELIVERIES]
        return Response(DeliverySerializer(rows, many=True).data)
