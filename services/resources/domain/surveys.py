"""The satisfaction survey of a closed mission (issue 17, item 6).

Ten days after the mission closed the collectivité is asked, through a signed link that
works once and without sign-in; without an answer, one reminder seven days later. The
link carries the survey's id and its expiry, signed with HMAC-SHA256: nothing to store,
nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from shared.contracts.vocabulary import Theme
from shared.errors import Conflict, DomainValidationError, FieldError

ASK_AFTER = timedelta(days=10)
REMIND_AFTER = timedelta(days=7)
# The link of the reminder still works a fortnight after it.
LINK_LIFETIME = timedelta(days=21)


@dataclass(slots=True)
class Survey:
    id: UUID
    assignment_id: UUID
    departement: str
    actor_id: str
    actor_name: str
    requester_code: str
    themes: list[Theme]
    due_at: datetime
    asked_at: datetime | None = None
    reminded_at: datetime | None = None
    answered_at: datetime | None = None
    quality: int | None = None
    delay: int | None = None
    usefulness: int | None = None
    would_recommend: bool | None = None
    comment: str = ""

    def answer(
        self,
        *,
        quality: int,
        delay: int,
        usefulness: int,
        would_recommend: bool,
        comment: str,
        now: datetime,
    ) -> None:
        if self.answered_at is not None:
            raise Conflict("Ce questionnaire a déjà reçu une réponse : merci !")
        errors = [
            FieldError(name, "Une note de 1 à 5.")
            for name, value in (("quality", quality), ("delay", delay), ("usefulness", usefulness))
            if not 1 <= value <= 5
        ]
        if errors:
            raise DomainValidationError(errors)
        self.quality, self.delay, self.usefulness = quality, delay, usefulness
        self.would_recommend = would_recommend
        self.comment = comment.strip()[:2000]
        self.answered_at = now


class InvalidLink(Exception):
    """A survey link that was forged, altered or has expired."""


def _signature(secret: bytes, survey_id: UUID, expires: int) -> str:
    message = f"{survey_id}.{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_link(secret: bytes, survey_id: UUID, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{survey_id}.{expires}.{_signature(secret, survey_id, expires)}"


def read_link(secret: bytes, token: str, now: datetime) -> UUID:
    """The survey a link designates; :class:`InvalidLink` when forged or expired."""
    try:
        raw_id, raw_expires, signature = token.split(".")
        survey_id, expires = UUID(raw_id), int(raw_expires)
    except ValueError as exc:
        raise InvalidLink("lien mal formé") from exc
    if not hmac.compare_digest(signature, _signature(secret, survey_id, expires)):
        raise InvalidLink("signature invalide")
    if now >= datetime.fromtimestamp(expires, UTC):
        raise InvalidLink("lien expiré")
    return survey_id
