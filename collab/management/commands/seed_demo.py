"""``manage.py seed_demo``: a demo user and a public demo document (idempotent), URLs printed."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from collab import editing
from collab.models import Document

WELCOME = (
    "Welcome to collab!\n\n"
    "Open this page in a second window and type in both: edits, carets and\n"
    "who is here show up live. Emoji count as one character 🎉\n"
)


class Command(BaseCommand):
    help = "Create the demo user and a public demo document, and print where to find them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default=os.environ.get("COLLAB_DEMO_USER", "demo"))
        parser.add_argument("--password", default=os.environ.get("COLLAB_DEMO_PASSWORD", "demo-password"))
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, username: str, password: str, base_url: str, **options: Any) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": "Demo"})
        if created:
            user.set_password(password)
            user.save()
        token, _ = Token.objects.get_or_create(user=user)
        document = Document.objects.filter(owner=user, title="Demo document").first()
        if document is None:
            document = editing.create_document(
                owner=user, title="Demo document", content=WELCOME, public_role="editor"
            )
        base = base_url.rstrip("/")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "collab is ready.",
                    f"  Demo editor:   {base}/documents/{document.pk}/",
                    f"  Documents:     {base}/",
                    f"  API:           {base}/api/documents/   (docs: {base}/api/docs/)",
                    f"  Admin:         {base}/admin/",
                    f"  Sign in as:    {username} / {password if created else '(the password you set)'}",
                    f"  API token:     {token.key}",
                    "",
                ]
            )
        )
