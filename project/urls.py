"""URL configuration: the admin, the REST API under /api/, login, and the demo pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("collab.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("collab.urls")),
]
