"""The notifications database: projection, contacts, preferences, subscriptions,
deliveries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.orm import (
    actor_contacts,
    deliveries,
    demandes,
    preferences,
    proposals,
    team_contacts,
    webhook_subscriptions,
)
from services.notifications.domain.model import (
    Channel,
    Delivery,
    DeliveryStatus,
    Digest,
    Kind,
    Preferences,
    Role,
)
from services.notifications.domain.rules import DemandeCard, Subscription


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


@dataclass(slots=True)
class DeliveryView:
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


@dataclass(slots=True)
class DueProposal:
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    actor_name: str
    respond_by: datetime


def _card(row: Any) -> DemandeCard:
    return DemandeCard(
        request_id=row.request_id,
        departement=row.departement,
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        title=row.title,
        correlation_id=row.correlation_id,
    )


def _preferences(row: Any) -> Preferences:
    return Preferences(
        opted_out=frozenset(Kind(k) for k in row.opted_out if k in Kind.__members__.values()),
        digest=Digest(row.digest),
    )


def _subscription(row: Any) -> StoredSubscription:
    return StoredSubscription(
        id=row.id,
        departement=row.departement,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _view(row: Any) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        departement=row.departement,
        recipient_role=row.recipient_role,
        subscription_id=row.subscription_id,
        request_id=row.request_id,
        source_event_id=row.source_event_id,
        source_event_type=row.source_event_type,
        status=row.status,
        attempts=row.attempts,
        reason=row.reason,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def delivery_of(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        channel=Channel(row.channel),
        kind=Kind(row.kind),
        departement=row.departement,
        role=Role(row.recipient_role),
        endpoint=row.endpoint,
        attempts=row.attempts,
        payload=row.payload,
        address=row.address,
        subscription_id=row.subscription_id,
        url=getattr(row, "url", None),
        secret=getattr(row, "secret", None),
        source_event_id=row.source_event_id,
        source_event_type=row.source_event_type,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        created_at=row.created_at,
    )


class NotificationsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- the demandes this service heard of ---------------------------------------------
    async def lock_demande(self, request_id: UUID) -> None:
        """Serialise what concerns one demande: its submission and the events that name it
        arrive on different topics, so possibly at the same time."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"mg-notifications:{request_id}")))
        )

    async def add_demande(self, card: DemandeCard, submitted_at: datetime, now: datetime) -> bool:
        inserted = await self._session.execute(
            pg_insert(demandes)
            .values(
                request_id=card.request_id,
                departement=card.departement,
                requester_code=card.requester_code,
                requester_name=card.requester_name,
                contact_name=card.contact_name,
                contact_email=card.contact_email,
                title=card.title,
                status="open",
                correlation_id=card.correlation_id,
                submitted_at=submitted_at,
                last_news_at=now,
            )
            .on_conflict_do_nothing()
            .returning(demandes.c.request_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def demande(self, request_id: UUID) -> DemandeCard | None:
        row = (
            await self._session.execute(select(demandes).where(demandes.c.request_id == request_id))
        ).one_or_none()
        return _card(row) if row else None

    async def latest_demande_of(self, requester_code: str, departement: str) -> DemandeCard | None:
        row = (
            await self._session.execute(
                select(demandes)
                .where(
                    demandes.c.requester_code == requester_code,
                    demandes.c.departement == departement,
                )
                .order_by(demandes.c.submitted_at.desc())
                .limit(1)
            )
        ).one_or_none()
        return _card(row) if row else None

    async def record_news(self, request_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(demandes)
            .where(demandes.c.request_id == request_id, demandes.c.last_news_at < now)
            .values(last_news_at=now)
        )

    async def set_demande_status(self, request_id: UUID, status: str) -> None:
        await self._session.execute(
            update(demandes).where(demandes.c.request_id == request_id).values(status=status)
        )

    async def due_follow_ups(
        self, news_before: datetime, limit: int
    ) -> list[tuple[DemandeCard, datetime]]:
        # SKIP LOCKED: several instances scan at once without taking the same demande.
        rows = await self._session.execute(
            select(demandes)
            .where(demandes.c.status == "open", demandes.c.last_news_at <= news_before)
            .order_by(demandes.c.last_news_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(_card(r), r.last_news_at) for r in rows.all()]

    # --- proposals ---------------------------------------------------------------------
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
        inserted = await self._session.execute(
            pg_insert(proposals)
            .values(
                assignment_id=assignment_id,
                request_id=request_id,
                departement=departement,
                actor_id=actor_id,
                actor_name=actor_name,
                status="proposed",
                respond_by=respond_by,
                remind_at=remind_at,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(proposals.c.assignment_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def set_proposal_status(self, assignment_id: UUID, status: str, now: datetime) -> None:
        await self._session.execute(
            update(proposals)
            .where(proposals.c.assignment_id == assignment_id)
            .values(status=status, updated_at=now)
        )

    async def open_proposals(self, request_id: UUID) -> int:
        count = await self._session.execute(
            select(func.count()).where(
                proposals.c.request_id == request_id,
                proposals.c.status.in_(("proposed", "accepted")),
            )
        )
        return int(count.scalar_one())

    async def due_reminders(self, now: datetime, limit: int) -> list[DueProposal]:
        rows = await self._session.execute(
            select(proposals)
            .where(
                proposals.c.status == "proposed",
                proposals.c.reminded_at.is_(None),
                proposals.c.remind_at <= now,
                proposals.c.respond_by > now,
            )
            .order_by(proposals.c.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            DueProposal(
                assignment_id=r.assignment_id,
                request_id=r.request_id,
                departement=r.departement,
                actor_id=r.actor_id,
                actor_name=r.actor_name,
                respond_by=r.respond_by,
            )
            for r in rows.all()
        ]

    async def mark_reminded(self, assignment_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(proposals)
            .where(proposals.c.assignment_id == assignment_id)
            .values(reminded_at=now, updated_at=now)
        )

    # --- contacts ----------------------------------------------------------------------
    async def actor_contact(self, actor_id: str) -> tuple[str, str, str | None] | None:
        """(département, email, name) of an actor."""
        row = (
            await self._session.execute(
                select(actor_contacts).where(actor_contacts.c.actor_id == actor_id)
            )
        ).one_or_none()
        return (row.departement, row.email, row.name) if row else None

    async def save_actor_contact(
        self, actor_id: str, departement: str, email: str, name: str | None, by: str, now: datetime
    ) -> None:
        values = {"departement": departement, "email": email, "name": name}
        await self._session.execute(
            pg_insert(actor_contacts)
            .values(actor_id=actor_id, updated_at=now, updated_by=by, **values)
            .on_conflict_do_update(
                index_elements=[actor_contacts.c.actor_id],
                set_=values | {"updated_at": now, "updated_by": by},
            )
        )

    async def team_contact(self, departement: str) -> str | None:
        found = await self._session.execute(
            select(team_contacts.c.email).where(team_contacts.c.departement == departement)
        )
        return found.scalar_one_or_none()

    async def save_team_contact(self, departement: str, email: str, by: str, now: datetime) -> None:
        await self._session.execute(
            pg_insert(team_contacts)
            .values(departement=departement, email=email, updated_at=now, updated_by=by)
            .on_conflict_do_update(
                index_elements=[team_contacts.c.departement],
                set_={"email": email, "updated_at": now, "updated_by": by},
            )
        )

    async def address_known_to(
        self,
        address: str,
        *,
        departement: str | None,
        requester_code: str | None = None,
        actor_id: str | None = None,
    ) -> bool:
        """Whether ``address`` is a contact within a scope: a département (its demandes,
        actors and team), a collectivité (its demandes), an actor (itself)."""
        checks = []
        if actor_id is not None:
            checks.append(
                select(actor_contacts.c.actor_id).where(
                    actor_contacts.c.actor_id == actor_id, actor_contacts.c.email == address
                )
            )
        elif requester_code is not None:
            checks.append(
                select(demandes.c.request_id).where(
                    demandes.c.requester_code == requester_code,
                    demandes.c.departement == departement,
                    func.lower(demandes.c.contact_email) == address,
                )
            )
        else:
            checks += [
                select(demandes.c.request_id).where(
                    demandes.c.departement == departement,
                    func.lower(demandes.c.contact_email) == address,
                ),
                select(actor_contacts.c.actor_id).where(
                    actor_contacts.c.departement == departement, actor_contacts.c.email == address
                ),
                select(team_contacts.c.departement).where(
                    team_contacts.c.departement == departement, team_contacts.c.email == address
                ),
            ]
        for check in checks:
            if (await self._session.execute(check.limit(1))).first() is not None:
                return True
        return False

    # --- preferences -------------------------------------------------------------------
    async def preferences_of(self, addresses: Iterable[str]) -> dict[str, Preferences]:
        wanted = sorted({a for a in addresses if a})
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(preferences).where(preferences.c.email.in_(wanted))
        )
        return {r.email: _preferences(r) for r in rows.all()}

    async def save_preferences(
        self, email: str, chosen: Preferences, by: str, now: datetime
    ) -> None:
        values = {
            "opted_out": sorted(k.value for k in chosen.opted_out),
            "digest": chosen.digest.value,
            "updated_at": now,
            "updated_by": by,
        }
        await self._session.execute(
            pg_insert(preferences)
            .values(email=email, **values)
            .on_conflict_do_update(index_elements=[preferences.c.email], set_=values)
        )

    # --- webhook subscriptions ---------------------------------------------------------
    async def add_subscription(
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
        await self._session.execute(
            insert(webhook_subscriptions).values(
                id=subscription_id,
                departement=departement,
                url=url,
                event_types=event_types,
                secret=secret,
                description=description,
                active=True,
                created_at=now,
                created_by=by,
            )
        )
        return StoredSubscription(
            subscription_id, departement, url, event_types, description, True, now, by
        )

    async def subscription(self, subscription_id: UUID) -> StoredSubscription | None:
        row = (
            await self._session.execute(
                select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
            )
        ).one_or_none()
        return _subscription(row) if row else None

    async def list_subscriptions(self, departement: str | None) -> list[StoredSubscription]:
        query = (
            select(webhook_subscriptions)
            .where(webhook_subscriptions.c.active)
            .order_by(webhook_subscriptions.c.created_at)
        )
        if departement is not None:
            query = query.where(webhook_subscriptions.c.departement == departement)
        return [_subscription(r) for r in (await self._session.execute(query)).all()]

    async def subscriptions_for(self, departement: str) -> list[Subscription]:
        rows = await self._session.execute(
            select(
                webhook_subscriptions.c.id,
                webhook_subscriptions.c.departement,
                webhook_subscriptions.c.event_types,
            ).where(
                webhook_subscriptions.c.active,
                or_(
                    webhook_subscriptions.c.departement == departement,
                    webhook_subscriptions.c.departement.is_(None),
                ),
            )
        )
        return [
            Subscription(id=r.id, departement=r.departement, event_types=frozenset(r.event_types))
            for r in rows.all()
        ]

    async def remove_subscription(self, subscription_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(active=False, removed_at=now)
        )

    # --- deliveries --------------------------------------------------------------------
    async def add_deliveries(self, rows: list[dict[str, Any]]) -> int:
        """Insert the deliveries whose id is new; returns how many were."""
        if not rows:
            return 0
        inserted = await self._session.execute(
            pg_insert(deliveries).values(rows).on_conflict_do_nothing().returning(deliveries.c.id)
        )
        return len(inserted.all())

    async def awaiting(self, request_id: UUID) -> list[tuple[UUID, Kind, dict[str, Any]]]:
        rows = await self._session.execute(
            select(deliveries.c.id, deliveries.c.kind, deliveries.c.payload)
            .where(
                deliveries.c.request_id == request_id,
                deliveries.c.status == DeliveryStatus.AWAITING_RECIPIENT.value,
            )
            .with_for_update()
        )
        return [(r.id, Kind(r.kind), r.payload) for r in rows.all()]

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
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                address=address,
                status=status.value,
                reason=reason,
                payload=payload,
                next_attempt_at=now,
            )
        )

    async def give_up_awaiting(self, created_before: datetime) -> int:
        done = await self._session.execute(
            update(deliveries)
            .where(
                deliveries.c.status == DeliveryStatus.AWAITING_RECIPIENT.value,
                deliveries.c.created_at < created_before,
            )
            .values(status=DeliveryStatus.SKIPPED.value, reason="recipient_unknown")
            .returning(deliveries.c.id)
        )
        return len(done.all())

    async def claim(
        self, now: datetime, busy_endpoints: Iterable[str], limit: int
    ) -> list[Delivery]:
        """Due deliveries, locked until the caller's commit; others skip them."""
        query = (
            select(
                deliveries,
                webhook_subscriptions.c.url,
                webhook_subscriptions.c.secret,
                webhook_subscriptions.c.active.label("subscription_active"),
            )
            .outerjoin(
                webhook_subscriptions,
                webhook_subscriptions.c.id == deliveries.c.subscription_id,
            )
            .where(
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(of=deliveries, skip_locked=True)
        )
        busy = sorted(set(busy_endpoints))
        if busy:
            query = query.where(deliveries.c.endpoint.not_in(busy))
        rows = (await self._session.execute(query)).all()
        return [
            delivery_of(r)
            if r.subscription_id is None or r.subscription_active
            # A removed subscription: no secret, no URL; the dispatcher skips it.
            else replace(delivery_of(r), url=None, secret=None)
            for r in rows
        ]

    async def lease(self, ids: list[UUID], until: datetime, now: datetime) -> None:
        if ids:
            await self._session.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids))
                .values(next_attempt_at=until, last_attempt_at=now)
            )

    async def mark_sent(self, delivery_id: UUID, now: datetime) -> Delivery | None:
        """Record the success; None when another attempt already recorded it."""
        row = (
            await self._session.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    status=DeliveryStatus.SENT.value,
                    attempts=deliveries.c.attempts + 1,
                    sent_at=now,
                    last_error=None,
                    reason=None,
                )
                .returning(deliveries)
            )
        ).one_or_none()
        return delivery_of(row) if row else None

    async def mark_retry(
        self, delivery_id: UUID, at: datetime, error: str, reason: str
    ) -> int | None:
        row = (
            await self._session.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=at,
                    last_error=error,
                    reason=reason,
                )
                .returning(deliveries.c.attempts)
            )
        ).one_or_none()
        return row.attempts if row else None

    async def mark_final(
        self,
        delivery_id: UUID,
        status: DeliveryStatus,
        reason: str,
        error: str | None,
        *,
        count_attempt: bool = True,
    ) -> Delivery | None:
        row = (
            await self._session.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    status=status.value,
                    attempts=deliveries.c.attempts + (1 if count_attempt else 0),
                    reason=reason,
                    last_error=error,
                )
                .returning(deliveries)
            )
        ).one_or_none()
        return delivery_of(row) if row else None

    async def held_addresses(
        self, created_before: datetime, digest_source: str, limit: int
    ) -> list[str]:
        """Addresses with messages held for a digest, except those whose digest of the day
        (``digest_source``) went out already."""
        sent_today = deliveries.alias("sent_today")
        rows = await self._session.execute(
            select(deliveries.c.address)
            .where(
                deliveries.c.status == DeliveryStatus.HELD.value,
                deliveries.c.created_at < created_before,
                ~select(sent_today.c.id)
                .where(
                    sent_today.c.kind == Kind.RESUME_QUOTIDIEN.value,
                    sent_today.c.source_event_id == digest_source,
                    sent_today.c.address == deliveries.c.address,
                )
                .exists(),
            )
            .group_by(deliveries.c.address)
            .order_by(func.min(deliveries.c.created_at))
            .limit(limit)
        )
        return [r.address for r in rows.all() if r.address]

    async def take_held(self, address: str, created_before: datetime) -> list[Delivery]:
        rows = await self._session.execute(
            select(deliveries)
            .where(
                deliveries.c.status == DeliveryStatus.HELD.value,
                deliveries.c.address == address,
                deliveries.c.created_at < created_before,
            )
            .order_by(deliveries.c.created_at)
            .with_for_update(skip_locked=True)
        )
        return [delivery_of(r) for r in rows.all()]

    async def mark_digested(self, ids: list[UUID], digest_id: UUID) -> None:
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(status=DeliveryStatus.DIGESTED.value, digest_id=digest_id)
        )

    async def search(
        self,
        *,
        departement: str | None,
        status: str | None,
        kind: str | None,
        subscription_id: UUID | None,
        limit: int,
        offset: int,
    ) -> list[DeliveryView]:
        conditions = []
        if departement is not None:
            conditions.append(deliveries.c.departement == departement)
        if status is not None:
            conditions.append(deliveries.c.status == status)
        if kind is not None:
            conditions.append(deliveries.c.kind == kind)
        if subscription_id is not None:
            conditions.append(deliveries.c.subscription_id == subscription_id)
        rows = await self._session.execute(
            select(deliveries)
            .where(and_(*conditions))
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_view(r) for r in rows.all()]

    async def delivery(self, delivery_id: UUID) -> DeliveryView | None:
        row = (
            await self._session.execute(select(deliveries).where(deliveries.c.id == delivery_id))
        ).one_or_none()
        return _view(row) if row else None

    async def retry_dead_letter(self, delivery_id: UUID, now: datetime) -> bool:
        done = await self._session.execute(
            update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.status == DeliveryStatus.DEAD_LETTERED.value,
            )
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, attempts=0)
            .returning(deliveries.c.id)
        )
        return done.first() is not None
