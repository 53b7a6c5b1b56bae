"""One exception handler: every API error is JSON with a ``detail`` and a machine ``code``.

DRF's validation errors are field maps; this keeps them under ``errors`` and
adds a one-sentence ``detail``, so clients can always show ``detail``::

    {"detail": "title: This field is required.", "code": "invalid",
     "errors": {"title": ["This field is required."]}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from collab.exceptions import CollabError


def _first_message(data: Any, prefix: str = "") -> str:
    if isinstance(data, dict):
        for key, value in data.items():
            label = "" if key in ("non_field_errors", "detail") else f"{prefix}{key}: "
            return _first_message(value, label)
    if isinstance(data, list) and data:
        return _first_message(data[0], prefix)
    return f"{prefix}{data}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, CollabError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        return Response(body, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large.", "code": "request_too_large"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        response.data = {
            "detail": _first_message(errors) or "Invalid input.",
            "code": "invalid",
            "errors": errors,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"detail": str(detail), "code": getattr(detail, "code", "error")}
    return response
