"""Pages: the document list (with live presence) and the demo editor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from collab import access
from collab.exceptions import NotFound


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    return render(request, "collab/document_list.html", {})


def editor(request: HttpRequest, document_id: Any) -> HttpResponse:
    try:
        document, role = access.resolve(request.user, document_id)
    except NotFound:
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        raise Http404("No such document.") from None
    return render(request, "collab/editor.html", {"document": document, "role": role})
