"""The demo pages in a real browser: Debian's chromium driven by Playwright against live daphne.

Two browser contexts are two people. They sign in through Django's login view
(or stay anonymous on a public document), type concurrently (emoji included)
and must end with the server's text; they see each other's presence and caret;
a viewer cannot change the text; the server is killed and restarted mid-session
and no edit is lost; undo in one tab undoes only that tab's edit.

Screenshots of the editor with two users present are saved to ``artifacts/``. Chromium and
the shared helpers: ``tests/e2e/pages.py`` and ``conftest.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.e2e.pages import (
    WAIT,
    create_from_list,
    editor_as,
    editors,
    expect,
    no_page_errors,
    screenshot,
    sign_in,
    wait_synced,
    watch,
)
from tests.support.live import ROOT, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.live]


def text_of(page: Page) -> str:
    return str(page.input_value("#text"))


def server_text(live: LiveServer, token: str, doc_id: str) -> str:
    status, doc = live.request("GET", f"/api/documents/{doc_id}/", token=token)
    assert status == 200, doc
    return str(doc["content"])


def converge(live: LiveServer, token: str, doc_id: str, *pages: Page) -> str:
    """Wait until every page holds the server's text and nothing is pending; return it."""
    deadline = time.monotonic() + WAIT / 1000
    while True:
        for page in pages:
            wait_synced(page)
        expected = server_text(live, token, doc_id)
        texts = [text_of(page) for page in pages]
        if all(t == expected for t in texts):
            return expected
        if time.monotonic() > deadline:
            raise AssertionError(f"pages did not converge on the server's text {expected!r}: {texts!r}")
        time.sleep(0.05)


def caret_to(page: Page, cp: int) -> None:
    """Put the caret at code point ``cp`` with the keyboard (as a person would)."""
    page.focus("#text")
    page.keyboard.press("Control+Home")
    for _ in range(cp):
        page.keyboard.press("ArrowRight")  # one press steps over a whole emoji


def is_subsequence(part: str, whole: str) -> bool:
    it = iter(whole)
    return all(ch in it for ch in part)


# -- tests ------------------------------------------------------------------------------


def test_two_users_type_concurrently_with_emoji_and_match_the_server(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Concurrent", "start\nend", public_role="editor")
    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")
    assert text_of(alice) == text_of(bob) == "start\nend"

    # Different places: alice at the very start, bob at the very end, keystrokes interleaved
    # so that each one's ops cross the other's on the wire.
    caret_to(alice, 0)
    bob.focus("#text")
    bob.keyboard.press("Control+End")
    a_text, b_text = "Aé😀 !", " B🎉ok"
    for a, b in zip(a_text, b_text, strict=True):
        alice.keyboard.type(a)
        bob.keyboard.type(b)
    final = converge(live, token, doc["id"], alice, bob)
    assert final == f"{a_text}start\nend{b_text}"

    # The same place: both type at the start of "end" at once.
    at = len("Aé😀 !start\n")  # code points: the emoji counts one
    caret_to(alice, at)
    caret_to(bob, at)
    a_more, b_more = "x😀y", "1👍2"
    for a, b in zip(a_more, b_more, strict=True):
        alice.keyboard.type(a)
        bob.keyboard.type(b)
    final = converge(live, token, doc["id"], alice, bob)
    middle = final[len("Aé😀 !start\n") : -len(f"end{b_text}")]
    assert sorted(middle) == sorted(a_more + b_more), final
    assert is_subsequence(a_more, middle) and is_subsequence(b_more, middle), final
    assert final.endswith(f"end{b_text}") and final.startswith("Aé😀 !start\n")
    no_page_errors(alice, bob)


def test_presence_and_remote_carets_with_screenshots(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    content = "Plan 😀 ok\nSecond line of the plan.\nThird line, and the end.\n"
    doc = live.create_document(token, "Carets and people", content, public_role="editor")
    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")
    a_session = alice.evaluate("window.collab.sessionId")
    b_session = bob.evaluate("window.collab.sessionId")

    pairs = ((alice, a_session, b_session, "bob"), (bob, b_session, a_session, "alice"))
    for page, me, other, other_name in pairs:
        expect(page.locator("#presence > li")).to_have_count(2)
        expect(page.locator(f'#presence > li[data-session="{me}"]')).to_have_attribute("data-self", "true")
        expect(page.locator(f'#presence > li[data-session="{other}"] .name')).to_have_text(other_name)
        expect(page.locator("#presence-count")).to_have_text("2")

    # bob's caret as alice sees it: at code points 0, 6 (after the emoji) and 9 (line end),
    # left to right on one line; then 10, the start of the next line, straight below 0.
    bob_caret = alice.locator(f'#editor .caret[data-session="{b_session}"]')
    boxes = {}
    for cp in (0, 6, 9, 10):
        caret_to(bob, cp)
        expect(bob_caret).to_have_attribute("data-head", str(cp))
        boxes[cp] = bob_caret.bounding_box()
    assert boxes[0]["x"] < boxes[6]["x"] < boxes[9]["x"], boxes
    assert boxes[0]["y"] == boxes[6]["y"] == boxes[9]["y"], boxes
    assert boxes[10]["y"] > boxes[0]["y"] and abs(boxes[10]["x"] - boxes[0]["x"]) < 1, boxes
    expect(bob_caret.locator(".caret-flag")).to_have_text("bob")

    # a selection: alice selects "ok" backwards; bob sees it highlighted, her caret at its head
    caret_to(alice, 9)
    alice.keyboard.press("Shift+ArrowLeft")
    alice.keyboard.press("Shift+ArrowLeft")
    alice_caret = bob.locator(f'#editor .caret[data-session="{a_session}"]')
    expect(alice_caret).to_have_attribute("data-head", "7")
    expect(alice_caret).to_have_attribute("data-anchor", "9")
    expect(bob.locator(f'#editor .sel[data-session="{a_session}"]')).to_have_text("ok")
    caret_to(bob, 22)  # after "Second line "
    expect(bob_caret).to_have_attribute("data-head", "22")
    for page in (alice, bob):
        wait_synced(page)
    for page, name in ((alice, "editor-two-users-alice.png"), (bob, "editor-two-users-bob.png")):
        assert screenshot(page, name).stat().st_size > 10_000

    # remote carets move with edits made before them, and with their owner's own typing
    caret_to(alice, 0)
    alice.keyboard.type("¡")
    expect(bob_caret).to_have_attribute("data-head", "23")
    expect(alice_caret).to_have_attribute("data-head", "1")
    bob.keyboard.type("😀😀")
    expect(bob_caret).to_have_attribute("data-head", "25")
    expect(alice.locator("#text")).to_have_value(re.compile("^¡Plan 😀 ok\nSecond line 😀😀of the plan"))

    # leaving is seen at once
    bob.close()
    expect(alice.locator("#presence > li")).to_have_count(1)
    expect(alice.locator(".caret")).to_have_count(0)
    no_page_errors(alice)


def test_viewer_cannot_change_the_text(live: LiveServer, contexts: Callable[..., BrowserContext]) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Look, don't touch", "fixed text", public_role="viewer")
    alice, carol = editors(contexts, live, doc["id"], "alice", "carol")

    expect(carol.locator("#role")).to_have_text("viewer")
    expect(carol.locator("#readonly")).to_be_visible()
    expect(carol.locator("#text")).to_have_attribute("readonly", "")
    carol.dblclick("#text", position={"x": 50, "y": 40})  # selects the word "fixed"
    carol.keyboard.type("XYZ")
    carol.keyboard.press("Backspace")
    carol.keyboard.press("Delete")
    carol.keyboard.press("Control+x")
    carol.keyboard.press("Control+z")
    assert text_of(carol) == "fixed text"
    # she is present as a viewer, and her selection is shown to alice
    c_session = carol.evaluate("window.collab.sessionId")
    expect(alice.locator(f'#presence > li[data-session="{c_session}"]')).to_have_attribute(
        "data-role", "viewer"
    )
    expect(alice.locator(f'.caret[data-session="{c_session}"]')).to_have_attribute("data-head", "5")
    expect(alice.locator(f'.sel[data-session="{c_session}"]')).to_have_text("fixed")
    # a viewer's page never sent an edit: alice's edit is version 1
    alice.focus("#text")
    alice.keyboard.press("Control+End")
    alice.keyboard.type("!")
    assert converge(live, token, doc["id"], alice, carol) == "fixed text!"
    status, ops = live.request("GET", f"/api/documents/{doc['id']}/ops/?since=0", token=token)
    assert status == 200
    assert [(o["version"], o["user"]) for o in ops] == [(1, ops[0]["user"])] and ops[0]["op"] == [10, "!"]
    no_page_errors(alice, carol)


def test_server_restart_mid_session_keeps_every_edit(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Restart", "", public_role="editor")
    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")
    alice.focus("#text")
    alice.keyboard.type("one ")
    bob.focus("#text")
    bob.keyboard.press("Control+End")
    converge(live, token, doc["id"], alice, bob)

    # Type, and kill the server at once: the last edits may be in flight, unacknowledged.
    # alice types at the start and bob at the end, so the final text is known exactly.
    alice.keyboard.press("Control+Home")
    alice.keyboard.type("two😀 ")
    bob.keyboard.press("Control+End")
    bob.keyboard.type("three ")
    live.kill()
    for page in (alice, bob):
        expect(page.locator("#status")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    expect(alice.locator("#status")).to_have_text(re.compile(r"Reconnecting in \d+s|Connecting"))
    # keep typing while the server is down
    alice.keyboard.press("Control+Home")
    alice.keyboard.type("four ")
    bob.keyboard.press("Control+End")
    bob.keyboard.type("five🎉")
    expect(alice.locator("#saved")).to_have_text("Unsaved changes")

    live.start()
    for page in (alice, bob):
        expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=30_000)
        expect(page.locator("#status")).to_have_text("Connected")
    assert converge(live, token, doc["id"], alice, bob) == "four two😀 one three five🎉"
    expect(alice.locator("#saved")).to_have_text("All changes saved")
    expect(alice.locator("#presence > li")).to_have_count(2)
    no_page_errors(alice, bob)


def test_undo_in_one_tab_undoes_only_that_tabs_edit(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Undo", "middle", public_role="editor")
    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")

    caret_to(alice, 0)
    alice.keyboard.type("Hello 😀 ")
    converge(live, token, doc["id"], alice, bob)
    bob.focus("#text")
    bob.keyboard.press("Control+End")
    bob.keyboard.type(" world")
    assert converge(live, token, doc["id"], alice, bob) == "Hello 😀 middle world"

    alice.keyboard.press("Control+z")  # her typing was one step
    assert converge(live, token, doc["id"], alice, bob) == "middle world"
    expect(alice.locator("#undo")).to_be_disabled()
    alice.keyboard.press("Control+Shift+z")
    assert converge(live, token, doc["id"], alice, bob) == "Hello 😀 middle world"
    bob.click("#undo")
    assert converge(live, token, doc["id"], alice, bob) == "Hello 😀 middle"
    no_page_errors(alice, bob)


def test_document_list_creates_documents_and_shows_who_is_in_them(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    context = contexts()
    home = sign_in(context, live, "dave")
    expect(home.locator("h1")).to_have_text("Documents")
    doc_id = create_from_list(home, live, "Dave's plan", "editor")
    wait_synced(home)
    expect(home.locator("#title")).to_have_text("Dave's plan")
    expect(home.locator("#role")).to_have_text("owner")

    # The list, in another tab: the document is there with dave in it, live.
    listing = watch(context.new_page())
    listing.goto(f"{live.http_url}/")
    row = listing.locator(f'#documents > li[data-document="{doc_id}"]')
    expect(row.locator(".doc-title")).to_have_text("Dave's plan")
    faces = row.locator(".faces > li")
    expect(faces).to_have_count(1)
    expect(faces.first).to_have_attribute("data-name", "dave")
    # someone anonymous opens the shared link: a second face appears, and goes away
    guest = editor_as(contexts(), live, None, doc_id)
    expect(faces).to_have_count(2)
    guest.close()
    expect(faces).to_have_count(1)
    no_page_errors(home, listing)


def test_deleted_document_and_signed_out_visitors_get_clear_messages(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Short-lived", "bye", public_role="editor")
    private = live.create_document(token, "Private", "secret")
    bob = editor_as(contexts(), live, "bob", doc["id"])

    status, _ = live.request("DELETE", f"/api/documents/{doc['id']}/", token=token)
    assert status == 204
    expect(bob.locator("#message")).to_have_text("This document was deleted.")
    expect(bob.locator("#status")).to_have_attribute("data-state", "closed")
    expect(bob.locator("#status")).to_have_text("Offline")
    expect(bob.locator("#text")).to_have_attribute("readonly", "")

    # signed in without access: a page that says so; signed out: the login page
    response = bob.goto(f"{live.http_url}/documents/{private['id']}/")
    assert response is not None and response.status == 404
    expect(bob.locator("h2")).to_have_text("No such document")
    anonymous = watch(contexts().new_page())
    anonymous.goto(f"{live.http_url}/documents/{private['id']}/")
    expect(anonymous.locator("#sign-in")).to_be_visible()
    assert "/accounts/login/" in anonymous.url


def test_make_run_demo_document_co_edits_in_two_anonymous_windows(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    out = live.manage("seed_demo", "--base-url", live.http_url)
    url = re.search(r"Demo editor:\s+(\S+)", out)
    assert url, out
    one = watch(contexts().new_page())
    two = watch(contexts().new_page())
    for page in (one, two):
        page.goto(url.group(1))
        wait_synced(page)
    expect(one.locator("#presence > li")).to_have_count(2)
    expect(one.locator("#presence .name").first).to_have_text(re.compile(r"Guest \w+"))
    caret_to(one, 0)
    one.keyboard.type("1️⃣ ")
    caret_to(two, 0)
    two.keyboard.type("2 ")
    for page in (one, two):
        wait_synced(page)
    expect(two.locator("#text")).to_have_value(text_of(one))
    assert "1️⃣ " in text_of(one) and "2 " in text_of(one)
    no_page_errors(one, two)


def test_the_minimal_example_in_docs_embedding_works(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "Embedded", "embed me", public_role="editor")
    docs = (ROOT / "docs" / "embedding.md").read_text("utf-8")
    html = re.search(r"```html\n(.*?)```", docs, re.DOTALL)
    assert html, "docs/embedding.md has no html example"
    page = watch(contexts().new_page())
    page.goto(f"{live.http_url}/accounts/login/")  # any page of the site: same origin
    page.set_content(html.group(1).replace("3f1c...", doc["id"]))
    expect(page.locator("#text")).to_have_value("embed me")
    expect(page.locator("#status")).to_have_text("connected")
    page.focus("#text")
    page.keyboard.press("Control+End")
    page.keyboard.type(", please 🙏")
    editor = editor_as(contexts(), live, None, doc["id"])
    expect(editor.locator("#text")).to_have_value("embed me, please 🙏")
    editor.keyboard.press("Control+Home")
    editor.keyboard.type("Please ")
    expect(page.locator("#text")).to_have_value("Please embed me, please 🙏")
    assert converge(live, token, doc["id"], editor) == "Please embed me, please 🙏"
    no_page_errors(page, editor)
