"""A message addressed to one recipient, and what it is addressed from: this service's
card of a demande and what it knows when an event arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.notifications.domain.model import Kind, Role


@dataclass(frozen=True, slots=True)
class DemandeCard:
    """This service's projection of a demande: who to tell about it."""

    request_id: UUID
    departement: str
    requester_code: str
    requester_name: str
    # None until the contact arrives from the restricted topic (ADR 0020): its messages
    # wait for it, as they wait for a demande not heard of yet.
    contact_name: str | None
    contact_email: str | None
    title: str
    correlation_id: str | None = None
    contact_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class RequesterContact:
    """The contact of a demande, from the restricted topic (personal data, never logged)."""

    contact_id: UUID
    departement: str
    request_id: UUID
    name: str
    email: str
    phone: str | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Known:
    """What the service knows when an event arrives."""

    departement: str
    team_address: str
    demande: DemandeCard | None = None
    actor_address: str | None = None


class Unresolved(StrEnum):
    AWAITING_DEMANDE = "awaiting_demande"
    NO_ACTOR_CONTACT = "no_actor_contact"


def awaiting_contact(card: DemandeCard) -> Unresolved | None:
    """A demande whose contact has not arrived yet: its requester's messages wait."""
    return Unresolved.AWAITING_DEMANDE if card.contact_email is None else None


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to one recipient; ``address`` is None while ``unresolved``."""

    kind: Kind
    role: Role
    # Stable name of the recipient, part of the notification id: "actor:caue49".
    recipient: str
    address: str | None
    context: dict[str, Any]
    unresolved: Unresolved | None = None
    request_id: UUID | None = None


def demande_context(card: DemandeCard | None) -> dict[str, Any]:
    """What the templates say of the demande; filled in later for a message that waited."""
    return {
        "demande_titre": card.title if card else None,
        "collectivite": card.requester_name if card else None,
        "contact_nom": card.contact_name if card else None,
    }
