"""Pages served by Django: the document list and the demo editor (and the client's static files)."""

from __future__ import annotations

from django.urls import path

from collab import views

app_name = "collab"
urlpatterns = [
    path("", views.document_list, name="document-list"),
    path("documents/<uuid:document_id>/", views.editor, name="editor"),
    path("static/<path:path>", views.static_asset, name="static"),
]
