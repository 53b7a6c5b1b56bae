"""WebSocket URL patterns: document rooms and the presence room."""

from __future__ import annotations

from django.urls import path, re_path

from collab.consumers import DocumentConsumer, PresenceConsumer

websocket_urlpatterns = [
    re_path(r"^ws/documents/(?P<document_id>[^/]+)/$", DocumentConsumer.as_asgi()),
    path("ws/presence/", PresenceConsumer.as_asgi()),
]
