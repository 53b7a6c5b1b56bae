"""Documents, their members, their op log and periodic snapshots.

A document has a ``kind``: ``text`` (the op log is the source of truth:
``Document.content`` at ``Document.version`` always equals replaying every
``Operation`` on the snapshot at version 0) or ``yjs`` (the source of truth is
the latest ``YjsSnapshot`` plus the ``YjsUpdate`` rows after it; ``content``
stays empty and ``version`` counts the updates stored so far).
Uniqueness of (document, version) is what orders edits across processes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    NONE = "none", "None"
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.NONE: 0, Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}
PUBLIC_ROLES = (Role.NONE, Role.VIEWER, Role.EDITOR)


class Kind(models.TextChoices):
    TEXT = "text", "Text"
    YJS = "yjs", "Yjs"


MEMBER_ROLES = (Role.VIEWER, Role.EDITOR, Role.OWNER)


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_documents"
    )
    public_role = models.CharField(
        max_length=10,
        choices=[(r.value, r.label) for r in PUBLIC_ROLES],
        default=Role.NONE,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"


class Membership(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=[(r.value, r.label) for r in MEMBER_ROLES])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "user"], name="unique_membership")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.document_id}"


class Operation(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="operations")
    version = models.PositiveIntegerField()
    op = models.JSONField()
    client_id = models.CharField(max_length=64, blank=True, default="")
    seq = models.BigIntegerField(null=True, blank=True)
    session = models.CharField(max_length=64, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="unique_op_version"),
            models.UniqueConstraint(
                fields=["document", "client_id", "seq"],
                condition=~Q(client_id="") & Q(seq__isnull=False),
                name="unique_op_client_seq",
            ),
        ]
        ordering = ["document", "version"]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.version}"


class Snapshot(models.Model):
    """The text at one version, so ``snapshot?version=V`` replays few ops."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()
    content = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="unique_snapshot_version")
        ]
        ordering = ["document", "version"]


class YjsRecord(models.Model):
    """What a yjs document's stored updates and snapshots share: the log position ``version``, ordered by it."""

    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["document", "version"]


class YjsUpdate(YjsRecord):
    """One stored Yjs update (v1 encoding) of a yjs document: ``version`` is its place in the log."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="yjs_updates")
    data = models.BinaryField()
    session = models.CharField(max_length=64, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta(YjsRecord.Meta):
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="unique_yjs_update_version")
        ]

    def __str__(self) -> str:
        return f"{self.document_id} update {self.version}"


class YjsSnapshot(YjsRecord):
    """The whole state of a yjs document (one merged update) with every update up to ``version`` in it."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="yjs_snapshots")
    state = models.BinaryField()

    class Meta(YjsRecord.Meta):
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="unique_yjs_snapshot_version")
        ]

    def __str__(self) -> str:
        return f"{self.document_id} state at {self.version}"


class DocumentVersion(models.Model):
    """A version of a document kept in its history: named by a person, or automatic (after a pause).

    Named versions are kept forever with what they need to be shown again:
    ``content`` (a text document's text at ``version``) or ``state`` (a yjs
    document's whole state, one merged update). An automatic version of a text
    document stores nothing (its text comes from the op log and goes when the
    log is compacted past it); one of a yjs document stores its state.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="named_versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    automatic = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    content = models.TextField(null=True, blank=True)
    state = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["document", "version"], name="document_version_idx")]
        ordering = ["-version", "-id"]

    def __str__(self) -> str:
        return f"{self.name or 'automatic'} (v{self.version})"


class CompactedHistory(models.Model):
    """Where a text document's op log starts after compaction, and who wrote the text there.

    The text at ``version`` is the ``Snapshot`` at that version; ``authors`` is
    its attribution as runs ``[length, version, user_id]`` (the version and
    user of the op that inserted those code points), so blame survives the ops.
    """

    document = models.OneToOneField(
        Document, on_delete=models.CASCADE, primary_key=True, related_name="compacted_history"
    )
    version = models.PositiveIntegerField()
    authors = models.JSONField(default=list)
    compacted_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.document_id} from v{self.version}"


from collab.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription  # noqa: E402, F401
