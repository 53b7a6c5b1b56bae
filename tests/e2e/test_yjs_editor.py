"""The yjs demo page in a real browser: TipTap over the stock y-websocket and Hocuspocus providers.

Two people (browser contexts) type and bold text at once, one through y-websocket and the other
through Hocuspocus, and end with the same document, which is also what a late joiner loads from
the server; each sees the other's caret; a viewer cannot change the document on either provider.
The page's bundle is built here with esbuild (``scripts/build-frontend.mjs``) from the npm
packages; screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from collab.users import PALETTE, color_for
from tests.e2e.pages import (
    WAIT,
    create_from_list,
    editor_as,
    expect,
    expect_only_yourself_offline,
    no_page_errors,
    screenshot,
    server_down,
    sign_in,
    wait_yjs_synced,
)
from tests.support.live import ROOT, LiveServer
from tests.yjs.drivers import node_or_skip

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    PlaywrightTimeout = TimeoutError  # type: ignore[assignment,misc]

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


def rich_document(live: LiveServer, title: str, public_role: str, content: str = "") -> dict[str, Any]:
    """A yjs document of alice's, made through the REST API."""
    return live.create_document(live.tokens["alice"], title, content, public_role, kind="yjs")


def html(page: Page) -> str:
    return str(page.evaluate("window.collab.editor.getHTML()"))


def has_text(page: Page, text: str) -> None:
    """Wait until the editor's text is ``text`` (others' caret labels are in its DOM, not its text)."""
    page.wait_for_function("(text) => window.collab.editor.getText() === text", arg=text)


def selected(page: Page, text: str, timeout: float = WAIT) -> None:
    """Wait until the editor's selection covers exactly ``text``."""
    page.wait_for_function(
        "(text) => { const s = window.collab.editor.state;"
        " return s.doc.textBetween(s.selection.from, s.selection.to) === text; }",
        arg=text,
        timeout=timeout,
    )


def select_with_keys(page: Page, keys: list[str], text: str) -> None:
    """Press ``keys`` until the selection covers ``text``: a view update (the others' awareness)
    landing between the browser's move of a selection and ProseMirror's reading of it loses
    that step now and then, on a loaded machine."""
    for _ in range(3):
        for key in keys:
            page.keyboard.press(key)
        try:
            selected(page, text, timeout=3_000)
            return
        except PlaywrightTimeout:
            continue
    selected(page, text)


def same_document(*pages: Page) -> str:
    """Wait until every page's editor holds the same HTML; return it. (Not the first page's HTML
    read at once: an update the first page has not heard yet made the others never match it.)"""
    expect(pages[0].locator(EDITOR)).to_be_visible()
    deadline = time.monotonic() + WAIT / 1000
    while True:
        seen = [html(page) for page in pages]
        if len(set(seen)) == 1:
            return seen[0]
        assert time.monotonic() < deadline, f"the editors never held the same document: {seen}"
        pages[0].wait_for_timeout(50)


def test_two_people_type_and_bold_at_once_over_both_providers_and_end_with_the_same_document(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    # alice creates the document from the list, as a rich-text one anyone with the link can edit
    alice = sign_in(contexts(), live, "alice")
    doc_id = create_from_list(alice, live, "Rich plan", "editor", kind="yjs")
    wait_yjs_synced(alice)
    expect(alice.locator("#kind")).to_have_text("rich text")
    expect(alice.locator("#role")).to_have_text("owner")
    status, doc = live.request("GET", f"/api/documents/{doc_id}/", token=live.tokens["alice"])
    assert status == 200 and doc["kind"] == "yjs", doc

    bob = editor_as(contexts(), live, "bob", doc_id, provider="hocuspocus")
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
    select_with_keys(alice, ["Control+Home", *["ArrowRight"] * 3, *["Shift+ArrowRight"] * 5], "Hello")
    select_with_keys(bob, ["Control+End", *["Shift+ArrowLeft"] * 2], "B2")
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
    guest = editor_as(contexts(), live, None, doc_id, provider="y-websocket")
    assert same_document(alice, bob, guest) == final
    expect(alice.locator("#presence > li")).to_have_count(3)
    guest.close()
    expect(alice.locator("#presence > li")).to_have_count(2)
    no_page_errors(alice, bob, guest)


@pytest.mark.parametrize("provider", ["y-websocket", "hocuspocus"])
def test_a_viewer_cannot_change_the_document(
    live: LiveServer, contexts: Callable[..., BrowserContext], provider: str
) -> None:
    doc = rich_document(live, "Look, don't touch", "viewer")
    alice = editor_as(contexts(), live, "alice", doc["id"], provider="y-websocket")
    alice.click(EDITOR)
    alice.keyboard.type("fixed text")

    carol = editor_as(contexts(), live, "carol", doc["id"], provider=provider)
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
    # someone anonymous (a viewer) loads the stored state
    fresh = editor_as(contexts(), live, None, doc["id"], provider="y-websocket")
    assert html(fresh) == "<p>fixed text!</p>"
    no_page_errors(alice, carol, fresh)


# -- presence colours and stale states (issue 15) ---------------------------------------------------


def colliding_users(live: LiveServer) -> tuple[str, str]:
    """Two new users whose hashed colours are the same (eleven users, ten colours), signed in as ``<name>-pw``."""
    names = [f"hue{i}" for i in range(len(PALETTE) + 1)]
    live.create_users(*names)
    code = (
        "import json; from django.contrib.auth.models import User; "
        f"print('IDS' + json.dumps({{u.username: u.pk for u in User.objects.filter(username__in={names!r})}}))"
    )
    line = next(x for x in live.manage("shell", "-c", code).splitlines() if x.startswith("IDS"))
    by_color: dict[str, str] = {}
    for name, pk in sorted(json.loads(line[3:]).items()):
        color = color_for(f"user:{pk}")
        if color in by_color:
            return by_color[color], name
        by_color[color] = name
    raise AssertionError("eleven users, ten colours: two must share one")


def rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def caret_color(page: Page) -> str:
    """The colour of the (one) other person's caret on ``page``."""
    caret = page.locator(".collaboration-carets__caret")
    expect(caret).to_have_count(1)
    return str(caret.evaluate("e => getComputedStyle(e).borderLeftColor"))


def test_carets_take_the_unique_colour_the_server_gave_each_connection(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    first, second = colliding_users(live)  # the same hashed colour: the server gives them two
    token = live.tokens["alice"]
    doc = rich_document(live, "Colours", "editor")
    one = editor_as(contexts(), live, first, doc["id"], provider="y-websocket")
    two = editor_as(contexts(), live, second, doc["id"], provider="hocuspocus")
    one.click(EDITOR)
    one.keyboard.type("one, ")
    has_text(two, "one, ")
    two.click(EDITOR)
    two.keyboard.press("Control+End")
    two.keyboard.type("two")
    has_text(one, "one, two")

    def rest_colours() -> dict[str, str]:
        status, entries = live.request("GET", f"/api/documents/{doc['id']}/presence/", token=token)
        assert status == 200, entries
        return {e["user"]["name"]: e["user"]["color"] for e in entries}

    colours = rest_colours()
    assert set(colours) == {first, second} and colours[first] != colours[second], colours
    # each page learned its own colour from its presence entry, and the other's caret shows it
    for page, me, other in ((one, first, second), (two, second, first)):
        page.wait_for_function("(c) => window.collab.color === c", arg=colours[me])
        expect(page.locator(".collaboration-carets__label")).to_have_text(other)
        page.wait_for_function(
            "(c) => { const e = document.querySelector('.collaboration-carets__caret');"
            " return e && getComputedStyle(e).borderLeftColor === c; }",
            arg=rgb(colours[other]),
        )
        assert caret_color(page) == rgb(colours[other])
        # the people list: both, in the colours REST presence lists
        for name in (me, other):
            avatar = page.locator("#presence > li", has_text=name).locator(".avatar")
            expect(avatar).to_have_css("background-color", rgb(colours[name]))
    assert rest_colours() == colours  # unchanged by the pages taking them
    screenshot(one, "yjs-unique-caret-colours.png")

    # an anonymous visitor: named and coloured as REST presence lists its connection
    guest = editor_as(contexts(), live, None, doc["id"], provider="y-websocket")
    expect(one.locator("#presence > li")).to_have_count(3)
    guests = {name: color for name, color in rest_colours().items() if name.startswith("Guest ")}
    assert len(guests) == 1, guests
    ((guest_name, guest_color),) = guests.items()
    assert guest_color not in colours.values()
    guest.wait_for_function("(c) => window.collab.color === c", arg=guest_color)
    expect(guest.locator("#presence > li[data-self='true'] .name")).to_have_text(guest_name)
    expect(one.locator("#presence > li", has_text=guest_name).locator(".avatar")).to_have_css(
        "background-color", rgb(guest_color)
    )
    no_page_errors(one, two, guest)


@pytest.mark.parametrize("provider", ["y-websocket", "hocuspocus"])
def test_role_changes_reach_the_rich_text_page_live(
    live: LiveServer, contexts: Callable[..., BrowserContext], provider: str
) -> None:
    token = live.tokens["alice"]
    doc = rich_document(live, "Roles", "none", "shared")
    members = f"/api/documents/{doc['id']}/members/"
    assert (
        live.request("POST", members, token=token, json_body={"username": "bob", "role": "editor"})[0] == 201
    )
    bob = editor_as(contexts(), live, "bob", doc["id"], provider=provider)
    expect(bob.locator("#role")).to_have_text("editor")
    expect(bob.locator(EDITOR)).to_have_attribute("contenteditable", "true")

    # downgraded: read only at once, and the pill says so (y-websocket has no message for it)
    assert live.request("PATCH", f"{members}bob/", token=token, json_body={"role": "viewer"})[0] == 200
    expect(bob.locator("#role")).to_have_text("viewer")
    expect(bob.locator("#role")).to_have_css("text-transform", "capitalize")  # "Viewer"
    expect(bob.locator(EDITOR)).to_have_attribute("contenteditable", "false")
    expect(bob.locator("#readonly")).to_be_visible()
    expect(bob.locator("#bold")).to_be_disabled()
    expect(bob.locator("#message")).to_have_text("You can now only view this document.")
    expect(bob.locator("#presence > li[data-self='true'] .pill")).to_have_text("viewer")
    screenshot(bob, f"yjs-downgraded-{provider}.png")

    # an editor again
    assert live.request("PATCH", f"{members}bob/", token=token, json_body={"role": "editor"})[0] == 200
    expect(bob.locator("#role")).to_have_text("editor")
    expect(bob.locator(EDITOR)).to_have_attribute("contenteditable", "true")
    expect(bob.locator("#message")).to_have_text("Your role is now editor.")

    # removed: the pill stops saying "editor", the editor is read only, the sidebar says why
    assert live.request("DELETE", f"{members}bob/", token=token)[0] == 204
    expect(bob.locator("#message")).to_have_text("Your access to this document was removed.")
    expect(bob.locator("#role")).to_have_text("no access")
    expect(bob.locator("#role")).to_have_attribute("data-role", "none")
    expect(bob.locator(EDITOR)).to_have_attribute("contenteditable", "false")
    expect(bob.locator("#access-note")).to_have_text("Your access to this document was removed.")
    expect(bob.locator("#status")).to_have_text("Offline")
    screenshot(bob, f"yjs-access-removed-{provider}.png")
    no_page_errors(bob)


@pytest.mark.parametrize("provider", ["y-websocket", "hocuspocus"])
def test_a_deleted_rich_text_document_says_so(
    live: LiveServer, contexts: Callable[..., BrowserContext], provider: str
) -> None:
    token = live.tokens["alice"]
    doc = rich_document(live, "Short-lived rich", "editor", "bye")
    bob = editor_as(contexts(), live, "bob", doc["id"], provider=provider)
    expect(bob.locator("#role")).to_have_text("editor")
    assert live.request("DELETE", f"/api/documents/{doc['id']}/", token=token)[0] == 204
    expect(bob.locator("#message")).to_have_text("This document was deleted.")
    expect(bob.locator("#role")).to_have_text("deleted")
    expect(bob.locator("#access-note")).to_have_text("This document was deleted.")
    expect(bob.locator(EDITOR)).to_have_attribute("contenteditable", "false")
    expect(bob.locator("#status")).to_have_text("Offline")
    assert "saved" not in bob.locator("body").inner_text().lower()
    screenshot(bob, f"yjs-document-deleted-{provider}.png")
    no_page_errors(bob)


def test_while_disconnected_the_rich_text_page_keeps_yourself_marked_offline(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    doc = rich_document(live, "Rich outage", "editor", "still here")
    alice = editor_as(contexts(), live, "alice", doc["id"], provider="y-websocket")
    editor_as(contexts(), live, "bob", doc["id"], provider="hocuspocus")
    people = alice.locator("#presence > li")
    expect(people).to_have_count(2)
    expect(alice.locator("#presence > li[data-self='true'] .pill")).to_have_text("owner")
    with server_down(live):
        expect(alice.locator("#status")).to_have_attribute(
            "data-state", re.compile("disconnected|connecting")
        )
        expect_only_yourself_offline(alice, "alice")
        screenshot(alice, "yjs-here-now-offline.png")
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(people).to_have_count(2, timeout=30_000)
    expect(alice.locator("#presence > li[data-self='true']")).to_have_attribute("data-status", "active")
    expect(alice.locator("#presence > li[data-self='true'] .pill")).to_have_text("owner", timeout=30_000)
    no_page_errors(alice)
