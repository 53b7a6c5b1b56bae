"""``manage.py seed_demo``: the development demo account and a public demo document (idempotent).

``make run`` calls it. With ``DEBUG`` on (development) the demo account is a
superuser, so the admin URL it prints opens with the printed credentials; with
``DEBUG`` off it is an ordinary user and nothing makes it staff. Nothing else
creates the account: production settings never do.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
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
    help = (
        "Create the demo account (an admin too when DEBUG is on) and a public demo document, "
        "and print where to find them."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default=os.environ.get("COLLAB_DEMO_USER", "demo"))
        parser.add_argument("--password", default=os.environ.get("COLLAB_DEMO_PASSWORD", "demo-password"))
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, username: str, password: str, base_url: str, **options: Any) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": "Demo"})
        changed = created
        if created:
            user.set_password(password)
        if settings.DEBUG and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True  # development only: the printed admin URL works
            changed = True
        if changed:
            user.save()
        token, _ = Token.objects.get_or_create(user=user)
        document = Document.objects.filter(owner=user, title="Demo document").first()
        if document is None:
            document = editing.create_document(
                owner=user, title="Demo document", content=WELCOME, public_role="editor"
            )
        base = base_url.rstrip("/")
        if user.check_password(password):
            sign_in = f"{username} / {password}"
        else:
            sign_in = f"{username} (the password was changed; reset it: manage.py changepassword {username})"
        admin = (
            f"{base}/admin/" if user.is_staff else f"{base}/admin/   (DEBUG is off: {username} is not staff)"
        )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "collab is ready.",
                    f"  Demo editor:   {base}/documents/{document.pk}/",
                    f"  Documents:     {base}/",
                    f"  API:           {base}/api/documents/   (docs: {base}/api/docs/)",
                    f"  Admin:         {admin}",
                    f"  Sign in as:    {sign_in}",
                    f"  API token:     {token.key}",
                    "",
                ]
            )
        )
