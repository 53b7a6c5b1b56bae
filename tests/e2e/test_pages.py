"""The pages behind the browser tests, through Django's test client (fast, no browser)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from collab import editing, views
from collab.models import Document, Membership
from collab.yjs import documents as yjs_documents
from tests.support.live import ROOT

pytestmark = pytest.mark.django_db


def config_of(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="collab-config" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert match, html
    return dict(json.loads(match.group(1)))


def doc(owner: User, title: str, public_role: str = "none", content: str = "") -> Document:
    return editing.create_document(owner=owner, title=title, content=content, public_role=public_role)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_document_list_needs_sign_in_and_lists_own_and_shared_documents(alice: User, bob: User) -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    mine = doc(alice, "Mine <b>bold</b>")
    shared = doc(bob, "Shared with alice")
    Membership.objects.create(document=shared, user=alice, role="viewer")
    public_not_listed = doc(bob, "Public elsewhere", public_role="editor")
    html = signed_in(alice).get("/").content.decode()
    assert config_of(html)["documents"] == [str(shared.pk), str(mine.pk)]  # newest first
    assert f'data-document="{mine.pk}"' in html and f'data-presence="{shared.pk}"' in html
    assert "Mine &lt;b&gt;bold&lt;/b&gt;" in html  # escaped
    assert "shared by bob" in html
    assert str(public_not_listed.pk) not in html
    assert 'id="new-document"' in html and "csrfmiddlewaretoken" in html


def test_editor_page_for_each_kind_of_visitor(alice: User, bob: User) -> None:
    public = doc(alice, "Public", public_role="viewer", content="hi </textarea><script>")
    private = doc(alice, "Private")
    page = Client().get(f"/documents/{public.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    config = config_of(html)
    assert config["role"] == "viewer" and config["wsPath"] == f"/ws/documents/{public.pk}/"
    assert config["signedIn"] is False
    assert "hi &lt;/textarea&gt;&lt;script&gt;" in html
    for element in (
        'id="text"',
        'id="status"',
        'id="presence"',
        'id="message"',
        'id="undo"',
        "collab/editor.js",
    ):
        assert element in html
    # private: anonymous visitors are sent to sign in, signed-in strangers get a 404 page
    response = Client().get(f"/documents/{private.pk}/")
    assert response.status_code == 302 and "/accounts/login/?next=" in response["Location"]
    response = signed_in(bob).get(f"/documents/{private.pk}/")
    assert response.status_code == 404 and b"No such document" in response.content
    assert config_of(signed_in(alice).get(f"/documents/{private.pk}/").content.decode())["role"] == "owner"


def test_a_yjs_document_opens_the_rich_text_page(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    rich = yjs_documents.create(owner=alice, title="Rich <i>", public_role="viewer")
    monkeypatch.setattr(views, "YJS_BUNDLE", views.STATIC_DIR / "app.css")  # as if built
    html = signed_in(alice).get(f"/documents/{rich.pk}/").content.decode()
    config = config_of(html)
    assert config["documentId"] == str(rich.pk) and config["role"] == "owner"
    assert config["user"]["name"] == "Alice Liddell" and re.fullmatch(
        r"#[0-9a-f]{6}", config["user"]["color"]
    )
    for element in (
        'id="editor"',
        'id="bold"',
        'id="presence"',
        'id="readonly"',
        'id="kind"',
        "Rich &lt;i&gt;",
    ):
        assert element in html, element
    assert "collab/build/yjs-editor.js" in html and 'id="text"' not in html  # not the textarea client
    # anonymous visitors of a public document: a viewer, with a guest name; Hocuspocus on request
    page = Client().get(f"/documents/{rich.pk}/?provider=hocuspocus").content.decode()
    assert config_of(page)["role"] == "viewer" and config_of(page)["user"]["name"].startswith("Guest ")
    assert "Hocuspocus" in page
    # the bundle is built by npm (make frontend): without it the page says so and loads no script
    monkeypatch.setattr(views, "YJS_BUNDLE", views.STATIC_DIR / "build" / "missing.js")
    page = signed_in(bob).get(f"/documents/{rich.pk}/").content.decode()
    assert "make frontend" in page and "build/yjs-editor.js" not in page
    # the list offers both kinds and marks rich-text documents
    listing = signed_in(alice).get("/").content.decode()
    assert 'id="new-kind"' in listing and 'value="yjs"' in listing and 'data-kind="yjs"' in listing


def test_client_modules_are_served_as_javascript() -> None:
    for name in ("client.js", "session.js", "ot.js", "editor.js", "index.js", "share.js", "rest.js"):
        response = Client().get(f"/static/collab/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response["Content-Type"], response["Content-Type"]
        body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
        assert body.startswith("// @ts-check"), name
    assert Client().get("/static/collab/app.css")["Content-Type"].startswith("text/css")
    assert Client().get("/static/collab/../views.py").status_code == 404
    assert Client().get("/static/collab/nope.js").status_code == 404


def test_login_page_renders() -> None:
    html = Client().get("/accounts/login/?next=/").content.decode()
    assert 'id="sign-in"' in html and 'name="next" value="/"' in html


def test_swagger_ui_comes_from_the_app_with_no_inline_script() -> None:
    html = Client().get("/api/docs/").content.decode()
    assert re.findall(r"""(?:src|href)=["']https?://""", html) == [], "nothing from a CDN"
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui.css", "swagger-ui-bundle.js"}, assets
    for asset in assets:  # served by the app itself, also with DEBUG off and no collectstatic
        response = Client().get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts), scripts
    init = re.search(r"""<script src=["'](/api/docs/\?[^"']*)["']""", html)
    assert init, html
    script = Client().get(init.group(1).replace("&amp;", "&"))
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    assert b"SwaggerUIBundle" in script.content and b"/api/schema/" in script.content


def test_the_sidecar_is_pinned_and_installed() -> None:
    from django.conf import settings

    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^drf-spectacular-sidecar>=[\d.]+,<[\d.]+$", requirements, re.MULTILINE), requirements
    assert "drf_spectacular_sidecar" in settings.INSTALLED_APPS
    from collab.api.schema_views import swagger_settings

    assert (
        swagger_settings()["SWAGGER_UI_DIST"] == "SIDECAR"
    )  # collab's docs view, with the sidecar installed


def test_the_editor_says_who_can_open_it_and_owners_get_the_share_panel(alice: User, bob: User) -> None:
    private = doc(alice, "Private")
    Membership.objects.create(document=private, user=bob, role="viewer")
    for user, role in ((alice, "owner"), (bob, "viewer")):
        html = signed_in(user).get(f"/documents/{private.pk}/").content.decode()
        config = config_of(html)
        assert (config["role"], config["publicRole"]) == (role, "none")
        assert config["apiUrl"] == f"/api/documents/{private.pk}/"
        assert "Share the link" not in html, "nothing says to share a private document's link"
        assert 'id="share-panel" hidden' in html and 'id="access-note"' in html  # share.js shows it to owners
    public = doc(alice, "Public", public_role="editor")
    assert config_of(Client().get(f"/documents/{public.pk}/").content.decode())["publicRole"] == "editor"


def test_the_rich_text_page_has_the_same_access_sidebar(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    rich = yjs_documents.create(owner=alice, title="Rich", public_role="none")
    Membership.objects.create(document=rich, user=bob, role="viewer")
    section = 'id="sharing" class="sharing" aria-labelledby="sharing-title"'
    for user in (alice, bob):
        monkeypatch.setattr(views, "YJS_BUNDLE", views.STATIC_DIR / "app.css")  # as if built
        html = signed_in(user).get(f"/documents/{rich.pk}/").content.decode()
        config = config_of(html)
        assert (config["apiUrl"], config["publicRole"]) == (f"/api/documents/{rich.pk}/", "none")
        assert "Share the link" not in html
        # the bundle drives it (it follows role changes); share.js is in the bundle, not loaded twice
        assert f"{section}>" in html and "collab/share.js" not in html
        monkeypatch.setattr(views, "YJS_BUNDLE", views.STATIC_DIR / "build" / "missing.js")
        html = signed_in(user).get(f"/documents/{rich.pk}/").content.decode()
        assert f"{section} data-mount" in html and "collab/share.js" in html  # no bundle: it mounts itself
