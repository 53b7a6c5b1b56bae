"""API routes under ``/api/``: documents (and their nested actions), tokens, WebSocket tickets, the OpenAPI schema."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter

from collab.api.views import DocumentViewSet, WsTicketView
from collab.webhooks.api import WebhookViewSet

router = DefaultRouter()
router.register("documents", DocumentViewSet, basename="document")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", ObtainAuthToken.as_view(), name="api-token"),
    path("ws-ticket/", WsTicketView.as_view(), name="ws-ticket"),
    path("schema/", SpectacularJSONAPIView.as_view(), name="schema"),  # JSON, like the rest of the API
    path("schema.yaml", SpectacularAPIView.as_view(), name="schema-yaml"),
    # Swagger UI from this app's static files, its init script a file too (no inline script: strict CSP)
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]
