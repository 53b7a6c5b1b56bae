"""WebSocket URL patterns: text documents, the presence room, and the two yjs endpoints."""

from __future__ import annotations

from django.urls import path, re_path

from collab.realtime.consumers import PresenceConsumer
from collab.text.consumer import DocumentConsumer
from collab.yjs.consumers import HocuspocusConsumer, YWebsocketConsumer

websocket_urlpatterns = [
    re_path(r"^ws/documents/(?P<document_id>[^/]+)/$", DocumentConsumer.as_asgi()),
    path("ws/presence/", PresenceConsumer.as_asgi()),
    re_path(r"^ws/yjs/(?P<document_id>[^/]+)/?$", YWebsocketConsumer.as_asgi()),
    re_path(r"^ws/hocuspocus/?$", HocuspocusConsumer.as_asgi()),
]
