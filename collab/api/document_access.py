"""The 401/404 rule and the role checks every view under ``/api/documents/{id}/`` shares.

``DocumentAccess`` is mixed into a DRF view whose URL names the document as ``pk``
(``DocumentViewSet`` and the history routes): ``self.document()`` is the document
and the requester's role, or 404 (signed in) / 401 (anonymous) when they cannot
read it, whatever the method, OPTIONS and methods the view does not serve
included (PROTOCOL.md section 2); ``self.require(role, "edit", what)`` answers
403 naming what the role does not allow::

    class BlameView(DocumentAccess, CollabAPIView):
        def get(self, request: Request, pk: str) -> Response:
            document, role = self.document()
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collab import access
from collab.exceptions import NotFound as CollabNotFound
from collab.models import Document


class DocumentAccess(APIView):
    # No docstring: drf-spectacular would take it as the description of the operations of the views
    # that mix it in (see the module's docstring).

    def document(self) -> tuple[Document, str]:
        """The document named by the URL and the requester's role; 401/404 if they cannot read it."""
        try:
            return access.resolve(self.request.user, self.kwargs["pk"])
        except CollabNotFound:
            if not self.request.user.is_authenticated:
                raise NotAuthenticated("Sign in to see this document.") from None
            raise NotFound("No such document.") from None

    def require(self, role: str, needed: str, what: str) -> None:
        """403 unless ``role`` may ``needed`` ("edit" or "own"); ``what`` says what was refused."""
        allowed = {"edit": access.can_edit, "own": access.is_owner}[needed](role)
        if not allowed:
            raise PermissionDenied(f"Your role ({role}) does not allow you to {what}.")

    def require_kind(self, document: Document, kind: str, what: str) -> None:
        """400 unless the document is of ``kind``: the route ``what/`` is for that kind only."""
        if document.kind != kind:
            raise serializers.ValidationError(
                {"detail": f"This is a {document.kind} document; {what}/ is for {kind} documents."}
            )

    # DRF hands these its Request where Django's View declares HttpRequest (DRF's stub ignores the same)
    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        if "pk" in self.kwargs:
            self.document()  # a document you cannot read answers 404/401 whatever the method
        return super().http_method_not_allowed(request, *args, **kwargs)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        if "pk" in self.kwargs:
            self.document()
        return super().options(request, *args, **kwargs)
