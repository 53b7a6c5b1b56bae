"""Pages: the document list (with live presence) and the demo editor, plus their static files.

Both pages hand their data to the browser client in one ``json_script`` block
(``#collab-config``) and load an ES module from ``static/collab/``::

    GET /                        document list (sign in first)
    GET /documents/<uuid>/       the editor (text documents: the textarea client; yjs documents: the
                                 TipTap page built from collab/frontend/); anonymous users too when
                                 public_role allows
    GET /static/<app>/<file>     static files (the client's modules), also when runserver's static handler is absent
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from collab import access
from collab.exceptions import NotFound
from collab.models import Document, Kind
from collab.users import user_info

STATIC_DIR = Path(__file__).resolve().parent / "static" / "collab"
YJS_BUNDLE = STATIC_DIR / "build" / "yjs-editor.js"  # scripts/build-frontend.mjs (make frontend)
LIST_LIMIT = 100


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's documents (owned or shared with them), newest first."""
    user = request.user
    documents = list(
        access.listed(user).select_related("owner").order_by("-updated_at", "-created_at")[:LIST_LIMIT]
    )
    roles = access.roles_for(user, documents)
    rows = [{"document": d, "role": roles[d.pk]} for d in documents]
    config = {
        "documents": [str(d.pk) for d in documents],
        "apiUrl": "/api/documents/",
        "editorUrl": reverse("collab:editor", args=["00000000-0000-0000-0000-000000000000"]),
    }
    return render(request, "collab/document_list.html", {"rows": rows, "config": config})


def _access_config(document: Document) -> dict[str, str]:
    """What the sharing sidebar (share.js) needs: the document's REST URL and public role."""
    return {
        "apiUrl": reverse("collab_api:document-detail", args=[document.pk]),
        "publicRole": document.public_role,
    }


def editor(request: HttpRequest, document_id: Any) -> HttpResponse:
    """The demo editor at a stable URL per document."""
    try:
        document, role = access.resolve(request.user, document_id)
    except NotFound:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return render(request, "collab/not_found.html", status=404)
    if document.kind == Kind.YJS:
        return yjs_editor(request, document, role)
    config = {
        "documentId": str(document.pk),
        "title": document.title,
        "role": role,
        "wsPath": f"/ws/documents/{document.pk}/",
        **_access_config(document),
        "listUrl": reverse("collab:document-list"),
        "signedIn": request.user.is_authenticated,
    }
    return render(request, "collab/editor.html", {"document": document, "role": role, "config": config})


def yjs_editor(request: HttpRequest, document: Document, role: str) -> HttpResponse:
    """The rich-text page of a yjs document: TipTap over the stock y-websocket or Hocuspocus provider."""
    hocuspocus = request.GET.get("provider") == "hocuspocus"
    config = {
        "documentId": str(document.pk),
        "title": document.title,
        "role": role,
        "user": user_info(request.user, secrets.token_hex(4)),  # awareness: name and caret colour
        **_access_config(document),
        "listUrl": reverse("collab:document-list"),
        "signedIn": request.user.is_authenticated,
    }
    context = {
        "document": document,
        "role": role,
        "config": config,
        "bundle_built": YJS_BUNDLE.exists(),
        "provider_name": "Hocuspocus" if hocuspocus else "y-websocket",
    }
    return render(request, "collab/yjs_editor.html", context)


def static_asset(request: HttpRequest, path: str) -> HttpResponseBase:
    """Any app's static file (the client's modules, the admin's and Swagger UI's assets).

    So the pages, the admin and ``/api/docs/`` work under daphne and uvicorn
    without ``collectstatic``; ``runserver`` (DEBUG) serves ``/static/`` before
    this view is reached. In production put ``collectstatic``'s output behind
    your web server or CDN.
    """
    try:
        response = staticfiles_serve(request, path, insecure=True)
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response
