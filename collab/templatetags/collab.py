"""``{% load collab %}{% collab_editor article.document %}``: the live editor on any page of the host.

A text document gets a textarea editor (``static/collab/embed.js``; several per
page work); a yjs document gets the TipTap editor of the demo page (one per
page: its bundle mounts on fixed element ids, and is there only when
``make frontend`` built it before the wheel was made). The signed-in user's
role comes from the permission policy; a reader who may not open the document
gets a short note and nothing of its content. The page needs the ``request``
context processor (Django's default) and collab's WebSocket routes in the
host's ASGI application. The tag sets the CSRF cookie, as ``ensure_csrf_cookie``
would, so the embed's REST writes work on a page that never rendered a form.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import template
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString

from collab import access
from collab.models import Document, Kind
from collab.users import user_info

register = template.Library()


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@register.simple_tag(takes_context=True)
def collab_editor(context: template.Context, document: Document | None) -> SafeString:
    """The live editor for ``document`` as the page's user sees it (read-only for viewers)."""
    request = context.get("request")
    if request is not None:
        get_token(request)  # sets the CSRF cookie (ensure_csrf_cookie): the embed's REST writes send it
    user = getattr(request, "user", None) or context.get("user") or AnonymousUser()
    role = access.role_for(user, document) if document is not None else "none"
    ticket_url = _url("collab_api:ws-ticket")
    base = {"document": document, "role": role, "config_id": f"collab-config-{secrets.token_hex(4)}"}
    if document is None or not access.can_read(role):
        return render_to_string("collab/embed/no_access.html", base)
    config: dict[str, Any] = {"documentId": str(document.pk), "role": role, "ticketUrl": ticket_url}
    if document.kind == Kind.YJS:
        from collab.views import YJS_BUNDLE

        config |= {
            "title": document.title,
            "user": user_info(user, secrets.token_hex(4)),
            "apiUrl": _url("collab_api:document-detail", document.pk),
            "publicRole": document.public_role,
        }
        return render_to_string(
            "collab/embed/yjs_editor.html", {**base, "config": config, "bundle_built": YJS_BUNDLE.exists()}
        )
    config["wsPath"] = f"/ws/documents/{document.pk}/"
    return render_to_string("collab/embed/editor.html", {**base, "config": config})
