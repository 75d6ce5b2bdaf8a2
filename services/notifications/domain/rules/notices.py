"""The messages this service sends of its own: the team told of a delivery that failed for
good, the daily digest of whoever chose one."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules.addressing import Planned
from shared.french import long_date


def tells_team_of_failure(kind: Kind) -> bool:
    # The notice of a failure that fails is not announced again: no loop.
    return kind is not Kind.LIVRAISON_EN_ECHEC


def dead_letter_notice(
    *,
    departement: str,
    team_address: str,
    failed_kind: Kind,
    failed_role: Role,
    channel: str,
    reason: str,
    attempts: int,
    source_event_type: str,
    source_event_id: str,
    subscription_id: UUID | None,
) -> Planned:
    return Planned(
        Kind.LIVRAISON_EN_ECHEC,
        Role.TEAM,
        f"team:{departement}",
        team_address,
        {
            "departement": departement,
            "canal": "courriel" if channel == "email" else "webhook",
            "nature": failed_kind.label,
            "destinataire": ROLE_LABELS[failed_role],
            "motif": reason,
            "tentatives": attempts,
            "evenement": source_event_type,
            "evenement_id": source_event_id,
            "abonnement": str(subscription_id) if subscription_id else None,
        },
    )


ROLE_LABELS: dict[Role, str] = {
    Role.REQUESTER: "le contact de la collectivité",
    Role.ACTOR: "l'acteur",
    Role.TEAM: "l'équipe du département",
    Role.SUBSCRIBER: "un système abonné",
}


def digest_recipient(address: str) -> str:
    return f"digest:{address}"


def digest_source(day: date) -> str:
    return f"digest:{day.isoformat()}"


def digest(address: str, role: Role, day: date, held: list[tuple[Kind, dict[str, Any]]]) -> Planned:
    """The day's one message gathering what ``address`` chose to receive once a day."""
    return Planned(
        Kind.RESUME_QUOTIDIEN,
        role,
        digest_recipient(address),
        address,
        {
            "date": long_date(day),
            "items": [{"kind": kind.value, "context": context} for kind, context in held],
        },
    )
