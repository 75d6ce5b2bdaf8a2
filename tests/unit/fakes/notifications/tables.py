"""The notifications database in memory: its rows, and the tables that outlive each unit of
work as the database does."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifications.domain.les_communs import ProjectState
from services.notifications.domain.model import (
    Delivery,
    DeliveryStatus,
    NewDelivery,
    Preferences,
)
from services.notifications.domain.rules import DemandeCard, RequesterContact
from services.notifications.domain.views import (
    ActorContact,
    Contact,
    ConventionReminder,
    DeliveryView,
    DueProposal,
    StoredSubscription,
)


@dataclass
class DemandeRow:
    card: DemandeCard
    status: str
    submitted_at: datetime
    last_news_at: datetime


@dataclass
class ProposalRow:
    due: DueProposal
    status: str
    remind_at: datetime | None
    reminded_at: datetime | None = None


@dataclass
class ConventionReminderRow:
    reminder: ConventionReminder
    remind_at: datetime | None
    reminded_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass
class DeliveryRow:
    new: NewDelivery
    status: DeliveryStatus
    reason: str | None
    address: str | None
    payload: dict[str, Any]
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    digest_id: UUID | None = None

    def delivery(self, url: str | None = None, secret: str | None = None) -> Delivery:
        n = self.new
        return Delivery(
            id=n.id,
            channel=n.channel,
            kind=n.kind,
            departement=n.departement,
            role=n.role,
            endpoint=n.endpoint,
            attempts=self.attempts,
            payload=self.payload,
            address=self.address,
            subscription_id=n.subscription_id,
            url=url,
            secret=secret,
            source_event_id=n.source_event_id,
            source_event_type=n.source_event_type,
            correlation_id=n.correlation_id,
            causation_id=n.causation_id,
            created_at=n.created_at,
        )

    def view(self) -> DeliveryView:
        n = self.new
        return DeliveryView(
            id=n.id,
            channel=n.channel.value,
            kind=n.kind.value,
            departement=n.departement,
            recipient_role=n.role.value,
            subscription_id=n.subscription_id,
            request_id=n.request_id,
            source_event_id=n.source_event_id,
            source_event_type=n.source_event_type,
            status=self.status.value,
            attempts=self.attempts,
            reason=self.reason,
            last_error=self.last_error,
            next_attempt_at=self.next_attempt_at,
            created_at=n.created_at,
            sent_at=self.sent_at,
        )


@dataclass
class LesCommunsRow:
    state: ProjectState
    status: str
    next_attempt_at: datetime
    sent_revision: int = 0
    attempts: int = 0
    last_error: str | None = None
    les_communs_id: str | None = None
    sent_at: datetime | None = None


@dataclass
class Tables:
    """What the notifications database holds."""

    demandes: dict[UUID, DemandeRow] = field(default_factory=dict)
    proposals: dict[UUID, ProposalRow] = field(default_factory=dict)
    actors: dict[tuple[str, str], ActorContact] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    contacts: dict[tuple[str, str], Contact] = field(default_factory=dict)
    preferences: dict[UUID, Preferences] = field(default_factory=dict)
    subscriptions: dict[UUID, tuple[StoredSubscription, str]] = field(default_factory=dict)
    deliveries: dict[UUID, DeliveryRow] = field(default_factory=dict)
    convention_reminders: dict[UUID, ConventionReminderRow] = field(default_factory=dict)
    les_communs: dict[UUID, LesCommunsRow] = field(default_factory=dict)
    requester_contacts: dict[UUID, RequesterContact] = field(default_factory=dict)

    def load(self, other: Tables) -> None:
        """Become a copy of ``other``, in place (the repositories keep their tables)."""
        for f in fields(self):
            mine = getattr(self, f.name)
            mine.clear()
            mine.update(copy.deepcopy(getattr(other, f.name)))
