"""A message addressed to one recipient, and what it is addressed from: this service's
card of a demande and what it knows when an event arrives."""

from __future__ import annotations

from dataclasses import dataclass
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
    contact_name: str
    contact_email: str
    title: str
    correlation_id: str | None = None


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
