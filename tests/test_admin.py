"""The Django admin: every page renders, search works, history is read-only, text goes through commit.

Forms are posted the way a browser would: the change page is fetched, its
initial values (and every inline's management form) are collected, one field
is changed, and the whole form is sent back::

    data = form_data(admin_client.get(change_url(doc)))
    data["content"] = "new text"
    admin_client.post(change_url(doc), data)
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from collab import admin as admin_module
from collab import editing, history
from collab.editing import EditRequest
from collab.models import Document, Membership, Operation, Snapshot
from collab.realtime.events import Event, SessionClosed
from collab.realtime.presence_store import registry as presence_registry
from tests.support.publications import Publication

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", "root-pw")


@pytest.fixture
def site(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def doc(alice: User, bob: User) -> Document:
    document = editing.create_document(owner=alice, title="Shopping list", content="eggs\nmilk\n")
    Membership.objects.create(document=document, user=bob, role="editor")
    editing.commit(EditRequest(document.pk, 0, [10, "bread\n"], user=alice, client_id="tab-7", seq=1))
    document.refresh_from_db()
    return document


def admin_url(model: str, action: str, *args: Any) -> str:
    return reverse(f"admin:collab_{model}_{action}", args=args)


def form_data(response: Any) -> dict[str, Any]:
    """What a browser would send back for an admin add/change page, unchanged."""
    assert response.status_code == 200, response.status_code
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for sub in formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                if value is not None and value is not False:
                    data[sub.add_prefix(name)] = value
    return data


def result_titles(response: Any) -> list[str]:
    return [str(obj) for obj in response.context["cl"].result_list]


# --- every page renders ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["document", "membership", "operation", "snapshot"])
def test_changelists_render(site: Client, doc: Document, model: str) -> None:
    resp = site.get(admin_url(model, "changelist"))
    assert resp.status_code == 200
    assert resp.context["cl"].result_count >= 1


def test_change_pages_render(site: Client, doc: Document) -> None:
    membership = Membership.objects.get(document=doc)
    operation = Operation.objects.get(document=doc)
    snapshot = Snapshot.objects.get(document=doc, version=0)
    for model, pk in [
        ("document", doc.pk),
        ("membership", membership.pk),
        ("operation", operation.pk),
        ("snapshot", snapshot.pk),
    ]:
        resp = site.get(admin_url(model, "change", pk))
        assert resp.status_code == 200, model
    page = site.get(admin_url("document", "change", doc.pk)).content.decode()
    assert "bread" in page and "tab-7" in page, "the history inline shows the op"
    assert site.get(admin_url("document", "add")).status_code == 200
    assert site.get(admin_url("membership", "add")).status_code == 200


def presence_entry(
    session: str, user: User | None, joined_at: str = "2026-01-01T09:30:00Z"
) -> dict[str, Any]:
    name = user.get_full_name() if user else f"Guest {session[:4]}"
    return {
        "session": session,
        "user": {"id": user.pk if user else None, "name": name, "color": "#d94f4f"},
        "role": "editor",
        "status": "active",
        "meta": {},
        "cursor": None,
        "joined_at": joined_at,
    }


def test_document_page_lists_who_is_connected(site: Client, doc: Document) -> None:
    presence_registry().join(str(doc.pk), presence_entry("sess-42", None))
    page = site.get(admin_url("document", "change", doc.pk)).content.decode()
    assert "Guest sess" in page
    assert "Jan. 1, 2026, 9:30 a.m." in page, "when they joined, readable"
    close = admin_url("document", "close_session", doc.pk, "sess-42")
    assert close in page
    assert site.get(close).status_code == 200
    resp = site.post(close)
    assert resp.status_code == 302 and resp["Location"] == admin_url("document", "change", doc.pk)


def test_closing_a_session_asks_in_the_admins_look_naming_the_user(
    site: Client, doc: Document, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = "9f3c2a7be1d04c55a0e6b1f2c3d4e5f6"
    presence_registry().join(str(doc.pk), presence_entry(session, alice, "2026-01-01T09:30:00Z"))
    close = admin_url("document", "close_session", doc.pk, session)
    response = site.get(close)
    assert response.status_code == 200
    templates = [t.name for t in response.templates]
    assert "admin/collab/document/confirm.html" in templates and "admin/base_site.html" in templates
    page = response.content.decode()
    question = page[page.index('id="close-session-question"') :]
    question = question[: question.index("</p>")]
    assert "Alice Liddell (alice)" in question and "Shopping list" in question
    assert "Jan. 1, 2026, 9:30 a.m." in question and "as editor" in question
    assert session not in page.replace(close, ""), "no raw session id on the page"
    assert 'name="csrfmiddlewaretoken"' in page and 'class="breadcrumbs"' in page
    assert admin_url("document", "change", doc.pk) in page, "a way back"

    sent: list[tuple[str, Event]] = []
    monkeypatch.setattr(admin_module.hub(), "publish_from_sync", lambda d, e: sent.append((d, e)))
    response = site.post(close, follow=True)
    assert sent == [
        (str(doc.pk), SessionClosed(str(doc.pk), session, "An administrator closed this session."))
    ]
    assert "The session of Alice Liddell (alice) was asked to close." in [
        str(m) for m in response.context["messages"]
    ]


def test_closing_a_session_that_is_gone_says_so(site: Client, doc: Document) -> None:
    page = site.get(admin_url("document", "close_session", doc.pk, "gone-1")).content.decode()
    assert 'id="close-session-gone"' in page and "no longer connected" in page
    assert 'type="submit"' not in page.split('id="close-session-gone"')[1], "nothing to confirm"


# --- the document page shows the latest ops, the operation list has them all ------------------------


def test_document_page_shows_the_latest_ops_and_links_to_all_of_them(site: Client, doc: Document) -> None:
    for version in range(1, 130):
        editing.commit(EditRequest(doc.pk, version, [f"{version};"], client_id="bulk", seq=version))
    other = editing.create_document(owner=doc.owner, title="Other")
    editing.commit(EditRequest(other.pk, 0, ["elsewhere"]))

    response = site.get(admin_url("document", "change", doc.pk))
    (history,) = [i for i in response.context["inline_admin_formsets"] if i.formset.model is Operation]
    shown = [form.instance.version for form in history.formset.forms]
    assert shown == list(range(130, 130 - admin_module.HISTORY_SHOWN, -1)), "the latest, newest first"
    page = response.content.decode()
    link = f"{admin_url('operation', 'changelist')}?document__exact={doc.pk}"
    assert f'href="{link}"' in page and "130 ops" in page

    listing = site.get(link)
    assert listing.status_code == 200
    cl = listing.context["cl"]
    assert cl.result_count == 130, "every op of this document, no other's"
    assert cl.paginator.num_pages == 2 and len(cl.result_list) == 100
    assert [o.version for o in cl.result_list][:3] == [130, 129, 128]
    second = site.get(link + "&p=2").context["cl"]
    assert [o.version for o in second.result_list][-1] == 1

    data = form_data(response)  # the page still saves
    data["content"] = data["content"] + "!"
    assert site.post(admin_url("document", "change", doc.pk), data).status_code == 302
    doc.refresh_from_db()
    assert doc.version == 131 and doc.content.endswith("!")


def test_admin_needs_staff(client: Client, alice: User, doc: Document) -> None:
    client.force_login(alice)
    resp = client.get(admin_url("document", "changelist"))
    assert resp.status_code == 302 and "login" in resp["Location"]


# --- search ---------------------------------------------------------------------------------------


def test_document_search(site: Client, doc: Document, alice: User, carol: User) -> None:
    editing.create_document(owner=carol, title="Meeting notes")
    editing.create_document(owner=alice, title="weekend SHOPPING")
    resp = site.get(admin_url("document", "changelist"), {"q": "shopping"})
    assert sorted(result_titles(resp)) == ["Shopping list (v1)", "weekend SHOPPING (v0)"]
    by_owner = site.get(admin_url("document", "changelist"), {"q": "carol"})
    assert result_titles(by_owner) == ["Meeting notes (v0)"]


def test_membership_operation_and_snapshot_search(site: Client, doc: Document, carol: User) -> None:
    other = editing.create_document(owner=carol, title="Other")
    Membership.objects.create(document=other, user=carol, role="viewer")
    editing.commit(EditRequest(other.pk, 0, ["x"], client_id="elsewhere", seq=1))

    members = site.get(admin_url("membership", "changelist"), {"q": "bob"}).context["cl"].result_list
    assert [m.user.username for m in members] == ["bob"]
    ops = site.get(admin_url("operation", "changelist"), {"q": "tab-7"}).context["cl"].result_list
    assert [(o.document_id, o.version) for o in ops] == [(doc.pk, 1)]
    snaps = site.get(admin_url("snapshot", "changelist"), {"q": "Other"}).context["cl"].result_list
    assert [(s.document_id, s.version) for s in snaps] == [(other.pk, 0)]


# --- history is read-only --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["operation", "snapshot"])
def test_history_is_read_only(site: Client, doc: Document, model: str) -> None:
    row = (Operation if model == "operation" else Snapshot).objects.filter(document=doc).first()
    assert row is not None
    assert site.get(admin_url(model, "add")).status_code == 403
    change = site.get(admin_url(model, "change", row.pk))
    assert change.status_code == 200
    assert change.context["has_change_permission"] is False
    assert change.context["has_add_permission"] is False
    assert change.context["has_delete_permission"] is False
    assert site.post(admin_url(model, "change", row.pk), {"version": 99}).status_code == 403
    assert site.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.version in (0, 1)
    changelist = site.get(admin_url(model, "changelist"))
    assert changelist.context["has_add_permission"] is False


def test_history_inline_cannot_be_changed(site: Client, doc: Document) -> None:
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    op_prefix = next(k for k in data if k.endswith("-TOTAL_FORMS") and "operation" in k).rsplit("-", 1)[0]
    data[f"{op_prefix}-0-op"] = '["evil"]'
    data[f"{op_prefix}-0-version"] = "7"
    resp = site.post(admin_url("document", "change", doc.pk), data)
    assert resp.status_code == 302
    assert list(Operation.objects.filter(document=doc).values_list("version", "op")) == [(1, [10, "bread\n"])]


# --- text goes through commit ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the admin saves inside its own atomic: let it commit
def test_editing_content_in_the_admin_commits_an_op(
    site: Client, doc: Document, admin_user: User, published: list[Publication]
) -> None:
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    data["content"] = "eggs\nmilk\nbread\njam\n"
    before = len(published)
    resp = site.post(admin_url("document", "change", doc.pk), data)
    assert resp.status_code == 302, resp.content[:2000]
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("eggs\nmilk\nbread\njam\n", 2)
    row = Operation.objects.get(document=doc, version=2)
    assert row.user == admin_user
    # live clients are told, once the admin's transaction has committed
    assert [(p.versions, p.in_transaction) for p in published[before:]] == [([2], False)]
    assert Membership.objects.filter(document=doc).count() == 1, "the inline kept the members"


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_whose_save_fails_is_neither_kept_nor_broadcast(
    site: Client, doc: Document, published: list[Publication], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content is committed in save_model; the inlines are saved after it, in the same
    transaction. If they fail, the op is rolled back with them and live clients never saw it."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("saving the members failed")

    monkeypatch.setattr(admin_module.DocumentAdmin, "save_related", fail)
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    data["content"] = "eggs\nmilk\nbread\njam\n"
    before = len(published)
    with pytest.raises(RuntimeError, match="saving the members failed"):
        site.post(admin_url("document", "change", doc.pk), data)
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("eggs\nmilk\nbread\n", 1)
    assert len(published) == before, "nothing was broadcast"


def test_admin_content_edit_is_merged_with_concurrent_edits(site: Client, doc: Document) -> None:
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    # while the admin has the form open, a live client edits the document
    editing.commit(EditRequest(doc.pk, 1, ["LIVE "]))
    data["content"] = "eggs\nmilk\nbread\n(admin)"
    assert site.post(admin_url("document", "change", doc.pk), data).status_code == 302
    doc.refresh_from_db()
    # the admin's change is made on the text it showed (version 1), so the live edit survives
    assert (doc.content, doc.version) == ("LIVE eggs\nmilk\nbread\n(admin)", 3)


def test_changing_only_the_title_commits_no_op(site: Client, doc: Document) -> None:
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    data["title"] = "Groceries"
    # a browser sends a textarea's line breaks as CRLF
    data["content"] = data["content"].replace("\n", "\r\n")
    assert site.post(admin_url("document", "change", doc.pk), data).status_code == 302
    doc.refresh_from_db()
    assert (doc.title, doc.content, doc.version) == ("Groceries", "eggs\nmilk\nbread\n", 1)


def test_admin_keeps_whitespace_in_content(site: Client, doc: Document) -> None:
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    data["content"] = "  indented\n\n  "
    assert site.post(admin_url("document", "change", doc.pk), data).status_code == 302
    doc.refresh_from_db()
    assert doc.content == "  indented\n\n  "
    assert doc.version == 2


def test_admin_content_over_the_limit_is_a_form_error(
    site: Client, doc: Document, settings: Settings
) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 20}
    data = form_data(site.get(admin_url("document", "change", doc.pk)))
    data["content"] = "x" * 21
    resp = site.post(admin_url("document", "change", doc.pk), data)
    assert resp.status_code == 200
    assert resp.context["adminform"].form.errors
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("eggs\nmilk\nbread\n", 1)


def test_creating_a_document_in_the_admin_makes_its_version_0_snapshot(
    site: Client, alice: User, bob: User
) -> None:
    data = form_data(site.get(admin_url("document", "add")))
    data.update(
        {"title": "From the admin", "owner": alice.pk, "public_role": "viewer", "content": "first\r\nline"}
    )
    membership_prefix = next(k for k in data if k.endswith("-TOTAL_FORMS") and "membership" in k).rsplit(
        "-", 1
    )[0]
    data[f"{membership_prefix}-TOTAL_FORMS"] = "1"
    data[f"{membership_prefix}-0-user"] = bob.pk
    data[f"{membership_prefix}-0-role"] = "editor"
    resp = site.post(admin_url("document", "add"), data)
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    doc = Document.objects.get(title="From the admin")
    assert (doc.owner, doc.public_role, doc.version) == (alice, "viewer", 0)
    assert doc.content == "first\nline"
    assert Snapshot.objects.get(document=doc, version=0).content == doc.content
    assert not Operation.objects.filter(document=doc).exists()
    assert Membership.objects.get(document=doc).user == bob
    assert Document.objects.count() == 1


def test_yjs_document_shows_kind_text_and_update_log(site: Client, alice: User) -> None:
    from collab.yjs import documents as yjs_documents

    document = yjs_documents.create(owner=alice, title="Rich", content="héllo <b>")
    yjs_documents.replace_text(document, "héllo <b> world", user=alice)
    document.refresh_from_db()
    page = site.get(admin_url("document", "change", document.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "héllo &lt;b&gt; world" in html  # the text of the Y.Text, escaped
    assert "Update log" in html and "History (newest first)" not in html
    listing = site.get(admin_url("document", "changelist") + "?kind=yjs").content.decode()
    assert "Rich" in listing and "Shopping" not in listing
    # saving the title leaves the state alone
    data = form_data(page)
    data["title"] = "Rich text"
    assert site.post(admin_url("document", "change", document.pk), data).status_code == 302
    assert yjs_documents.text(Document.objects.get(pk=document.pk)) == "héllo <b> world"
    assert Document.objects.get(pk=document.pk).title == "Rich text"


def test_admin_creates_a_yjs_document(site: Client, alice: User) -> None:
    from collab.yjs import documents as yjs_documents

    data = form_data(site.get(admin_url("document", "add")))
    data.update({"title": "Made in admin", "owner": alice.pk, "kind": "yjs", "content": "start"})
    assert site.post(admin_url("document", "add"), data).status_code == 302
    document = Document.objects.get(title="Made in admin")
    assert document.kind == "yjs" and yjs_documents.text(document) == "start"


# --- kept versions: listed on the document's page, restored after a confirmation -----------------


@pytest.mark.django_db(transaction=True)  # the restore is published once the admin's atomic commits
def test_restoring_a_named_version_in_the_admin_is_an_ordinary_op_published_after_commit(
    site: Client, doc: Document, alice: User, admin_user: User, published: list[Publication]
) -> None:
    kept = history.pin(doc, name="before bread", user=alice, version=0)
    page = site.get(admin_url("document", "change", doc.pk)).content.decode()
    table = page[page.index('id="kept-versions"') :]
    table = table[: table.index("</table>")]
    assert "before bread" in table and "alice" in table and "named" in table
    restore = admin_url("document", "restore_version", doc.pk, kept.pk)
    assert restore in table

    response = site.get(restore)
    assert [t.name for t in response.templates][:2] == [
        "admin/collab/document/confirm.html",
        "admin/base_site.html",
    ], "the shared confirmation, in the admin's look"
    question = response.content.decode()
    assert 'id="restore-version-question"' in question and "before bread" in question
    assert 'class="breadcrumbs"' in question and 'name="csrfmiddlewaretoken"' in question
    doc.refresh_from_db()
    assert doc.version == 1, "asking changes nothing"

    before = len(published)
    response = site.post(restore, follow=True)
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("eggs\nmilk\n", 2)
    assert Operation.objects.get(document=doc, version=2).user == admin_user
    assert [(p.versions, p.in_transaction) for p in published[before:]] == [([2], False)]
    assert "Version 0 (before bread (v0)) was restored: it is now version 2." in [
        str(m) for m in response.context["messages"]
    ]


@pytest.mark.django_db(transaction=True)
def test_restoring_the_current_text_changes_nothing_and_says_so(
    site: Client, doc: Document, alice: User, published: list[Publication]
) -> None:
    kept = history.pin(doc, name="now", user=alice)
    before = len(published)
    response = site.post(admin_url("document", "restore_version", doc.pk, kept.pk), follow=True)
    doc.refresh_from_db()
    assert doc.version == 1 and len(published) == before
    assert any("nothing changed" in str(m) for m in response.context["messages"])


def test_restoring_a_version_that_is_gone_says_so(site: Client, doc: Document) -> None:
    page = site.get(admin_url("document", "restore_version", doc.pk, 999)).content.decode()
    assert 'id="restore-version-gone"' in page and "no longer kept" in page
    assert 'type="submit"' not in page.split('id="restore-version-gone"')[1], "nothing to confirm"
    posted = site.post(admin_url("document", "restore_version", doc.pk, 999)).content.decode()
    assert 'id="restore-version-gone"' in posted, "posting restores nothing either"
    doc.refresh_from_db()
    assert doc.version == 1


def test_a_yjs_documents_version_is_restored_from_the_admin_too(site: Client, alice: User) -> None:
    from collab.yjs import documents as yjs_documents

    document = yjs_documents.create(owner=alice, title="Rich", content="first")
    kept = history.pin(document, name="first draft", user=alice)
    yjs_documents.replace_text(document, "second", user=alice)
    document.refresh_from_db()
    page = site.get(admin_url("document", "change", document.pk)).content.decode()
    assert 'id="kept-versions"' in page and "first draft" in page
    site.post(admin_url("document", "restore_version", document.pk, kept.pk))
    assert yjs_documents.text(Document.objects.get(pk=document.pk)) == "first"
