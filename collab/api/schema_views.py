"""The OpenAPI schema of collab's API and its Swagger UI (drf-spectacular), whatever the host's settings.

The schema covers collab's routes only, at the prefix the host mounted them
under, with collab's own schema settings (title, enum names, hooks) instead of
the host's ``SPECTACULAR_SETTINGS``. Swagger UI loads from
drf-spectacular-sidecar's static files when ``drf_spectacular_sidecar`` is in
INSTALLED_APPS (offline, strict CSP), else from drf-spectacular's default CDN.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from drf_spectacular.settings import patched_settings
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularSwaggerSplitView,
    SpectacularYAMLAPIView,
)
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny

PUBLIC_ROLE_VALUES = ["none", "viewer", "editor"]
MEMBER_ROLE_VALUES = ["viewer", "editor", "owner"]
# A host that documents its whole API with drf-spectacular (collab's routes included) names
# collab's two role enums with these in its own SPECTACULAR_SETTINGS (docs/integration.md).
ENUM_NAME_OVERRIDES = {
    "PublicRoleEnum": "collab.api.schema_views.PUBLIC_ROLE_VALUES",
    "MemberRoleEnum": "collab.api.schema_views.MEMBER_ROLE_VALUES",
}
SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "collab API",
    "DESCRIPTION": "Documents, their history, members and presence. "
    "Live editing is the WebSocket protocol in docs/protocol.md.",
    "VERSION": "1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "collab.api.schema.optional_fields",
    ],
    "ENUM_NAME_OVERRIDES": ENUM_NAME_OVERRIDES,
}


def swagger_settings() -> dict[str, Any]:
    if apps.is_installed("drf_spectacular_sidecar"):
        return {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
    return {}


class _CollabSchema(SpectacularAPIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    custom_settings = SCHEMA_SETTINGS
    versioning_class = None
    schema = None  # not in the schema
    api_patterns: list[Any] = []  # collab's routes (as_view(api_patterns=...))

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # "api/schema/" -> "api/": the prefix the host mounted collab's API under
        route = request.resolver_match.route if request.resolver_match else ""
        prefix = route[: route.rfind("schema")] if "schema" in route else ""
        self.patterns = [path(prefix, include(self.api_patterns))]
        return super().get(request, *args, **kwargs)


class SchemaView(_CollabSchema, SpectacularJSONAPIView):
    pass


class SchemaYamlView(_CollabSchema, SpectacularYAMLAPIView):
    pass


class SwaggerView(SpectacularSwaggerSplitView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    versioning_class = None
    schema = None  # not in the schema

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with patched_settings(swagger_settings()):
            return super().get(request, *args, **kwargs)
