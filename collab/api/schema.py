"""The OpenAPI schema, true to what the API answers: every error status an operation can give.

drf-spectacular documents the success answers it sees in the views; this
``AutoSchema`` adds the errors (``collab.api.errors``' JSON body) by rule, so
no view can forget one:

- 401 everywhere (no or a bad ``Authorization`` header; anonymous where a
  document is not public);
- 404 on a document's routes (a document you cannot read does not exist for
  you) and on paginated lists (a page past the end);
- 400 where there is a body or a query parameter to get wrong, and on the
  routes of one kind of document (``ops/``, ``state/``, ``blame/``) for the other kind;
- 403, 413 and 415 where there is a body (roles, CSRF, size, media type);
- 409 on ``POST ops/`` (an edit based on a version ahead of the document);
- 410 where an older version is read or edited (``ops/``, the history routes):
  history older than the retention is compacted (docs/history.md).

``optional_fields`` (a postprocessing hook) un-requires the response fields
that only some objects carry (a document's ``limits``: yjs documents only).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.utils import extend_schema as spectacular_extend_schema

from collab.api.serializers import ErrorSerializer

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_BODY = {"POST", "PUT", "PATCH"}
_KIND_ROUTES = ("/ops/", "/state/", "/blame/")
_HISTORY_ROUTES = ("/ops/", "/diff/", "/restore/", "/versions/", "/versions/{version_id}/")
_MESSAGES = {
    400: "Invalid input: ``detail`` says what, ``errors`` per field.",
    401: "Not signed in, a bad token, or an anonymous request for a document that is not public.",
    403: "Your role does not allow this (or a session request without its CSRF token).",
    404: "No such document for you, or no such page or member.",
    409: "The edit is based on a version ahead of the document.",
    410: "That version's history is no longer kept (compacted): ``code`` is ``history_unavailable``.",
    413: "The request body is too large.",
    415: "Unsupported media type.",
}


class CollabAutoSchema(AutoSchema):
    def error_statuses(self) -> set[int]:
        method, path = self.method.upper(), self.path
        statuses = {401}
        if "{" in path or self._is_list_view():
            statuses.add(404)
        if method in _BODY or any(p.get("in") == "query" for p in self._get_parameters()):
            statuses.add(400)
        if path.endswith(_KIND_ROUTES):
            statuses.add(400)  # a route for the other kind of document (text or yjs)
        if method in _WRITES:
            statuses.add(403)
        if method in _BODY:
            statuses |= {413, 415}
        if method == "POST" and path.rstrip("/").endswith("/ops"):
            statuses.add(409)
        if path.endswith(_HISTORY_ROUTES) and method != "DELETE":
            statuses.add(410)
        return statuses

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        for status in sorted(self.error_statuses()):
            if str(status) not in responses:
                error = OpenApiResponse(response=ErrorSerializer, description=_MESSAGES[status])
                responses[str(status)] = self._get_response_for_code(error, str(status))
        return responses


# response fields present on some objects only: component -> fields
OPTIONAL_FIELDS = {"Document": ["limits"]}


def optional_fields(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    for component, fields in OPTIONAL_FIELDS.items():
        schema = schemas.get(component)
        if schema and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in fields]
    return result


def extend_schema(**kwargs: Any) -> Any:
    """drf-spectacular's ``extend_schema``, built on ``CollabAutoSchema`` whatever the host's
    ``DEFAULT_SCHEMA_CLASS`` (drf-spectacular's own builds on that setting as it decorates)."""

    def decorator(view_method: Any) -> Any:
        if not hasattr(view_method, "kwargs"):  # an @action's kwargs are its view's initkwargs
            view_method.kwargs = {}
        view_method.kwargs.setdefault("schema", CollabAutoSchema)
        return spectacular_extend_schema(**kwargs)(view_method)

    return decorator
