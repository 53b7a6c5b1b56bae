"""REST views of a document's history: kept versions, diff, blame, restore (docs/history.md).

Thin: roles from ``collab.access`` (through ``DocumentAccess``, as ``DocumentViewSet``, so
the 401/404 rule is the same), everything else from ``collab.history``::

    GET    /api/documents/{id}/versions/                 kept versions, newest first
    POST   /api/documents/{id}/versions/                 {"name", "description"?, "version"?}
    GET    /api/documents/{id}/versions/{version_id}/    one, with its text
    PATCH  /api/documents/{id}/versions/{version_id}/    {"name"?, "description"?}
    DELETE /api/documents/{id}/versions/{version_id}/
    GET    /api/documents/{id}/diff/?from=A&to=B[&format=unified]
    GET    /api/documents/{id}/blame/
    POST   /api/documents/{id}/restore/                  {"version": V}
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from collab import access, history
from collab.api import history_serializers as hs
from collab.api.base import CollabAPIView
from collab.api.document_access import DocumentAccess
from collab.api.schema import extend_schema
from collab.api.views import MIN_0, _int_param
from collab.attribution import Span
from collab.models import Document, DocumentVersion
from collab.textdiff import unified


class UnifiedDiffRenderer(BaseRenderer):
    """``?format=unified``: the diff as ``diff -u`` text (errors stay JSON)."""

    media_type = "text/x-diff"
    format = "unified"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return (data if isinstance(data, str) else json.dumps(data)).encode("utf-8")


class DocumentRoute(DocumentAccess, CollabAPIView):
    """A route under ``/api/documents/{id}/``: the document as the requester may see it."""

    queryset = Document.objects.none()  # the schema's path parameter type
    # JSON bodies only (daphne answers a malformed multipart body itself, with an empty 400)
    parser_classes = [JSONParser]
    pagination_class = None  # the versions list is a list (named versions are few, automatic ones capped)

    def editable(self, what: str) -> Document:
        """The document, for an editor or owner (403 for a reader, with ``what`` they cannot do)."""
        document, role = self.document()
        self.require(role, "edit", what)
        return document

    def validated(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def handle_exception(self, exc: Exception) -> Response:
        request = getattr(self, "request", None)
        if request is not None and getattr(request, "accepted_renderer", None) is not None:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)


def _spans(spans: list[Span]) -> list[dict[str, Any]]:
    users = history.people(spans)
    return [
        {
            "kind": s.kind,
            "text": s.text,
            "user": users.get(s.user) if s.user is not None else None,
            "first_version": s.first,
            "last_version": s.last,
        }
        for s in spans
    ]


class VersionsView(DocumentRoute):
    """A document's kept versions: named ones (kept forever) and automatic ones (after a pause in editing)."""

    @extend_schema(responses=hs.VersionSerializer(many=True), summary="Kept versions, newest first")
    def get(self, request: Request, pk: str) -> Response:
        document, _ = self.document()
        kept = (
            DocumentVersion.objects.filter(document=document)
            .select_related("author")
            .defer("content", "state")
        )
        return Response(hs.VersionSerializer(kept, many=True).data)

    @extend_schema(
        request=hs.VersionCreateSerializer,
        responses={201: hs.VersionSerializer},
        summary="Name a version (default: the current one); editors and owners",
    )
    def post(self, request: Request, pk: str) -> Response:
        document = self.editable("name versions of this document")
        data = self.validated(hs.VersionCreateSerializer)
        kept = history.pin(
            document,
            name=data["name"],
            description=data.get("description", ""),
            user=request.user,
            version=data.get("version"),
        )
        return Response(hs.VersionSerializer(kept).data, status=status.HTTP_201_CREATED)


class VersionView(DocumentRoute):
    """One kept version: read it, rename it (the owner or its author), forget it."""

    def kept(self, document: Document, version_id: str) -> DocumentVersion:
        found = None
        if version_id.isdigit():
            found = DocumentVersion.objects.filter(document=document, pk=int(version_id)).first()
        if found is None:
            raise NotFound(f"This document has no kept version {version_id}.")
        return found

    def require_author_or_owner(self, role: str, kept: DocumentVersion, what: str) -> None:
        mine = kept.author_id is not None and kept.author_id == self.request.user.pk
        if not (access.is_owner(role) or (mine and access.can_edit(role))):
            raise PermissionDenied(f"Only the document's owner or the version's author can {what}.")

    @extend_schema(
        parameters=[OpenApiParameter("version_id", int, OpenApiParameter.PATH)],
        responses=hs.VersionDetailSerializer,
        summary="One kept version, with its text",
    )
    def get(self, request: Request, pk: str, version_id: str) -> Response:
        document, _ = self.document()
        kept = self.kept(document, version_id)
        data = dict(hs.VersionSerializer(kept).data)
        data["content"] = history.text_at(document, kept.version)
        return Response(data)

    @extend_schema(
        parameters=[OpenApiParameter("version_id", int, OpenApiParameter.PATH)],
        request=hs.VersionUpdateSerializer,
        responses=hs.VersionSerializer,
        summary="Rename (naming an automatic version keeps it for good)",
    )
    def patch(self, request: Request, pk: str, version_id: str) -> Response:
        document, role = self.document()
        kept = self.kept(document, version_id)
        if kept.automatic:
            self.require(role, "edit", "name versions of this document")
        else:
            self.require_author_or_owner(role, kept, "rename it")
        data = self.validated(hs.VersionUpdateSerializer)
        history.rename(
            document, kept, user=request.user, name=data.get("name"), description=data.get("description")
        )
        return Response(hs.VersionSerializer(kept).data)

    @extend_schema(
        parameters=[OpenApiParameter("version_id", int, OpenApiParameter.PATH)],
        responses={204: None},
        summary="Forget a kept version (the document's owner or the version's author)",
    )
    def delete(self, request: Request, pk: str, version_id: str) -> Response:
        document, role = self.document()
        kept = self.kept(document, version_id)
        self.require_author_or_owner(role, kept, "delete it")
        kept.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DiffView(DocumentRoute):
    """One op from the text at ``from`` to the text at ``to`` and the spans people read; or a unified diff."""

    renderer_classes = [JSONRenderer, UnifiedDiffRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", MIN_0, description="the older text's version (default 0)"),
            OpenApiParameter("to", MIN_0, description="the newer text's version (default: current)"),
            OpenApiParameter(
                "format", str, enum=["json", "unified"], description="unified: a unified diff as text/x-diff"
            ),
        ],
        responses={
            (200, "application/json"): hs.DiffSerializer,
            (200, "text/x-diff"): OpenApiResponse(OpenApiTypes.STR, description="a unified diff"),
        },
        summary="The change between two versions",
    )
    def get(self, request: Request, pk: str) -> HttpResponse:
        document, _ = self.document()
        a = _int_param(request, "from", 0, low=0)
        b = _int_param(request, "to", document.version, low=0)
        found = history.diff(document, a, b)
        if request.accepted_renderer.format == "unified":  # an empty diff is an empty body, still text/x-diff
            text = unified(found.from_text, found.to_text, f"version {a}", f"version {b}")
            return HttpResponse(text, content_type="text/x-diff; charset=utf-8")
        return Response(
            {
                "from_version": a,
                "to_version": b,
                "op": found.op,
                "composed": found.composed,
                "spans": _spans(found.spans),
            }
        )


class BlameView(DocumentRoute):
    """The current text in spans, each with the user and versions that inserted it."""

    @extend_schema(
        responses=hs.BlameSerializer, summary="Who wrote each part of the current text (text documents)"
    )
    def get(self, request: Request, pk: str) -> Response:
        document, _ = self.document()
        try:
            spans = history.blame(document)
        except history.WrongKind as exc:
            raise serializers.ValidationError({"detail": exc.message}) from None
        return Response({"version": document.version, "spans": _spans(spans)})


class RestoreView(DocumentRoute):
    """One new edit (through the live path: connected clients receive it) that restores a version's text."""

    @extend_schema(
        request=hs.RestoreSerializer,
        responses=hs.RestoredSerializer,
        summary="Make the text what it was at a version, as one new edit; editors and owners",
    )
    def post(self, request: Request, pk: str) -> Response:
        document = self.editable("restore versions of this document")
        version = self.validated(hs.RestoreSerializer)["version"]
        done = history.restore(document, version, user=request.user)
        return Response({"version": done.version, "restored": done.restored, "changed": done.changed})
