"""REST views: thin DRF viewsets that decide nothing themselves.

Roles come from ``collab.access``; DRF's settings from ``collab.api.base`` (not the host's); every text change goes through
``collab.editing.commit`` (so live clients see REST writes). A document the
requester cannot read answers 404 (signed in) or 401 (anonymous)::

    curl -H "Authorization: Token $TOKEN" http://127.0.0.1:8000/api/documents/
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from collab import access, editing, tickets
from collab.api import serializers as s
from collab.api.base import CollabAPI, CollabAPIView
from collab.api.document_access import DocumentAccess
from collab.api.schema import extend_schema
from collab.models import Document, Kind, Membership
from collab.realtime import credentials
from collab.realtime.presence_store import registry as presence_registry
from collab.text.cursors import entries_at, has_stale_cursors
from collab.yjs import documents as yjs_documents

MIN_0: dict[str, Any] = {"type": "integer", "minimum": 0}
MIN_1: dict[str, Any] = {"type": "integer", "minimum": 1}


def _int_param(request: Request, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({name: [f"{name} must be an integer."]}) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise serializers.ValidationError({name: [f"{name} must be {bound}."]})
    return value


class DocumentViewSet(
    CollabAPI,
    DocumentAccess,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.DocumentSerializer
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Document]:
        user = self.request.user
        qs = access.listed(user).select_related("owner")
        search = self.request.query_params.get("search", "").strip()
        if search:
            qs = qs.filter(title__icontains=search)
        return qs.order_by("-updated_at", "-created_at")

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "create"):
            return [IsAuthenticated()]
        return []

    def represent(self, document: Document, role: str, status_code: int = 200) -> Response:
        data = s.DocumentSerializer(document, context={"roles": {document.pk: role}}).data
        return Response(data, status=status_code)

    # -- documents ----------------------------------------------------------
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        docs = list(page) if page is not None else []
        roles = access.roles_for(request.user, docs)
        data = s.DocumentSerializer(docs, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.DocumentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        create = yjs_documents.create if data.get("kind") == Kind.YJS else editing.create_document
        document = create(
            owner=request.user,
            title=data["title"],
            content=data.get("content", ""),
            public_role=data.get("public_role", "none"),
        )
        return self.represent(document, "owner", status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.represent(*self.document())

    @extend_schema(request=s.DocumentUpdateSerializer, responses=s.DocumentSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        document, role = self.document()
        self.require(role, "edit", "edit this document")
        serializer = s.DocumentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "public_role" in data:
            self.require(role, "own", "change who can see this document")
        if "content" in data:
            if document.kind == Kind.YJS:
                yjs_documents.replace_text(document, data["content"], user=request.user)
            else:
                editing.replace_content(document, data["content"], user=request.user)
        fields = {k: data[k] for k in ("title", "public_role") if k in data}
        if fields:
            for key, value in fields.items():
                setattr(document, key, value)
            with transaction.atomic():  # with its webhook event
                document.save(update_fields=[*fields, "updated_at"])
        document.refresh_from_db()
        return self.represent(document, access.role_for(request.user, document))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        document, role = self.document()
        self.require(role, "own", "delete this document")
        document.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- history ------------------------------------------------------------
    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("since", MIN_0, description="ops with version > since (default 0)"),
            OpenApiParameter("limit", MIN_1, description="at most this many (default 100; above 1000: 1000)"),
        ],
        responses=s.OpSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"], request=s.OpSubmitSerializer, responses={201: s.CommittedVersionSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def ops(self, request: Request, pk: str | None = None) -> Response:
        document, role = self.document()
        self.require_kind(document, Kind.TEXT, "ops")
        if request.method == "GET":
            since = _int_param(request, "since", 0, low=0)
            # like DRF's paginators, a limit above the maximum is capped, not refused
            limit = min(_int_param(request, "limit", 100, low=1), 1000)
            rows = editing.ops_since(document.pk, since, limit=limit)
            data = [
                {
                    "version": r.version,
                    "op": r.op,
                    "client_id": r.client_id,
                    "seq": r.seq,
                    "user": r.user,
                    "created_at": r.created_at,
                }
                for r in rows
            ]
            return Response(s.OpSerializer(data, many=True).data)
        self.require(role, "edit", "edit this document")
        serializer = s.OpSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        committed = editing.commit(
            editing.EditRequest(
                document.pk,
                data["version"],
                data["op"],
                user=request.user,
                client_id=data.get("client_id", ""),
                seq=data.get("seq"),
            )
        )
        return Response({"version": committed.version}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("version", MIN_0, description="default: current")],
        responses=s.SnapshotSerializer,
    )
    @action(detail=True, methods=["get"])
    def snapshot(self, request: Request, pk: str | None = None) -> Response:
        document, _ = self.document()
        raw = request.query_params.get("version")
        wanted = None if raw in (None, "") else _int_param(request, "version", 0, low=0)
        if document.kind == Kind.YJS:
            if wanted is not None and wanted != document.version:
                raise NotFound(
                    f"A yjs document keeps no text history; the current version is {document.version}."
                )
            return Response({"version": document.version, "content": yjs_documents.text(document)})
        version, content = editing.snapshot_at(document, wanted)
        return Response({"version": version, "content": content})

    @extend_schema(
        methods=["GET"],
        responses={(200, "application/octet-stream"): bytes},
        description="yjs documents: the whole state as one Yjs update (v1).",
    )
    @extend_schema(
        methods=["POST"],
        request={"application/octet-stream": bytes},
        responses={204: None},
        description="yjs documents: apply a Yjs update (v1) like a live one (editors and owners).",
    )
    @action(detail=True, methods=["get", "post"])
    def state(self, request: Request, pk: str | None = None) -> HttpResponse:
        document, role = self.document()
        self.require_kind(document, Kind.YJS, "state")
        if request.method == "GET":
            version, state = yjs_documents.state(document)
            response = HttpResponse(state, content_type="application/octet-stream")
            response["X-Collab-Version"] = str(version)
            return response
        self.require(role, "edit", "edit this document")
        yjs_documents.apply_update(document, bytes(request.body), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.PresenceEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def presence(self, request: Request, pk: str | None = None) -> Response:
        document, _ = self.document()
        entries = presence_registry().entries(str(document.pk))
        if has_stale_cursors(entries, document.version):  # cursors shown at the current version
            entries = entries_at(str(document.pk), entries, document.version, len(document.content))
        return Response(entries)

    # -- members ------------------------------------------------------------
    @extend_schema(methods=["GET"], responses=s.MembershipSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.MemberAddSerializer, responses={201: s.MembershipSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    @transaction.atomic  # a membership and its webhook event commit together
    def members(self, request: Request, pk: str | None = None) -> Response:
        document, role = self.document()
        if request.method == "GET":
            rows = document.memberships.select_related("user").order_by("created_at", "id")
            return Response(s.MembershipSerializer(rows, many=True).data)
        self.require(role, "own", "manage members")
        serializer = s.MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, new_role = serializer.validated_data["username"], serializer.validated_data["role"]
        if user.pk == document.owner_id:
            raise serializers.ValidationError({"username": ["The owner is already a member."]})
        if Membership.objects.filter(document=document, user=user).exists():
            raise serializers.ValidationError({"username": [f"{user.username} is already a member."]})
        membership = Membership.objects.create(document=document, user=user, role=new_role)
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["PATCH"], request=s.MemberRoleSerializer, responses=s.MembershipSerializer)
    @extend_schema(methods=["DELETE"], responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<username>[^/]+)")
    @transaction.atomic
    def member(self, request: Request, pk: str | None = None, username: str = "") -> Response:
        document, role = self.document()
        self.require(role, "own", "manage members")
        user = get_user_model().objects.filter(username=username).first()
        membership = (
            Membership.objects.select_related("user").filter(document=document, user=user).first()
            if user
            else None
        )
        if membership is None:
            raise NotFound(f"{username} is not a member of this document.")
        if request.method == "DELETE":
            membership.delete()
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = s.MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership.role = serializer.validated_data["role"]
        membership.save(update_fields=["role"])
        return Response(s.MembershipSerializer(membership).data)


class WsTicketView(CollabAPIView):
    """``POST /api/ws-ticket/``: a single-use WebSocket ticket for the signed-in user (60 s)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=s.WsTicketSerializer)
    def post(self, request: Request) -> Response:
        ticket = tickets.issue(request.user, origin=credentials.origin_of(request))
        return Response({"ticket": ticket, "expires_in": tickets.TICKET_SECONDS})
