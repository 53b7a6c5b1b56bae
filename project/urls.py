"""URL configuration: the admin, the REST API under /api/, login, the probes, and the demo pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from collab import health
from collab.metrics_endpoint import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("collab.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("collab.urls")),
]
