"""The migrations describe the models: nothing is left for ``makemigrations``, and a document's
``kind`` (PROTOCOL.md section 8) comes from a migration with ``text`` as its default."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits 1 when a migration would be written
        raise AssertionError(f"models without a migration:\n{out.getvalue()}") from exc


@pytest.mark.django_db
def test_the_document_kind_is_migrated_with_text_as_its_default() -> None:
    state = MigrationLoader(connection).project_state()
    kind = state.models["collab", "document"].fields["kind"]
    assert kind.default == "text"
    assert {value for value, _ in kind.choices} == {"text", "yjs"}
