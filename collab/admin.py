"""Django admin: documents with members, history and who is connected now; memberships; ops (read-only).

Content edited in the admin is committed through ``editing.commit``, the same
path as live edits, so connected clients see it once the admin's transaction
(Django's own ``atomic`` around the whole save) has committed. The form remembers the version
it showed, and the change is committed as an edit of that version, so edits
made meanwhile by live clients are merged, not overwritten. Each live session
listed on a document can be closed from here (the client is told why). A
document's page shows its latest ops only, with a link to all of them in the
operation list (filtered to the document, paginated). A text document's page
(text or yjs) lists its kept versions (named and automatic); each can be restored after a
confirmation, through ``history.restore`` (what the REST restore calls), so the
restore is one ordinary op that live clients receive once the admin's
transaction has committed. Both confirmations share one template.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from collab import editing, history
from collab.exceptions import CollabError
from collab.models import Document, DocumentVersion, Kind, Membership, Operation, Snapshot, YjsUpdate
from collab.ot import diff
from collab.realtime.events import SessionClosed
from collab.realtime.hub import hub
from collab.realtime.presence_store import registry as presence_registry
from collab.yjs import documents as yjs_documents


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


HISTORY_SHOWN = 20  # ops on a document's admin page; the rest are in the operation list


class LatestOpsFormSet(BaseInlineFormSet):
    """Only the newest ``HISTORY_SHOWN`` ops: a document can have tens of thousands."""

    def get_queryset(self) -> Any:
        return super().get_queryset()[:HISTORY_SHOWN]


class OperationInline(admin.TabularInline):
    model = Operation
    formset = LatestOpsFormSet
    extra = 0
    can_delete = False
    fields = readonly_fields = ("version", "op", "user", "client_id", "seq", "created_at")
    ordering = ["-version"]
    max_num = 0
    verbose_name_plural = (
        f"History: the latest {HISTORY_SHOWN} ops, newest first (all of them: see “history” above)"
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class YjsUpdateInline(admin.TabularInline):
    model = YjsUpdate
    extra = 0
    can_delete = False
    fields = readonly_fields = ("version", "size", "user", "session", "created_at")
    ordering = ["-version"]
    max_num = 0
    verbose_name_plural = "Update log, since the latest snapshot (newest first)"

    @admin.display(description="bytes")
    def size(self, obj: YjsUpdate) -> int:
        return len(obj.data or b"")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DocumentForm(forms.ModelForm):
    """The text exactly as typed, and the version the form showed.

    A textarea strips nothing here, and the CRLF line breaks browsers send are
    turned back into LF unless the text already used CRLF; otherwise saving
    only the title would rewrite every line of the document.
    """

    content = forms.CharField(widget=forms.Textarea, required=False, strip=False)
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    class Meta:
        model = Document
        fields = ["title", "owner", "public_role", "kind", "content"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base: tuple[int, str] = (0, "")
        if not self.instance._state.adding:
            self.fields["base_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.kind == Kind.YJS and not self.instance._state.adding:
            return cleaned  # the text of a yjs document is shown, not edited here
        if not self.instance._state.adding:
            current = Document.objects.get(pk=self.instance.pk)
            version = cleaned.get("base_version")
            try:
                self.base = editing.snapshot_at(current, version)
            except CollabError:
                self.base = (current.version, current.content)
        text = cleaned.get("content")
        if text is not None:
            if "\r\n" not in self.base[1]:
                text = cleaned["content"] = text.replace("\r\n", "\n")
            try:
                editing.check_size(text)
            except CollabError as exc:
                self.add_error("content", exc.message)
        return cleaned


# a document's page: adding one; a text document's; a yjs document's (its text is shown, not edited)
ADD_FIELDS = ("title", "owner", "public_role", "kind", "content")
TEXT_FIELDS = (
    "id", "title", "owner", "public_role", "kind", "content", "base_version", "version",
    "snapshot_link", "history", "kept_versions", "live_sessions", "created_at", "updated_at",
)  # fmt: skip
YJS_FIELDS = (
    "id", "title", "owner", "public_role", "kind", "yjs_text", "version",
    "kept_versions", "live_sessions", "created_at", "updated_at",
)  # fmt: skip


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "owner", "version", "public_role", "connected_now", "updated_at"]
    list_filter = ["kind", "public_role", "created_at", "updated_at"]
    search_fields = ["title", "owner__username", "id"]
    autocomplete_fields = ["owner"]
    readonly_fields = [
        "id", "version", "created_at", "updated_at", "snapshot_link", "history", "kept_versions",
        "live_sessions",
    ]  # fmt: skip
    fields = TEXT_FIELDS
    form = DocumentForm
    inlines = [MembershipInline, OperationInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ADD_FIELDS
        return YJS_FIELDS if obj.kind == Kind.YJS else TEXT_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [*self.readonly_fields, "kind", "yjs_text"]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and obj.kind == Kind.YJS:
            return [MembershipInline, YjsUpdateInline]
        return list(self.inlines)

    @admin.display(description="text of the Y.Text “content”")
    def yjs_text(self, obj: Document) -> SafeString:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', yjs_documents.text(obj))

    @admin.display(description="connected")
    def connected_now(self, obj: Document) -> int:
        return len(presence_registry().entries(str(obj.pk)))

    @admin.display(description="snapshot")
    def snapshot_link(self, obj: Document) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        url = reverse("collab_api:document-snapshot", args=[obj.pk])
        return format_html('<a href="{}">text at the current version</a> (add ?version=N)', url)

    @admin.display(description="history")
    def history(self, obj: Document) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        count = Operation.objects.filter(document=obj).count()
        url = reverse("admin:collab_operation_changelist") + f"?document__exact={obj.pk}"
        return format_html(
            '{} op{} (the latest {} are below): <a id="all-ops" href="{}">all of them, newest first</a>',
            count,
            "" if count == 1 else "s",
            min(count, HISTORY_SHOWN),
            url,
        )

    @admin.display(description="versions")
    def kept_versions(self, obj: Document) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        kept = DocumentVersion.objects.filter(document=obj).select_related("author")
        if not kept:
            return format_html("{}", "none kept yet (name one through the API or the editor)")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            '<td><a href="{}">restore this version</a></td></tr>',
            (
                (
                    v.name or "-",
                    v.version,
                    v.author.get_username() if v.author else "-",
                    "automatic" if v.automatic else "named",
                    _when(v.created_at),
                    reverse("admin:collab_document_restore_version", args=[obj.pk, v.pk]),
                )
                for v in kept
            ),
        )
        return format_html(
            '<table id="kept-versions"><thead><tr><th scope="col">name</th><th scope="col">version</th>'
            '<th scope="col">author</th><th scope="col">kind</th><th scope="col">created</th>'
            '<th scope="col"></th></tr></thead><tbody>{}</tbody></table>',
            rows,
        )

    @admin.display(description="connected now")
    def live_sessions(self, obj: Document) -> SafeString:
        if not obj.pk:
            return format_html("{}", "-")
        entries = presence_registry().entries(str(obj.pk))
        if not entries:
            return format_html("{}", "nobody")
        rows = format_html_join(
            "",
            '<li>{} ({}, {}) since {} — <a href="{}">close this session</a></li>',
            (
                (
                    e["user"]["name"],
                    e["role"],
                    e["status"],
                    _when(_joined(e)),
                    reverse("admin:collab_document_close_session", args=[obj.pk, e["session"]]),
                )
                for e in entries
            ),
        )
        return format_html("<ul>{}</ul>", rows)

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<uuid:document_id>/close-session/<str:session>/",
                self.admin_site.admin_view(self.close_session_view),
                name="collab_document_close_session",
            ),
            path(
                "<uuid:document_id>/restore-version/<int:kept_id>/",
                self.admin_site.admin_view(self.restore_version_view),
                name="collab_document_restore_version",
            ),
        ]
        return extra + super().get_urls()

    def close_session_view(self, request: HttpRequest, document_id: Any, session: str) -> HttpResponse:
        document = get_object_or_404(Document, pk=document_id)
        if not self.has_change_permission(request, document):
            return HttpResponse(status=403)
        back = reverse("admin:collab_document_change", args=[document.pk])
        entry = next(
            (e for e in presence_registry().entries(str(document.pk)) if e["session"] == session), None
        )
        if request.method != "POST":
            about = _describe(entry) if entry else None
            question = details = None
            if about:
                joined = (
                    format_html(
                        '<time datetime="{}">{}</time> ({})',
                        about["joined"].isoformat(),
                        _when(about["joined"]),
                        about["ago"],
                    )
                    if about["joined"]
                    else "at an unknown time"
                )
                status = "" if about["status"] == "active" else f" ({about['status']})"
                question = format_html(
                    "Close <strong>{}</strong>\u2019s session on “{}”? They joined {}, as {}{}.",
                    about["who"], document.title, joined, about["role"], status,
                )  # fmt: skip
                details = [
                    "Their client is told that an administrator closed the session, and does not "
                    "reconnect by itself. Their edits that the server acknowledged are kept. To keep "
                    "them out, change their role or remove them from the document\u2019s members."
                ]
            return self.confirm(
                request, document, back, title="Close a live session", crumb="Close a session",
                prefix="close-session", question=question, details=details, submit="Yes, close it",
                gone=f"That session is no longer connected to “{document.title}”: there is nothing to close.",
            )  # fmt: skip
        return _close_session(request, document, session, _describe(entry)["who"] if entry else None, back)

    def restore_version_view(self, request: HttpRequest, document_id: Any, kept_id: int) -> HttpResponse:
        document = get_object_or_404(Document, pk=document_id)
        if not self.has_change_permission(request, document):
            return HttpResponse(status=403)
        back = reverse("admin:collab_document_change", args=[document.pk])
        kept = DocumentVersion.objects.filter(document=document, pk=kept_id).first()
        if request.method == "POST" and kept is not None:
            try:
                with transaction.atomic():  # as the admin's own saves: published once this commits
                    done = history.restore(document, kept.version, user=request.user)
            except CollabError as exc:
                messages.error(request, f"Version {kept.version} could not be restored: {exc.message}")
                return HttpResponseRedirect(back)
            if done.changed:
                messages.success(
                    request,
                    f"Version {kept.version} ({kept}) was restored: it is now version {done.version}.",
                )
            else:
                messages.info(
                    request, f"The text already was that of version {kept.version}: nothing changed."
                )
            return HttpResponseRedirect(back)
        question = details = None
        if kept is not None:
            question = format_html(
                "Restore “{}” to version {} ({})?", document.title, kept.version, kept.name or "automatic"
            )
            details = [
                f"Its text becomes that of version {kept.version}, with one new edit (version "
                f"{document.version + 1}); connected clients receive it as any edit. Nothing is lost: "
                f"version {document.version} stays in the history and can be restored in turn."
            ]
        return self.confirm(
            request, document, back, title="Restore a version", crumb="Restore a version",
            prefix="restore-version", question=question, details=details, submit="Yes, restore it",
            gone=f"That version is no longer kept in “{document.title}”: there is nothing to restore.",
        )  # fmt: skip

    def confirm(
        self, request: HttpRequest, document: Document, back: str, **context: Any
    ) -> TemplateResponse:
        """The shared confirmation page (admin/collab/document/confirm.html) of this admin's actions."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "object": document,
                   "back": back, **context}  # fmt: skip
        return TemplateResponse(request, "admin/collab/document/confirm.html", context)

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        if not change:
            create = yjs_documents.create if obj.kind == Kind.YJS else editing.create_document
            created = create(
                owner=obj.owner, title=obj.title, content=obj.content, public_role=obj.public_role
            )
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        base_version, base_text = form.base
        op = diff(base_text, obj.content) if obj.kind == Kind.TEXT else []
        if op:
            editing.commit(editing.EditRequest(obj.pk, base_version, op, user=request.user))
        others = [f for f in form.changed_data if f in ("title", "owner", "public_role")]
        obj.refresh_from_db(fields=["content", "version"])
        if others:
            obj.save(update_fields=[*others, "updated_at"])


def _joined(entry: dict[str, Any]) -> datetime | None:
    return parse_datetime(str(entry.get("joined_at") or ""))


def _when(moment: datetime | None) -> str:
    return date_format(moment, "DATETIME_FORMAT") if moment else "an unknown time"


def _describe(entry: dict[str, Any]) -> dict[str, Any]:
    """A presence entry as a person reads it: who (with their username), role, status, since when."""
    who = entry["user"]["name"]
    if entry["user"].get("id") is not None:
        username = get_user_model().objects.filter(pk=entry["user"]["id"]).values_list("username", flat=True)
        if username and username[0] != who:
            who = f"{who} ({username[0]})"
    joined = _joined(entry)
    ago = ""
    if joined:
        ago = "just now" if timezone.now() - joined < timedelta(minutes=1) else f"{timesince(joined)} ago"
    return {"who": who, "role": entry["role"], "status": entry["status"], "joined": joined, "ago": ago}


def _close_session(
    request: HttpRequest, document: Document, session: str, who: str | None, back: str
) -> HttpResponse:
    hub().publish_from_sync(str(document.pk), SessionClosed(str(document.pk), session))
    if who is None:
        messages.info(request, "That session was no longer connected.")
    else:
        messages.info(request, f"The session of {who} was asked to close.")
    return HttpResponseRedirect(back)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["document", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["document__title", "user__username"]
    autocomplete_fields = ["document", "user"]


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    """Every op; a document's page links here filtered to it (``?document__exact=<id>``), newest first."""

    list_display = ["document", "version", "op_summary", "user", "client_id", "seq", "created_at"]
    search_fields = ["document__title", "client_id"]
    list_filter = ["created_at"]
    list_select_related = ["document", "user"]
    ordering = ["-created_at", "-version"]
    show_full_result_count = False  # no second COUNT over the whole table on a filtered page

    @admin.display(description="op")
    def op_summary(self, obj: Operation) -> str:
        text = str(obj.op)
        return text if len(text) <= 80 else text[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Snapshot)
class SnapshotAdmin(OperationAdmin):
    list_display = ["document", "version", "created_at"]
    list_select_related = ["document"]
    search_fields = ["document__title"]


from collab.webhooks import admin as _webhooks_admin  # noqa: E402, F401  (registers the webhook admin)
