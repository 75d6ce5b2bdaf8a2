"""What the repositories hand the use cases and the API, beyond the domain's own
messages: stored subscriptions and contacts, deliveries as a team follows them, the
proposals due a reminder, and the criteria of a search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(slots=True)
class StoredSubscription:
    id: UUID
    departement: str | None
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A recipient within one département, known by an opaque id (ADR 0021)."""

    id: UUID
    departement: str
    email: str


@dataclass(frozen=True, slots=True)
class ActorContact:
    departement: str
    email: str
    name: str | None


@dataclass(slots=True)
class DeliveryView:
    """A delivery as a team follows it: no address, no content."""

    id: UUID
    channel: str
    kind: str
    departement: str
    recipient_role: str
    subscription_id: UUID | None
    request_id: UUID | None
    source_event_id: str
    source_event_type: str
    status: str
    attempts: int
    reason: str | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    departement: str | None = None
    status: str | None = None
    kind: str | None = None
    subscription_id: UUID | None = None


@dataclass(slots=True)
class DueProposal:
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    actor_name: str
    respond_by: datetime


@dataclass(frozen=True, slots=True)
class ConventionReminder:
    """A convention sent for signature, to remind its collectivité of before it expires."""

    convention_id: UUID
    demande_id: UUID
    departement: str
    number: str
    valid_until: datetime
    total_incl_tax: str
