"""In-memory stand-ins for the notifications service's adapters: its repositories over
one set of tables that outlives each unit of work (as the database does), and senders
whose outcomes a test scripts."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.model import (
    Delivery,
    DeliveryStatus,
    Kind,
    NewDelivery,
    Preferences,
)
from services.notifications.domain.rules import DemandeCard, Subscription
from services.notifications.domain.views import (
    ActorContact,
    DeliveryFilter,
    DeliveryView,
    DueProposal,
    StoredSubscription,
)
from tests.unit.fakes import FakeUnitOfWorkBase


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
class Tables:
    """What the notifications database holds."""

    demandes: dict[UUID, DemandeRow] = field(default_factory=dict)
    proposals: dict[UUID, ProposalRow] = field(default_factory=dict)
    actors: dict[str, ActorContact] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    preferences: dict[str, Preferences] = field(default_factory=dict)
    subscriptions: dict[UUID, tuple[StoredSubscription, str]] = field(default_factory=dict)
    deliveries: dict[UUID, DeliveryRow] = field(default_factory=dict)

    def load(self, other: Tables) -> None:
        """Become a copy of ``other``, in place (the repositories keep their tables)."""
        for f in fields(self):
            mine = getattr(self, f.name)
            mine.clear()
            mine.update(copy.deepcopy(getattr(other, f.name)))


class FakeDemandeRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def lock(self, request_id: UUID) -> None:
        """One transaction at a time here: nothing to serialise."""

    async def add(self, card: DemandeCard, submitted_at: datetime, now: datetime) -> bool:
        if card.request_id in self._t.demandes:
            return False
        self._t.demandes[card.request_id] = DemandeRow(card, "open", submitted_at, now)
        return True

    async def get(self, request_id: UUID) -> DemandeCard | None:
        row = self._t.demandes.get(request_id)
        return row.card if row else None

    async def latest_of(self, requester_code: str, departement: str) -> DemandeCard | None:
        rows = [
            r
            for r in self._t.demandes.values()
            if r.card.requester_code == requester_code and r.card.departement == departement
        ]
        return max(rows, key=lambda r: r.submitted_at).card if rows else None

    async def record_news(self, request_id: UUID, now: datetime) -> None:
        row = self._t.demandes.get(request_id)
        if row is not None and row.last_news_at < now:
            row.last_news_at = now

    async def set_status(self, request_id: UUID, status: str) -> None:
        if request_id in self._t.demandes:
            self._t.demandes[request_id].status = status

    async def due_follow_ups(
        self, news_before: datetime, limit: int
    ) -> list[tuple[DemandeCard, datetime]]:
        due = sorted(
            (r for r in self._t.demandes.values() if r.status == "open"),
            key=lambda r: r.last_news_at,
        )
        return [(r.card, r.last_news_at) for r in due if r.last_news_at <= news_before][:limit]

    async def add_proposal(
        self,
        *,
        assignment_id: UUID,
        request_id: UUID,
        departement: str,
        actor_id: str,
        actor_name: str,
        respond_by: datetime,
        remind_at: datetime | None,
        now: datetime,
    ) -> bool:
        if assignment_id in self._t.proposals:
            return False
        due = DueProposal(assignment_id, request_id, departement, actor_id, actor_name, respond_by)
        self._t.proposals[assignment_id] = ProposalRow(due, "proposed", remind_at)
        return True

    async def set_proposal_status(self, assignment_id: UUID, status: str, now: datetime) -> None:
        if assignment_id in self._t.proposals:
            self._t.proposals[assignment_id].status = status

    async def open_proposals(self, request_id: UUID) -> int:
        return sum(
            p.due.request_id == request_id and p.status in ("proposed", "accepted")
            for p in self._t.proposals.values()
        )

    async def due_reminders(self, now: datetime, limit: int) -> list[DueProposal]:
        due = [
            p
            for p in self._t.proposals.values()
            if p.status == "proposed"
            and p.reminded_at is None
            and p.remind_at is not None
            and p.remind_at <= now < p.due.respond_by
        ]
        return [p.due for p in sorted(due, key=lambda p: p.remind_at or now)][:limit]

    async def mark_reminded(self, assignment_id: UUID, now: datetime) -> None:
        self._t.proposals[assignment_id].reminded_at = now


class FakeContactRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def actor(self, actor_id: str) -> ActorContact | None:
        return self._t.actors.get(actor_id)

    async def save_actor(
        self, actor_id: str, contact: ActorContact, by: str, now: datetime
    ) -> None:
        self._t.actors[actor_id] = contact

    async def team(self, departement: str) -> str | None:
        return self._t.teams.get(departement)

    async def save_team(self, departement: str, email: str, by: str, now: datetime) -> None:
        self._t.teams[departement] = email

    async def known_to(
        self,
        address: str,
        *,
        departement: str | None,
        requester_code: str | None = None,
        actor_id: str | None = None,
    ) -> bool:
        if actor_id is not None:
            found = self._t.actors.get(actor_id)
            return found is not None and found.email == address
        demandes = [
            r.card
            for r in self._t.demandes.values()
            if r.card.departement == departement
            and r.card.contact_email.lower() == address
            and (requester_code is None or r.card.requester_code == requester_code)
        ]
        if requester_code is not None:
            return bool(demandes)
        return (
            bool(demandes)
            or any(
                c.departement == departement and c.email == address for c in self._t.actors.values()
            )
            or self._t.teams.get(departement or "") == address
        )


class FakePreferenceRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def of(self, addresses: Iterable[str]) -> dict[str, Preferences]:
        return {a: self._t.preferences[a] for a in addresses if a in self._t.preferences}

    async def save(self, email: str, chosen: Preferences, by: str, now: datetime) -> None:
        self._t.preferences[email] = chosen


class FakeSubscriptionRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(
        self,
        *,
        subscription_id: UUID,
        departement: str | None,
        url: str,
        event_types: list[str],
        secret: str,
        description: str | None,
        by: str,
        now: datetime,
    ) -> StoredSubscription:
        stored = StoredSubscription(
            subscription_id, departement, url, event_types, description, True, now, by
        )
        self._t.subscriptions[subscription_id] = (stored, secret)
        return replace(stored)

    async def get(self, subscription_id: UUID) -> StoredSubscription | None:
        found = self._t.subscriptions.get(subscription_id)
        return replace(found[0]) if found else None

    async def active(self, departement: str | None) -> list[StoredSubscription]:
        return [
            replace(s)
            for s, _ in self._t.subscriptions.values()
            if s.active and (departement is None or s.departement == departement)
        ]

    async def for_departement(self, departement: str) -> list[Subscription]:
        return [
            Subscription(s.id, s.departement, frozenset(s.event_types))
            for s, _ in self._t.subscriptions.values()
            if s.active and s.departement in (departement, None)
        ]

    async def remove(self, subscription_id: UUID, now: datetime) -> None:
        self._t.subscriptions[subscription_id][0].active = False


class FakeDeliveryRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    def _pending(self, delivery_id: UUID) -> DeliveryRow | None:
        row = self._t.deliveries.get(delivery_id)
        return row if row is not None and row.status is DeliveryStatus.PENDING else None

    async def add(self, new: list[NewDelivery]) -> int:
        added = 0
        for d in new:
            if d.id not in self._t.deliveries:
                self._t.deliveries[d.id] = DeliveryRow(
                    d, d.status, d.reason, d.address, d.payload, d.created_at
                )
                added += 1
        return added

    async def awaiting(self, request_id: UUID) -> list[tuple[UUID, Kind, dict[str, Any]]]:
        return [
            (r.new.id, r.new.kind, r.payload)
            for r in self._t.deliveries.values()
            if r.new.request_id == request_id and r.status is DeliveryStatus.AWAITING_RECIPIENT
        ]

    async def resolve(
        self,
        delivery_id: UUID,
        *,
        address: str,
        status: DeliveryStatus,
        reason: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        row = self._t.deliveries[delivery_id]
        row.address, row.status, row.reason, row.payload = address, status, reason, payload
        row.next_attempt_at = now

    async def give_up_awaiting(self, created_before: datetime) -> int:
        dropped = [
            r
            for r in self._t.deliveries.values()
            if r.status is DeliveryStatus.AWAITING_RECIPIENT and r.new.created_at < created_before
        ]
        for r in dropped:
            r.status, r.reason = DeliveryStatus.SKIPPED, "recipient_unknown"
        return len(dropped)

    async def claim(
        self, now: datetime, busy_endpoints: Iterable[str], limit: int
    ) -> list[Delivery]:
        busy = set(busy_endpoints)
        due = sorted(
            (
                r
                for r in self._t.deliveries.values()
                if r.status is DeliveryStatus.PENDING
                and r.next_attempt_at <= now
                and r.new.endpoint not in busy
            ),
            key=lambda r: r.next_attempt_at,
        )[:limit]
        claimed = []
        for r in due:
            subscription = self._t.subscriptions.get(r.new.subscription_id or UUID(int=0))
            if subscription is not None and subscription[0].active:
                claimed.append(r.delivery(subscription[0].url, subscription[1]))
            else:
                claimed.append(r.delivery())
        return claimed

    async def lease(self, ids: list[UUID], until: datetime, now: datetime) -> None:
        for i in ids:
            self._t.deliveries[i].next_attempt_at = until

    async def mark_sent(self, delivery_id: UUID, now: datetime) -> Delivery | None:
        row = self._pending(delivery_id)
        if row is None:
            return None
        row.status, row.attempts, row.sent_at = DeliveryStatus.SENT, row.attempts + 1, now
        row.last_error = row.reason = None
        return row.delivery()

    async def mark_retry(
        self, delivery_id: UUID, at: datetime, error: str, reason: str
    ) -> int | None:
        row = self._pending(delivery_id)
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at, row.last_error, row.reason = at, error, reason
        return row.attempts

    async def mark_final(
        self,
        delivery_id: UUID,
        status: DeliveryStatus,
        reason: str,
        error: str | None,
        *,
        count_attempt: bool = True,
    ) -> Delivery | None:
        row = self._pending(delivery_id)
        if row is None:
            return None
        row.status, row.reason, row.last_error = status, reason, error
        row.attempts += 1 if count_attempt else 0
        return row.delivery()

    async def search(
        self, criteria: DeliveryFilter, *, limit: int, offset: int
    ) -> list[DeliveryView]:
        found = [
            r.view()
            for r in self._t.deliveries.values()
            if criteria.departement in (None, r.new.departement)
            and criteria.status in (None, r.status.value)
            and criteria.kind in (None, r.new.kind.value)
            and criteria.subscription_id in (None, r.new.subscription_id)
        ]
        found.sort(key=lambda v: (-v.created_at.timestamp(), v.id))
        return found[offset : offset + limit]

    async def view(self, delivery_id: UUID) -> DeliveryView | None:
        row = self._t.deliveries.get(delivery_id)
        return row.view() if row else None

    async def retry_dead_letter(self, delivery_id: UUID, now: datetime) -> bool:
        row = self._t.deliveries.get(delivery_id)
        if row is None or row.status is not DeliveryStatus.DEAD_LETTERED:
            return False
        row.status, row.next_attempt_at, row.attempts = DeliveryStatus.PENDING, now, 0
        return True


class FakeDigestRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    def _held(self, created_before: datetime) -> list[DeliveryRow]:
        return sorted(
            (
                r
                for r in self._t.deliveries.values()
                if r.status is DeliveryStatus.HELD and r.new.created_at < created_before
            ),
            key=lambda r: r.new.created_at,
        )

    async def held_addresses(
        self, created_before: datetime, digest_source: str, limit: int
    ) -> list[str]:
        sent = {
            r.address
            for r in self._t.deliveries.values()
            if r.new.kind is Kind.RESUME_QUOTIDIEN and r.new.source_event_id == digest_source
        }
        addresses = [r.address for r in self._held(created_before) if r.address not in sent]
        return [a for a in dict.fromkeys(addresses) if a][:limit]

    async def take_held(self, address: str, created_before: datetime) -> list[Delivery]:
        return [r.delivery() for r in self._held(created_before) if r.address == address]

    async def mark_digested(self, ids: list[UUID], digest_id: UUID) -> None:
        for i in ids:
            row = self._t.deliveries[i]
            row.status, row.digest_id = DeliveryStatus.DIGESTED, digest_id


class FakeUnitOfWork(FakeUnitOfWorkBase):
    """A transaction over ``committed``: the repositories work on a copy of it, which a
    commit makes the committed state and a rollback drops. Units of work made on the same
    :class:`Tables` see each other's commits, as on one database."""

    def __init__(self, committed: Tables | None = None) -> None:
        super().__init__("notifications")
        self.committed = committed if committed is not None else Tables()
        self.tables = Tables()
        self.tables.load(self.committed)
        self.demandes = FakeDemandeRepository(self.tables)
        self.contacts = FakeContactRepository(self.tables)
        self.preferences = FakePreferenceRepository(self.tables)
        self.subscriptions = FakeSubscriptionRepository(self.tables)
        self.deliveries = FakeDeliveryRepository(self.tables)
        self.digests = FakeDigestRepository(self.tables)

    async def __aenter__(self) -> FakeUnitOfWork:
        self.tables.load(self.committed)
        return self

    def _commit_repositories(self) -> None:
        self.committed.load(self.tables)

    def _rollback_repositories(self) -> None:
        self.tables.load(self.committed)


class FakeSender:
    """A channel whose outcomes the test scripts: each send takes the next failure of
    ``failures`` (None: success) and is recorded in ``sent`` when it succeeds."""

    def __init__(self, failures: Iterable[DeliveryFailed | None] = ()) -> None:
        self.failures = list(failures)
        self.attempts: list[Delivery] = []
        self.sent: list[Delivery] = []
        self.closed = False

    async def send(self, delivery: Delivery) -> None:
        self.attempts.append(delivery)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.sent.append(delivery)

    async def aclose(self) -> None:
        self.closed = True
