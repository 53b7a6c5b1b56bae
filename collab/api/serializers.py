"""Serializers: the JSON shapes of PROTOCOL.md section 3.

A document::

    {"id": "<uuid>", "title": "...", "content": "...", "version": 12,
     "owner": {"id": 1, "username": "alice"}, "public_role": "none",
     "role": "owner", "created_at": "...", "updated_at": "..."}
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collab.models import MEMBER_ROLES, PUBLIC_ROLES, Document, Kind, Membership
from collab.users import user_info
from collab.yjs import documents as yjs_documents

PUBLIC_ROLE_CHOICES = [r.value for r in PUBLIC_ROLES]
MEMBER_ROLE_CHOICES = [r.value for r in MEMBER_ROLES]


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's ``CharField`` would turn ``5`` into ``"5"``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else (not ``"3"``, ``3.0`` or ``true``), as on the WebSocket."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


MAX_SEQ = 2**63 - 1  # the database's BIGINT


class ErrorSerializer(serializers.Serializer[Any]):
    """Every API error (``collab.api.errors``): a sentence, a machine code, and field errors if any."""

    detail = serializers.CharField()
    code = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # "errors" added here: a class attribute of that name would stand for Serializer.errors
        # (the validation errors) to a type checker, though DRF's metaclass takes declared fields off the class
        errors = serializers.JSONField(required=False, help_text="per field, for invalid input")
        return {**super().get_fields(), "errors": errors}


class WsTicketSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField(help_text="connect with ?ticket=; good for one handshake")
    expires_in = serializers.IntegerField(help_text="seconds the ticket stays valid")


class OwnerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class UserInfoSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    color = serializers.CharField()


class DocumentSerializer(serializers.ModelSerializer[Document]):
    owner = OwnerSerializer(read_only=True)
    role = serializers.SerializerMethodField()
    title = StrictCharField(min_length=1, max_length=200, trim_whitespace=False)
    content = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    public_role = serializers.ChoiceField(choices=PUBLIC_ROLE_CHOICES, required=False)
    kind = serializers.ChoiceField(choices=[k.value for k in Kind], required=False, default=Kind.TEXT.value)
    limits = serializers.SerializerMethodField(
        help_text="yjs documents only: {max_message_bytes, max_document_bytes}"
    )

    class Meta:
        model = Document
        fields = [
            "id", "title", "content", "version", "owner", "public_role",
            "role", "kind", "limits", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "version", "owner", "role", "limits", "created_at", "updated_at"]

    def get_role(self, document: Document) -> str:
        roles: dict[Any, str] = self.context.get("roles", {})
        return roles.get(document.pk, "none")

    def get_limits(self, document: Document) -> dict[str, int] | None:
        return yjs_documents.limits() if document.kind == Kind.YJS else None

    def to_representation(self, instance: Document) -> dict[str, Any]:
        data: dict[str, Any] = dict(super().to_representation(instance))
        if instance.kind == Kind.YJS:
            data["content"] = yjs_documents.text(instance)
        else:
            data.pop("limits", None)
        return data


class DocumentUpdateSerializer(serializers.Serializer[Any]):
    title = StrictCharField(min_length=1, max_length=200, required=False, trim_whitespace=False)
    content = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    public_role = serializers.ChoiceField(choices=PUBLIC_ROLE_CHOICES, required=False)


class OpField(serializers.JSONField):
    """An op: a JSON array of retains, inserts and deletes (checked by the commit path)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            raise serializers.ValidationError("An op must be a JSON array.")
        return data


class OpSubmitSerializer(serializers.Serializer[Any]):
    version = StrictIntegerField(min_value=0)
    op = OpField()
    client_id = StrictCharField(min_length=1, max_length=64, required=False, trim_whitespace=False)
    seq = StrictIntegerField(min_value=0, max_value=MAX_SEQ, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("seq" in attrs) != ("client_id" in attrs):
            raise serializers.ValidationError("client_id and seq go together.")
        return attrs


class OpSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    op = serializers.JSONField()
    client_id = serializers.CharField()
    seq = serializers.IntegerField(allow_null=True)
    user = UserInfoSerializer()
    created_at = serializers.DateTimeField()


class CommittedVersionSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()


class SnapshotSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    content = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    username = serializers.CharField(source="user.username", read_only=True)
    user = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["username", "role", "user", "created_at"]
        read_only_fields = fields

    @extend_schema_field(UserInfoSerializer)
    def get_user(self, membership: Membership) -> dict[str, Any]:
        return dict(user_info(membership.user))


class MemberAddSerializer(serializers.Serializer[Any]):
    username = StrictCharField(max_length=150)
    role = serializers.ChoiceField(choices=MEMBER_ROLE_CHOICES)

    def validate_username(self, value: str) -> Any:
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"No user is called {value!r}.")
        return user


class MemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=MEMBER_ROLE_CHOICES)


class PresenceEntrySerializer(serializers.Serializer[Any]):
    session = serializers.CharField()
    user = UserInfoSerializer()
    role = serializers.CharField()
    status = serializers.CharField()
    meta = serializers.JSONField()
    cursor = serializers.JSONField(allow_null=True)
    joined_at = serializers.CharField()
