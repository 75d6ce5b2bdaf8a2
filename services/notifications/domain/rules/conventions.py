"""What the messages of a convention say (to sign, expired unsigned), and the reminder its
clock causes seven days before it expires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules.addressing import (
    DemandeCard,
    Planned,
    awaiting_contact,
    demande_context,
)
from shared.contracts.conventions import ConventionExpired, ConventionSent
from shared.french import PARIS, euros, long_date

CONVENTION_REMINDER_LEAD = timedelta(days=7)


def convention_context(number: str, total_incl_tax: Any, valid_until: datetime) -> dict[str, Any]:
    return {
        "convention": number,
        "montant_ttc": euros(total_incl_tax),
        "valable_jusqu_au": long_date(valid_until.astimezone(PARIS).date()),
    }


def facts(payload: ConventionSent | ConventionExpired) -> dict[str, Any]:
    """The facts of a convention's event, written in French."""
    return convention_context(payload.number, payload.total_incl_tax, payload.valid_until) | {
        "acteur_id": payload.actor_id
    }


def convention_reminder_at(sent_at: datetime, valid_until: datetime) -> datetime | None:
    """Seven days before the convention expires; None when it was sent later than that."""
    at = valid_until - CONVENTION_REMINDER_LEAD
    return at if at > sent_at else None


def convention_reminder(
    card: DemandeCard, number: str, total: str, valid_until: datetime
) -> Planned:
    """The collectivité's reminder that its convention expires in seven days."""
    context = (
        {"departement": card.departement}
        | demande_context(card)
        | convention_context(number, total, valid_until)
    )
    return Planned(
        Kind.RAPPEL_CONVENTION,
        Role.REQUESTER,
        f"requester:{card.request_id}",
        card.contact_email,
        context,
        awaiting_contact(card),
        request_id=card.request_id,
    )
