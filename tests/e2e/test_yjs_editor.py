"""The yjs demo page in a real browser: TipTap over the stock y-websocket and Hocuspocus providers.

Two people (browser contexts) type and bold text at once, one through y-websocket and the other
through Hocuspocus, and end with the same document, which is also what a late joiner loads from
the server; each sees the other's caret; a viewer cannot change the document on either provider.
The page's bundle is built here with esbuild (``scripts/build-frontend.mjs``) from the npm
packages; screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.e2e.pages import create_from_list, expect, no_page_errors, screenshot, sign_in, watch
from tests.support.live import ROOT, LiveServer
from tests.yjs.drivers import node_or_skip

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.live]

EDITOR = "#editor .ProseMirror"


@pytest.fixture(scope="module", autouse=True)
def bundle() -> None:
    """Build the page's bundle from the current sources (what ``make frontend`` does)."""
    node = node_or_skip()
    out = subprocess.run(
        [node, "scripts/build-frontend.mjs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def open_yjs(page: Page, live: LiveServer, doc_id: str, provider: str = "y-websocket") -> Page:
    query = "?provider=hocuspocus" if provider == "hocuspocus" else ""
    page.goto(f"{live.http_url}/documents/{doc_id}/{query}")
    wait_synced(page)
    return page


def wait_synced(page: Page) -> None:
    page.wait_for_function(
        "() => window.collab && window.collab.synced && window.collab.state === 'connected'"
    )


def html(page: Page) -> str:
    return str(page.evaluate("window.collab.editor.getHTML()"))


def has_text(page: Page, text: str) -> None:
    """Wait until the editor's text is ``text`` (others' caret labels are in its DOM, not its text)."""
    page.wait_for_function("(text) => window.collab.editor.getText() === text", arg=text)


def selected(page: Page, text: str) -> None:
    """Wait until the editor's selection covers exactly ``text``."""
    page.wait_for_function(
        "(text) => { const s = window.collab.editor.state;"
        " return s.doc.textBetween(s.selection.from, s.selection.to) === text; }",
        arg=text,
    )


def same_document(*pages: Page) -> str:
    """Wait until every page's editor holds the same HTML; return it."""
    expect(pages[0].locator(EDITOR)).to_be_visible()
    first = pages[0]
    for page in pages[1:]:
        page.wait_for_function("(expected) => window.collab.editor.getHTML() === expected", arg=html(first))
    return html(first)


def test_two_people_type_and_bold_at_once_over_both_providers_and_end_with_the_same_document(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    # alice creates the document from the list, as a rich-text one anyone with the link can edit
    alice = sign_in(contexts(), live, "alice")
    doc_id = create_from_list(alice, live, "Rich plan", "editor", kind="yjs")
    wait_synced(alice)
    expect(alice.locator("#kind")).to_have_text("rich text")
    expect(alice.locator("#role")).to_have_text("owner")
    status, doc = live.request("GET", f"/api/documents/{doc_id}/", token=live.tokens["alice"])  # type: ignore[attr-defined]
    assert status == 200 and doc["kind"] == "yjs", doc

    bob = open_yjs(sign_in(contexts(), live, "bob"), live, doc_id, provider="hocuspocus")
    expect(bob.locator("#provider-name")).to_have_text("Hocuspocus")
    alice.click(EDITOR)
    alice.keyboard.type("Hello world 😀")
    has_text(bob, "Hello world 😀")

    # at once: alice types at the start, bob at the end (plain text: a remote edit arriving
    # between a keystroke and the next resets ProseMirror's stored marks, so bold is applied to
    # selections below, which are kept across remote edits, never to a caret's stored marks)
    alice.keyboard.press("Control+Home")
    bob.click(EDITOR)
    bob.keyboard.press("Control+End")
    for a, b in zip("A1 ", " B2", strict=True):
        alice.keyboard.type(a)
        bob.keyboard.type(b)
    has_text(alice, "A1 Hello world 😀 B2")
    has_text(bob, "A1 Hello world 😀 B2")

    # at once: alice bolds "Hello", bob bolds "B2", each once their selection holds it
    for _ in "Hello":
        alice.keyboard.press("Shift+ArrowRight")
    for _ in "B2":
        bob.keyboard.press("Shift+ArrowLeft")
    selected(alice, "Hello")
    selected(bob, "B2")
    alice.keyboard.press("Control+b")
    bob.keyboard.press("Control+b")
    final = same_document(alice, bob)
    assert "<strong>Hello</strong>" in final and "<strong>B2</strong>" in final, final
    assert re.sub(r"<[^>]+>", "", final) == "A1 Hello world 😀 B2", final

    # each sees the other's caret, named, and both people in the list
    expect(alice.locator(".collaboration-carets__label")).to_have_text("bob")
    expect(bob.locator(".collaboration-carets__label")).to_have_text("alice")
    for page in (alice, bob):
        expect(page.locator("#presence > li")).to_have_count(2)
        expect(page.locator("#presence > li[data-self='true'] .name")).to_have_count(1)
    for page, name in ((alice, "yjs-editor-alice.png"), (bob, "yjs-editor-bob.png")):
        assert screenshot(page, name).stat().st_size > 10_000

    # what the server stored is that same document: a newcomer (anonymous) loads it
    guest = open_yjs(watch(contexts().new_page()), live, doc_id)
    assert same_document(alice, bob, guest) == final
    expect(alice.locator("#presence > li")).to_have_count(3)
    guest.close()
    expect(alice.locator("#presence > li")).to_have_count(2)
    no_page_errors(alice, bob, guest)


@pytest.mark.parametrize("provider", ["y-websocket", "hocuspocus"])
def test_a_viewer_cannot_change_the_document(
    live: LiveServer, contexts: Callable[..., BrowserContext], provider: str
) -> None:
    token = live.tokens["alice"]  # type: ignore[attr-defined]
    status, doc = live.request(
        "POST", "/api/documents/", token=token,
        json_body={"title": "Look, don't touch", "kind": "yjs", "public_role": "viewer"},
    )  # fmt: skip
    assert status == 201, doc
    alice = open_yjs(sign_in(contexts(), live, "alice"), live, doc["id"])
    alice.click(EDITOR)
    alice.keyboard.type("fixed text")

    carol = open_yjs(sign_in(contexts(), live, "carol"), live, doc["id"], provider=provider)
    has_text(carol, "fixed text")
    expect(carol.locator("#role")).to_have_text("viewer")
    expect(carol.locator("#readonly")).to_be_visible()
    expect(carol.locator(EDITOR)).to_have_attribute("contenteditable", "false")
    expect(carol.locator("#bold")).to_be_disabled()
    carol.click(EDITOR)
    carol.keyboard.press("End")
    carol.keyboard.type("XYZ")
    carol.keyboard.press("Backspace")
    carol.keyboard.press("Control+a")
    carol.keyboard.press("Control+b")
    carol.keyboard.press("Delete")
    has_text(carol, "fixed text")
    assert "<strong>" not in html(carol)

    # she is here (awareness is not an edit), and alice's edits still reach her
    expect(alice.locator("#presence > li")).to_have_count(2)
    expect(alice.locator("#presence > li .name", has_text="carol")).to_have_count(1)
    alice.keyboard.press("Control+End")
    alice.keyboard.type("!")
    assert same_document(alice, carol) == "<p>fixed text!</p>"
    fresh = open_yjs(watch(contexts().new_page()), live, doc["id"])  # anonymous viewer: the stored state
    assert html(fresh) == "<p>fixed text!</p>"
    no_page_errors(alice, carol, fresh)
