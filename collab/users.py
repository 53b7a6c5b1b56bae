"""How a user appears to others: ``{"id", "name", "color"}``, the colour stable per user."""

from __future__ import annotations

import hashlib
from typing import Any, TypedDict

PALETTE = (
    "#d94f4f", "#3b82c4", "#3fa34d", "#c47f1a", "#8e5cc4",
    "#1a9c9c", "#c44f8e", "#6b7d1a", "#4f5fd9", "#b8572a",
)  # fmt: skip


class UserInfo(TypedDict):
    id: int | None
    name: str
    color: str


def color_for(key: str) -> str:
    digest = hashlib.sha1(key.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def user_info(user: Any, session: str = "") -> UserInfo:
    """The user's public face; anonymous users get a name derived from their session."""
    if user is not None and getattr(user, "is_authenticated", False):
        name = (user.get_full_name() or "").strip() or user.get_username()
        return {"id": user.pk, "name": name, "color": color_for(f"user:{user.pk}")}
    tag = (session or "0000")[:4]
    return {"id": None, "name": f"Guest {tag}", "color": color_for(f"session:{session}")}
