"""Webhook signatures, as the Standard Webhooks specification defines them.

Each delivery carries ``webhook-id`` (the delivery's id: the idempotency key,
the same on every retry), ``webhook-timestamp`` (Unix seconds of this attempt)
and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed with the
secret's decoded bytes, of ``"{id}.{timestamp}.{body}"``. A secret is
``whsec_`` followed by the base64 of 32 random bytes::

    secret = new_secret()
    headers = sign(secret, delivery_id, body)            # at send time
    verify(secret, headers, body, tolerance=300)         # what a receiver does (docs/operations.md)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"


class InvalidSignature(Exception):
    pass


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The signing key: the secret's base64 part, decoded. Raises ValueError for a malformed secret."""
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 24:
        raise ValueError("a webhook secret needs at least 24 random bytes")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key_of(secret), signed, hashlib.sha256).digest()).decode()


def sign(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance: float = 300) -> None:
    """Raise InvalidSignature unless ``headers`` sign ``body`` with ``secret``, recently."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        raise InvalidSignature("missing webhook-id or webhook-timestamp") from None
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = signature(secret, message_id, timestamp, body)
    offered = lower.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("no matching signature")
