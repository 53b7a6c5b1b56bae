"""API routes: documents (their nested actions, their history), tokens, WebSocket tickets, the OpenAPI schema.

A host mounts them wherever it likes (``path("api/", include("collab.api.urls"))``);
the names are in the ``collab_api`` namespace (``reverse("collab_api:document-detail", args=[pk])``).
The schema (``schema/``, ``schema.yaml``) describes collab's API alone, at the prefix it is
mounted under; it and Swagger UI (``docs/``, from drf-spectacular-sidecar's static files when
that app is installed, so it works offline under a strict CSP) are there only when
``drf_spectacular`` is in INSTALLED_APPS.
"""

from __future__ import annotations

from django.apps import apps
from django.urls import URLPattern, URLResolver, include, path
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import APIRootView, DefaultRouter

from collab.api import history_views as history
from collab.api.base import CollabAPI
from collab.api.views import DocumentViewSet, WsTicketView
from collab.webhooks.api import WebhookViewSet

app_name = "collab_api"


class RootView(CollabAPI, APIRootView):
    schema = None  # not in the schema, as DRF's own root view


class TokenView(CollabAPI, ObtainAuthToken):
    """``POST auth/token/`` with a username and password: the user's API token."""

    permission_classes = ObtainAuthToken.permission_classes
    parser_classes = ObtainAuthToken.parser_classes
    renderer_classes = ObtainAuthToken.renderer_classes


router = DefaultRouter()
router.APIRootView = RootView
router.register("documents", DocumentViewSet, basename="document")
router.register("webhooks", WebhookViewSet, basename="webhook")

# a document's history (docs/history.md)
DOCUMENT = "documents/<str:pk>/"
history_patterns = [
    path(DOCUMENT + "versions/", history.VersionsView.as_view(), name="document-versions"),
    path(DOCUMENT + "versions/<str:version_id>/", history.VersionView.as_view(), name="document-version"),
    path(DOCUMENT + "diff/", history.DiffView.as_view(), name="document-diff"),
    path(DOCUMENT + "blame/", history.BlameView.as_view(), name="document-blame"),
    path(DOCUMENT + "restore/", history.RestoreView.as_view(), name="document-restore"),
]

api_patterns: list[URLPattern | URLResolver] = [
    *history_patterns,
    path("", include(router.urls)),
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("ws-ticket/", WsTicketView.as_view(), name="ws-ticket"),
]
urlpatterns = list(api_patterns)

if apps.is_installed("drf_spectacular"):
    from collab.api.schema_views import SchemaView, SchemaYamlView, SwaggerView

    urlpatterns += [
        # JSON, like the rest of the API
        path("schema/", SchemaView.as_view(api_patterns=api_patterns), name="schema"),
        path("schema.yaml", SchemaYamlView.as_view(api_patterns=api_patterns), name="schema-yaml"),
        # Swagger UI's init script is a file too (no inline script: strict CSP)
        path("docs/", SwaggerView.as_view(url_name="collab_api:schema"), name="swagger-ui"),
    ]
