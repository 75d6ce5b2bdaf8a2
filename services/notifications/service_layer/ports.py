"""What the use cases and the dispatcher need of the outside world, as ports.

One repository per aggregate: the projection of the demandes and their proposals
(:class:`DemandeRepository`), contacts (:class:`ContactRepository`), preferences
(:class:`PreferenceRepository`), webhook subscriptions (:class:`SubscriptionRepository`),
deliveries (:class:`DeliveryRepository`) and the messages held for a digest
(:class:`DigestRepository`). The SQL ones are in ``adapters``, the tests' in-memory ones
in ``tests/unit/fakes/notifications/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.notifications.domain.les_communs import DueProject, ProjectState, PublishedProject
from services.notifications.domain.model import (
    Delivery,
    DeliveryStatus,
    Kind,
    NewDelivery,
    Preferences,
)
from services.notifications.domain.rules import DemandeCard, RequesterContact, Subscription
from services.notifications.domain.views import (
    ActorContact,
    Contact,
    ConventionReminder,
    DeliveryFilter,
    DeliveryView,
    DueProposal,
    StoredSubscription,
)
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork


class DemandeRepository(Protocol):
    """The demandes this service heard of, and the proposals made for them."""

    async def lock(self, request_id: UUID) -> None:
        """Serialise what concerns one demande until the commit."""

    async def add(self, card: DemandeCard, submitted_at: datetime, now: datetime) -> bool:
        """False when the demande was known already."""

    async def get(self, request_id: UUID) -> DemandeCard | None: ...

    async def contact(self, contact_id: UUID) -> RequesterContact | None:
        """A demande's contact, as the restricted topic gave it."""

    async def record_contact(self, contact: RequesterContact) -> list[DemandeCard]:
        """Keep a contact; returns the cards that waited for it, now addressed."""

    async def latest_of(self, requester_code: str, departement: str) -> DemandeCard | None: ...

    async def record_news(self, request_id: UUID, now: datetime) -> None: ...

    async def set_status(self, request_id: UUID, status: str) -> None: ...

    async def due_follow_ups(
        self, news_before: datetime, limit: int
    ) -> list[tuple[DemandeCard, datetime]]: ...

    async def add_proposal(
        self, proposal: DueProposal, remind_at: datetime | None, now: datetime
    ) -> bool:
        """False when the proposal was known already."""

    async def set_proposal_status(
        self, assignment_id: UUID, status: str, now: datetime
    ) -> None: ...

    async def open_proposals(self, request_id: UUID) -> int: ...

    async def due_reminders(self, now: datetime, limit: int) -> list[DueProposal]: ...

    async def mark_reminded(self, assignment_id: UUID, now: datetime) -> None: ...


class ConventionReminderRepository(Protocol):
    """The conventions sent for signature, reminded of before they expire."""

    async def add(self, reminder: ConventionReminder, remind_at: datetime | None) -> bool:
        """False when the convention was known already."""
        ...

    async def close(self, convention_id: UUID, now: datetime) -> None:
        """Signed, refused or expired: no reminder any more."""

    async def due(self, now: datetime, limit: int) -> list[ConventionReminder]:
        """Reminders due, locked for the caller."""
        ...

    async def mark_reminded(self, convention_id: UUID, now: datetime) -> None: ...


class ContactRepository(Protocol):
    async def actor(self, departement: str, actor_id: str) -> ActorContact | None:
        """Actor ids are the département's catalogue's: the same id elsewhere is another."""

    async def save_actor(
        self, actor_id: str, contact: ActorContact, by: str, now: datetime
    ) -> None: ...

    async def team(self, departement: str) -> str | None: ...

    async def save_team(self, departement: str, email: str, by: str, now: datetime) -> None: ...

    async def known_to(
        self,
        address: str,
        *,
        departement: str | None,
        requester_code: str | None = None,
        actor_id: str | None = None,
    ) -> bool:
        """Whether ``address`` is a contact within a scope: a département (its demandes,
        actors and team), a collectivité (its demandes), an actor (itself)."""


class PreferenceRepository(Protocol):
    """What each recipient chose to receive, per département (ADR 0021)."""

    async def of(self, departement: str, addresses: Iterable[str]) -> dict[str, Preferences]:
        """The preferences, in ``departement``, of those addresses that chose some."""

    async def contact(self, departement: str, email: str, now: datetime) -> Contact:
        """The contact of ``email`` in ``departement``, created if new."""

    async def get(self, contact_id: UUID) -> tuple[Contact, Preferences] | None: ...

    async def save(self, contact_id: UUID, chosen: Preferences, by: str, now: datetime) -> None: ...


class SubscriptionRepository(Protocol):
    async def add(self, subscription: StoredSubscription, secret: str) -> None: ...

    async def get(self, subscription_id: UUID) -> StoredSubscription | None: ...

    async def active(self, departement: str | None) -> list[StoredSubscription]:
        """Active subscriptions, of one département or (None) of all."""

    async def for_departement(self, departement: str) -> list[Subscription]:
        """Active subscriptions that hear of ``departement``: its own and the national ones."""

    async def remove(self, subscription_id: UUID, now: datetime) -> None: ...


class DeliveryRepository(Protocol):
    async def add(self, new: list[NewDelivery]) -> int:
        """Record the deliveries whose id is new; returns how many were."""

    async def awaiting(self, request_id: UUID) -> list[tuple[UUID, Kind, dict[str, Any]]]:
        """Messages of a demande waiting for its requester's address (locked)."""

    async def resolve(
        self,
        delivery_id: UUID,
        *,
        address: str,
        status: DeliveryStatus,
        reason: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> None: ...

    async def give_up_awaiting(self, created_before: datetime) -> int: ...

    async def claim(
        self, now: datetime, busy_endpoints: Iterable[str], limit: int
    ) -> list[Delivery]:
        """Due deliveries, locked until the caller's commit; others skip them."""

    async def lease(self, ids: list[UUID], until: datetime, now: datetime) -> None: ...

    async def mark_sent(self, delivery_id: UUID, now: datetime) -> Delivery | None:
        """Record the success; None when another attempt already recorded it."""

    async def mark_retry(
        self, delivery_id: UUID, at: datetime, error: str, reason: str
    ) -> int | None: ...

    async def mark_final(
        self,
        delivery_id: UUID,
        status: DeliveryStatus,
        reason: str,
        error: str | None,
        *,
        count_attempt: bool = True,
    ) -> Delivery | None: ...

    async def search(
        self, criteria: DeliveryFilter, *, limit: int, offset: int
    ) -> list[DeliveryView]: ...

    async def view(self, delivery_id: UUID) -> DeliveryView | None: ...

    async def retry_dead_letter(self, delivery_id: UUID, now: datetime) -> bool:
        """Make a dead-lettered delivery due again; False if it is not dead-lettered."""


class DigestRepository(Protocol):
    """The messages held for their recipients' daily digest."""

    async def held_addresses(
        self, created_before: datetime, digest_source: str, limit: int
    ) -> list[str]:
        """Addresses with messages held, except those whose digest of the day
        (``digest_source``) went out already."""

    async def take_held(self, address: str, created_before: datetime) -> list[Delivery]: ...

    async def mark_digested(self, ids: list[UUID], digest_id: UUID) -> None: ...


class LesCommunsRepository(Protocol):
    """Our projects' publication to Les Communs: the newest state of each (ADR 0015)."""

    async def follow(self, state: ProjectState, now: datetime) -> bool:
        """Keep the state if it is newer than the stored one (and make it due)."""

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[DueProject]:
        """Due projects, locked; their due time moved to ``lease_until``."""

    async def mark_sent(
        self, project_id: UUID, revision: int, les_communs_id: str, now: datetime
    ) -> None: ...

    async def mark_retry(self, project_id: UUID, at: datetime, error: str) -> None: ...

    async def mark_dead(self, project_id: UUID, error: str, now: datetime) -> None: ...

    async def listing(self, departement: str | None, limit: int) -> list[PublishedProject]: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """The notifications service's transaction: its repositories and the outbox, all or nothing."""

    @property
    def demandes(self) -> DemandeRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def preferences(self) -> PreferenceRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def digests(self) -> DigestRepository: ...

    @property
    def convention_reminders(self) -> ConventionReminderRepository: ...

    @property
    def les_communs(self) -> LesCommunsRepository: ...


class Sender(Protocol):
    """One channel's way out: the mailer (email) or the webhook client (webhook).
    Raises :class:`services.notifications.domain.delivery.DeliveryFailed` on failure."""

    async def send(self, delivery: Delivery) -> None: ...

    async def aclose(self) -> None: ...


class ProjectPublisher(Protocol):
    """The way out to Les Communs: an idempotent upsert of one project. Returns the
    project's id there; raises ``DeliveryFailed`` (permanent when retrying cannot help)."""

    async def upsert(self, body: dict[str, Any]) -> str: ...

    async def aclose(self) -> None: ...
