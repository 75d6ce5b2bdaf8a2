"""Signed unsubscribe links (ADR 0021): the link names the contact by its opaque id and
carries an HMAC of it, so it cannot be forged for another contact, and holds no address."""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

PURPOSE = b"matiere-grise/unsubscribe/v1:"


def _mac(secret: str, contact_id: UUID) -> str:
    digest = hmac.new(secret.encode(), PURPOSE + contact_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unsubscribe_token(secret: str, contact_id: UUID) -> str:
    return f"{contact_id.hex}.{_mac(secret, contact_id)}"


def contact_of_token(secret: str, token: str) -> UUID | None:
    """The contact a token names, or None when it is not one we signed."""
    raw_id, _, mac = token.partition(".")
    try:
        contact_id = UUID(hex=raw_id)
    except ValueError:
        return None
    if len(raw_id) != 32 or not hmac.compare_digest(mac, _mac(secret, contact_id)):
        return None
    return contact_id
