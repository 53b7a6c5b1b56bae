"""``{% load collab %}{% collab_editor document %}`` on a host's page: the live editor as the page's user
may see it, with the client's static files, and nothing of a document they cannot open."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import include, path

from collab import editing
from collab.models import Document, Membership
from collab.yjs import documents as yjs_documents

pytestmark = pytest.mark.django_db

PAGE = Template("{% load collab %}<main>{% collab_editor article.document %}</main>")


def render(user: Any, document: Document | None) -> str:
    request = RequestFactory().get("/articles/1/")
    request.user = user
    return PAGE.render(Context({"request": request, "article": {"document": document}}))


def config_of(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="(collab-config[^"]*)" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    return dict(json.loads(match.group(2)))


def test_a_text_document_gets_the_live_textarea_and_its_static_files(alice: User) -> None:
    doc = editing.create_document(owner=alice, title="Notes", content="héllo <b>")
    html = render(alice, doc)
    assert 'data-collab-editor="collab-config-' in html
    assert "héllo &lt;b&gt;</textarea>" in html  # escaped
    assert '<script type="module" src="/static/collab/embed.js"></script>' in html
    assert 'href="/static/collab/embed.css"' in html
    config = config_of(html)
    assert config == {
        "documentId": str(doc.pk),
        "role": "owner",
        "ticketUrl": "/api/ws-ticket/",
        "wsPath": f"/ws/documents/{doc.pk}/",
    }


def test_two_editors_on_one_page_have_their_own_configs(alice: User) -> None:
    one = editing.create_document(owner=alice, title="one")
    two = editing.create_document(owner=alice, title="two")
    request = RequestFactory().get("/")
    request.user = alice
    html = Template("{% load collab %}{% collab_editor a %}{% collab_editor b %}").render(
        Context({"request": request, "a": one, "b": two})
    )
    ids = re.findall(r'data-collab-editor="([^"]+)"', html)
    assert len(set(ids)) == 2 and all(f'<script id="{i}"' in html for i in ids)


def test_the_role_comes_from_the_policy(alice: User, bob: User) -> None:
    doc = editing.create_document(owner=alice, title="Notes", content="text", public_role="viewer")
    assert config_of(render(bob, doc))["role"] == "viewer"
    Membership.objects.create(document=doc, user=bob, role="editor")
    assert config_of(render(bob, doc))["role"] == "editor"
    assert config_of(render(AnonymousUser(), doc))["role"] == "viewer"


def test_who_may_not_open_it_gets_a_note_and_none_of_its_text(alice: User, bob: User) -> None:
    doc = editing.create_document(owner=alice, title="Secret title", content="secret text")
    for user in (bob, AnonymousUser()):
        html = render(user, doc)
        assert "secret" not in html.lower() and "collab-config" not in html
        assert "You cannot open this document." in html
    assert "No document." in render(alice, None)


def test_a_yjs_document_gets_the_rich_text_mount(alice: User) -> None:
    doc = yjs_documents.create(owner=alice, title="Rich", content="x")
    html = render(alice, doc)
    config = config_of(html)
    assert config["documentId"] == str(doc.pk) and config["role"] == "owner"
    assert config["user"]["name"] and config["apiUrl"] == f"/api/documents/{doc.pk}/"
    for element in ('id="editor"', 'id="status"', 'id="presence"', 'id="message"', 'data-mark="bold"'):
        assert element in html


def host_page(request: Any) -> Any:
    """A host's page with no form of its own: only the tag could set the CSRF cookie."""
    from django.http import HttpResponse

    document = Document.objects.get(pk=request.GET["doc"])
    return HttpResponse(PAGE.render(Context({"request": request, "article": {"document": document}})))


urlpatterns = [path("host/", host_page), path("", include("project.urls"))]  # the host's site


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("kind", ["text", "yjs"])
def test_the_tag_sets_the_csrf_cookie_so_the_embeds_rest_writes_work(alice: User, kind: str) -> None:
    from django.test import Client

    if kind == "text":
        doc = editing.create_document(owner=alice, title="Notes", content="x")
    else:
        doc = yjs_documents.create(owner=alice, title="Rich")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/api/ws-ticket/").status_code == 403  # no cookie yet: a write is refused
    page = client.get(f"/host/?doc={doc.pk}")
    assert page.status_code == 200 and "collab-embed" in page.content.decode()
    token = client.cookies["csrftoken"].value
    assert token
    ticket = client.post("/api/ws-ticket/", HTTP_X_CSRFTOKEN=token)  # what client.js sends
    assert ticket.status_code in (200, 201), ticket.content
