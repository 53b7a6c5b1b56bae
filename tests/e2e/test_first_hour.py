"""The first hour with collab in a real browser (issue 15): what a new user meets in the demo.

Against live daphne (DEBUG off, no collectstatic, as ``make test`` runs it): the
demo account opens the admin; the admin's close-session confirmation and a
long document's page; ``/api/docs/`` with no internet and a strict content
security policy; the share panel; what the editor shows once access is gone,
the document deleted or the connection lost. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.pages import (
    admin_sign_in,
    editor_as,
    editors,
    expect,
    expect_only_yourself_offline,
    no_page_errors,
    open_editor,
    screenshot,
    server_down,
    sign_in,
    watch,
)
from tests.support.live import ROOT, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.live]

STRICT_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """daphne with DEBUG off, users alice, bob, carol (``live.tokens``) and the demo seeded as ``make run`` does."""
    server = LiveServer(tmp_path_factory.mktemp("firsthour")).start()
    server.create_users("alice", "bob", "carol")
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--base-url", server.http_url],
        cwd=ROOT, env={**server.env, "DJANGO_DEBUG": "1"}, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    server.banner = seeded.stdout  # type: ignore[attr-defined]
    yield server
    server.stop()


def offline(page: Page, live: LiveServer, csp: str | None = None) -> list[str]:
    """Refuse every request that leaves the server (as with no internet); returns them.

    With ``csp``, the server's HTML answers carry that Content-Security-Policy.
    """
    refused: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if not url.startswith(live.http_url):
            refused.append(url)
            route.abort()
            return
        if csp is None or route.request.resource_type != "document":
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": csp})

    page.route("**/*", route)
    return refused


# -- the demo account and the admin --------------------------------------------------------------


def test_the_demo_account_printed_by_make_run_opens_the_admin(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    banner: str = live.banner  # type: ignore[attr-defined]
    admin = re.search(r"Admin:\s+(\S+)", banner)
    credentials = re.search(r"Sign in as:\s+(\S+) / (\S+)", banner)
    assert admin and credentials, banner
    page = watch(contexts().new_page())
    refused = offline(page, live)
    admin_sign_in(page, live, credentials.group(1), credentials.group(2))
    assert page.url == admin.group(1)
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("a[href='/admin/collab/document/']").first).to_be_visible()
    # the admin's own stylesheet is served by the app (no collectstatic): the header is styled
    header = page.locator("#header").evaluate("e => getComputedStyle(e).display")
    assert header == "flex", header
    screenshot(page, "admin-demo-signed-in.png")
    assert refused == []
    no_page_errors(page)


def test_closing_a_session_is_an_admin_page_naming_the_user(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Closing time", "hello", public_role="editor")
    bob = editor_as(contexts(), live, "bob", doc["id"])
    session = bob.evaluate("window.collab.sessionId")

    admin = admin_sign_in(watch(contexts().new_page()), live, "demo", "demo-password")
    admin.goto(f"{live.http_url}/admin/collab/document/{doc['id']}/change/")
    admin.click("text=close this session")
    expect(admin.locator("#close-session-question")).to_contain_text(
        "Close bob\u2019s session on \u201cClosing time\u201d?"
    )
    expect(admin.locator("#close-session-question")).to_contain_text(
        re.compile(r"They joined \w+\.? \d+, \d{4}, [\d:]+ [ap]\.m\.\s+\(just now\), as editor\.")
    )
    assert session not in admin.locator("#content").inner_text(), "no raw session id"
    expect(admin.locator(".breadcrumbs")).to_contain_text("Closing time")
    screenshot(admin, "admin-close-session.png")
    admin.click("input[value='Yes, close it']")
    expect(admin.locator(".messagelist")).to_contain_text("The session of bob was asked to close.")
    expect(bob.locator("#message")).to_have_text("An administrator closed this session.")
    no_page_errors(admin, bob)


def test_a_long_documents_admin_page_shows_the_latest_ops_and_links_to_all(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Seventy versions", "", public_role="none")
    for version in range(70):
        status, body = live.request(
            "POST", f"/api/documents/{doc['id']}/ops/", token=token,
            json_body={"version": version, "op": [version, "x"] if version else ["x"]},
        )  # fmt: skip
        assert status == 201, body
    page = admin_sign_in(watch(contexts().new_page()), live, "demo", "demo-password")
    page.goto(f"{live.http_url}/admin/collab/document/{doc['id']}/change/")
    rows = page.locator("#operations-group tbody tr.has_original")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("70")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, f"the page is {height} px tall"  # every op inline made it 5,481 px
    screenshot(page, "admin-document-latest-ops.png", full_page=True)
    page.click("#all-ops")
    expect(page.locator("#result_list tbody tr")).to_have_count(70)
    expect(page.locator("#result_list tbody tr").first.locator(".field-version")).to_have_text("70")
    assert f"document__exact={doc['id']}" in page.url
    screenshot(page, "admin-operations-of-a-document.png")
    no_page_errors(page)


# -- /api/docs/ ---------------------------------------------------------------------------------------


def test_swagger_ui_works_offline_under_a_strict_csp(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    page = watch(contexts().new_page())
    refused = offline(page, live, csp=STRICT_CSP)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live.http_url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("collab API")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/documents/{id}/members/").first
    ).to_be_visible()
    screenshot(page, "api-docs-offline.png")
    assert refused == [], f"requests that left the server: {refused}"
    assert [m for m in blocked if "script" in m] == [], blocked
    no_page_errors(page)


# -- sharing --------------------------------------------------------------------------------------


def add_member(page: Page, username: str, role: str) -> None:
    """With the owner's share panel: add ``username`` with ``role``, and wait until listed so."""
    page.fill("#member-username", username)
    page.select_option("#member-role", role)
    page.click("#add-member button")
    expect(page.locator(f"#members > li[data-username='{username}']")).to_have_attribute("data-role", role)


def members_of(page: Page) -> dict[str, str]:
    rows = page.locator("#members > li")
    return {
        str(rows.nth(i).get_attribute("data-username")): str(
            rows.nth(i).get_attribute("data-role") or "owner"
        )
        for i in range(rows.count())
    }


def test_owners_share_from_the_page_and_everyone_present_sees_it_live(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Plans", "private plans", public_role="none")
    alice = editor_as(contexts(), live, "alice", doc["id"])
    expect(alice.locator("#share-panel")).to_be_visible()
    expect(alice.locator("#access-note")).to_have_text("Private: only the people added to it can open it.")
    expect(alice.locator("#members > li")).to_have_count(1)  # alice herself, the owner
    bob = sign_in(contexts(), live, "bob")
    assert bob.goto(f"{live.http_url}/documents/{doc['id']}/").status == 404  # type: ignore[union-attr]

    # add bob as a viewer: he can open it, read only, and is not told to share a link
    add_member(alice, "bob", "viewer")
    expect(alice.locator("#member-username")).to_have_value("")
    open_editor(bob, live, doc["id"])
    expect(bob.locator("#role")).to_have_text("viewer")
    expect(bob.locator("#share-panel")).to_be_hidden()
    expect(bob.locator("#access-note")).to_have_text("Private: only the people added to it can open it.")
    assert "Share the link" not in bob.locator("body").inner_text()
    screenshot(bob, "share-viewer-of-a-private-document.png")

    # errors are said in the panel and change nothing
    alice.fill("#member-username", "nobody-of-that-name")
    alice.click("#add-member button")
    expect(alice.locator("#share-error")).to_contain_text("No user is called 'nobody-of-that-name'")
    alice.fill("#member-username", "bob")
    alice.click("#add-member button")
    expect(alice.locator("#share-error")).to_contain_text("bob is already a member")
    assert members_of(alice) == {"alice": "owner", "bob": "viewer"}

    # make bob an editor: his page follows at once (a role message), and he can type
    alice.select_option("#members > li[data-username='bob'] select", "editor")
    expect(bob.locator("#role")).to_have_text("editor")
    expect(bob.locator("#text")).not_to_have_attribute("readonly", "")
    expect(bob.locator("#message")).to_have_text("Your role is now editor.")
    expect(alice.locator("#share-error")).to_be_hidden()

    # the public role: anyone with the link can view; carol opens the link as a viewer
    alice.select_option("#public-role", "viewer")
    expect(alice.locator("#access-note")).to_contain_text("Anyone with the link can view it:")
    link = alice.locator("#share").get_attribute("href")
    assert link == f"{live.http_url}/documents/{doc['id']}/", link
    carol = editor_as(contexts(), live, "carol", doc["id"])
    expect(carol.locator("#role")).to_have_text("viewer")
    expect(carol.locator("#access-note")).to_contain_text("Anyone with the link can view it:")
    expect(carol.locator("#share-panel")).to_be_hidden()
    status, body = live.request("GET", f"/api/documents/{doc['id']}/", token=token)
    assert status == 200 and body["public_role"] == "viewer"
    screenshot(alice, "share-panel-owner.png")

    # back to private: carol, who only had the link, is shown the door at once
    alice.select_option("#public-role", "none")
    expect(carol.locator("#message")).to_have_text("Your access to this document was removed.")
    expect(carol.locator("#role")).to_have_text("no access")
    expect(carol.locator("#access-note")).to_have_text("Your access to this document was removed.")

    # remove bob: his page stops saying "editor" and "All changes saved"
    alice.click("#members > li[data-username='bob'] button.remove")
    expect(alice.locator("#members > li")).to_have_count(1)
    expect(bob.locator("#message")).to_have_text("Your access to this document was removed.")
    expect(bob.locator("#role")).to_have_text("no access")
    expect(bob.locator("#role")).to_have_attribute("data-role", "none")
    expect(bob.locator("#saved")).to_have_text("")
    expect(bob.locator("#text")).to_have_attribute("readonly", "")
    screenshot(bob, "access-removed.png")
    assert members_of(alice) == {"alice": "owner"}
    status, members = live.request("GET", f"/api/documents/{doc['id']}/members/", token=token)
    assert status == 200 and members == []
    no_page_errors(alice, bob, carol)


def test_the_rich_text_page_shares_too(live: LiveServer, contexts: Callable[..., BrowserContext]) -> None:
    doc = live.create_document(live.tokens["alice"], "Rich", public_role="none", kind="yjs")
    alice = sign_in(contexts(), live, "alice")
    alice.goto(f"{live.http_url}/documents/{doc['id']}/")
    expect(alice.locator("#access-note")).to_have_text("Private: only the people added to it can open it.")
    add_member(alice, "bob", "viewer")
    bob = sign_in(contexts(), live, "bob")
    bob.goto(f"{live.http_url}/documents/{doc['id']}/")
    expect(bob.locator("#access-note")).to_have_text("Private: only the people added to it can open it.")
    expect(bob.locator("#share-panel")).to_be_hidden()
    alice.select_option("#public-role", "viewer")
    expect(alice.locator("#access-note")).to_contain_text("Anyone with the link can view it:")
    no_page_errors(alice, bob)


def test_a_deleted_document_no_longer_says_all_changes_saved(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Short-lived", "bye", public_role="editor")
    bob = editor_as(contexts(), live, "bob", doc["id"])
    expect(bob.locator("#saved")).to_have_text("All changes saved")
    expect(bob.locator("#access-note")).to_contain_text("Anyone with the link can edit it:")
    status, _ = live.request("DELETE", f"/api/documents/{doc['id']}/", token=token)
    assert status == 204
    expect(bob.locator("#message")).to_have_text("This document was deleted.")
    expect(bob.locator("#saved")).to_have_text("")
    expect(bob.locator("#role")).to_have_text("deleted")
    expect(bob.locator("#access-note")).to_have_text("This document was deleted.")
    screenshot(bob, "document-deleted.png")
    no_page_errors(bob)


def test_while_disconnected_here_now_keeps_yourself_marked_offline(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Outage", "still here", public_role="editor")
    alice, _bob = editors(contexts, live, doc["id"], "alice", "bob")
    people = alice.locator("#presence > li")
    expect(people).to_have_count(2)
    with server_down(live):
        expect(alice.locator("#status")).to_have_attribute(
            "data-state", re.compile("reconnecting|connecting")
        )
        expect_only_yourself_offline(alice, "alice")
        screenshot(alice, "here-now-offline.png")
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(people).to_have_count(2)
    expect(alice.locator("#presence > li[data-self='true']")).to_have_attribute("data-status", "active")
    no_page_errors(alice)


def test_the_document_list_shows_who_is_there_on_load_and_says_when_it_is_reconnecting(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    busy = live.create_document(token, "Busy", "people here", public_role="editor")
    quiet = live.create_document(token, "Quiet", "one here", public_role="editor")
    bob = sign_in(contexts(), live, "bob")
    open_editor(bob, live, busy["id"])
    open_editor(bob.context.new_page(), live, busy["id"])  # a second tab: one face
    editor_as(contexts(), live, "carol", busy["id"])
    editor_as(contexts(), live, "carol", quiet["id"])

    def rest_faces(doc_id: str) -> dict[str, str]:
        status, entries = live.request("GET", f"/api/documents/{doc_id}/presence/", token=token)
        assert status == 200, entries
        return {e["user"]["name"]: e["user"]["color"] for e in entries}

    alice = sign_in(contexts(), live, "alice")  # the list, right as it loads
    for doc_id, names in ((busy["id"], {"bob", "carol"}), (quiet["id"], {"carol"})):
        faces = alice.locator(f"[data-presence='{doc_id}'] > li")
        expect(faces).to_have_count(len(names))
        expected = rest_faces(doc_id)
        assert set(expected) == names, expected
        for name, color in expected.items():
            r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
            expect(faces.and_(alice.locator(f"[data-name='{name}']"))).to_have_css(
                "background-color", f"rgb({r}, {g}, {b})"
            )
    bob_face = alice.locator(f"[data-presence='{busy['id']}'] > li[data-name='bob']")
    expect(bob_face).to_have_attribute("data-session", re.compile(r"^\S+ \S+$"))  # two tabs, one face
    hint = alice.locator("#presence-state")
    expect(hint).to_be_hidden()
    screenshot(alice, "list-faces-on-load.png")

    with server_down(live):
        expect(hint).to_be_visible()
        expect(hint).to_have_text("Reconnecting… who is in each document shows again once connected.")
        expect(alice.locator("[data-presence] > li")).to_have_count(0)  # not the stale faces
        expect(alice.locator(f"[data-presence='{busy['id']}']")).to_have_attribute(
            "aria-label", "Not known while reconnecting"
        )
        screenshot(alice, "list-reconnecting.png")
    expect(hint).to_be_hidden(timeout=30_000)
    expect(alice.locator(f"[data-presence='{busy['id']}'] > li")).to_have_count(2, timeout=30_000)
    expect(alice.locator(f"[data-presence='{quiet['id']}'] > li")).to_have_count(1, timeout=30_000)
    no_page_errors(alice)
