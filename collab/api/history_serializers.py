"""The JSON shapes of the history API (docs/history.md): versions, diffs, blame, restore.

A kept version::

    {"id": 7, "version": 42, "name": "Sent to review", "description": "",
     "automatic": false, "author": {"id": 1, "name": "Alice", "color": "#d94f4f"},
     "created_at": "..."}

A span (diff and blame)::

    {"kind": "inserted", "text": "hello", "user": {...} or null,
     "first_version": 40, "last_version": 42}
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collab.api.serializers import StrictCharField, StrictIntegerField, UserInfoSerializer
from collab.models import DocumentVersion
from collab.users import user_info

MAX_DESCRIPTION = 2000


class VersionSerializer(serializers.ModelSerializer[DocumentVersion]):
    author = serializers.SerializerMethodField(help_text="who named it; null for automatic versions")

    class Meta:
        model = DocumentVersion
        fields = ["id", "version", "name", "description", "automatic", "author", "created_at"]
        read_only_fields = fields

    @extend_schema_field(UserInfoSerializer(allow_null=True))
    def get_author(self, kept: DocumentVersion) -> dict[str, Any] | None:
        return dict(user_info(kept.author)) if kept.author_id else None


class VersionDetailSerializer(VersionSerializer):
    content = serializers.CharField(read_only=True, help_text="the text at this version")

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "content"]
        read_only_fields = fields


class VersionCreateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(min_length=1, max_length=200, trim_whitespace=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    version = StrictIntegerField(
        required=False, min_value=0, help_text="the version to name (default: the current one)"
    )


class VersionUpdateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(required=False, min_length=1, max_length=200, trim_whitespace=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)


class SpanSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["equal", "inserted", "deleted"])
    text = serializers.CharField()
    user = UserInfoSerializer(
        allow_null=True, help_text="inserted text: who wrote it (null: unknown or anonymous)"
    )
    first_version = serializers.IntegerField(
        allow_null=True, help_text="inserted text: written in versions ..."
    )
    last_version = serializers.IntegerField(allow_null=True, help_text="... first_version to last_version")


class DiffSerializer(serializers.Serializer[Any]):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    op = serializers.JSONField(
        help_text="one op turning the text at from_version into the text at to_version"
    )
    composed = serializers.BooleanField(
        help_text="true: the logged ops composed; false: a diff of the two texts"
    )
    spans = SpanSerializer(many=True)


class BlameSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    spans = SpanSerializer(many=True)


class RestoreSerializer(serializers.Serializer[Any]):
    version = StrictIntegerField(min_value=0, help_text="the version whose text to restore")


class RestoredSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="the document's version after the restore")
    restored = serializers.IntegerField(help_text="the version whose text the document now has")
    changed = serializers.BooleanField(help_text="false: the text already was that; nothing was committed")
