"""Host-style permission policies for the tests: roles from a table the test fills."""

from __future__ import annotations

from typing import Any

from collab.access import default_policy

GRANTS: dict[tuple[str, str], str] = {}  # (username, document id) -> role


def grants(user: Any, document: Any) -> str:
    """The role in ``GRANTS``; the owner stays owner (through the default policy)."""
    if getattr(user, "is_authenticated", False) and document.owner_id == user.pk:
        return default_policy(user, document)
    return GRANTS.get((getattr(user, "username", ""), str(document.pk)), "none")
