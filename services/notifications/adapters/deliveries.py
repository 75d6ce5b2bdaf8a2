"""The deliveries: one row per message, recipient and channel, from its recording to
its last attempt. The dispatcher claims the due ones here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.orm import deliveries, webhook_subscriptions
from services.notifications.domain.model import (
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    NewDelivery,
    Role,
)
from services.notifications.domain.views import DeliveryFilter, DeliveryView


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


def _values(new: NewDelivery) -> dict[str, Any]:
    return {
        "id": new.id,
        "channel": new.channel.value,
        "kind": new.kind.value,
        "departement": new.departement,
        "recipient_role": new.role.value,
        "recipient": new.recipient,
        "address": new.address,
        "subscription_id": new.subscription_id,
        "endpoint": new.endpoint,
        "request_id": new.request_id,
        "payload": new.payload,
        "source_event_id": new.source_event_id,
        "source_event_type": new.source_event_type,
        "correlation_id": new.correlation_id,
        "causation_id": new.causation_id,
        "status": new.status.value,
        "attempts": 0,
        "next_attempt_at": new.created_at,
        "reason": new.reason,
        "created_at": new.created_at,
    }


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


class SqlDeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Whether this transaction made a delivery due now: its unit of work then wakes
        # the dispatcher on commit rather than leaving it to the next poll.
        self.made_due = False

    async def add(self, new: list[NewDelivery]) -> int:
        if not new:
            return 0
        inserted = await self._session.execute(
            pg_insert(deliveries)
            .values([_values(d) for d in new])
            .on_conflict_do_nothing()
            .returning(deliveries.c.id)
        )
        ids = set(inserted.scalars().all())
        if any(d.id in ids and d.status is DeliveryStatus.PENDING for d in new):
            self.made_due = True
        return len(ids)

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
        self.made_due = self.made_due or status is DeliveryStatus.PENDING

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

    async def _update_pending(self, delivery_id: UUID, returning: Any, **values: Any) -> Any | None:
        """Update a delivery still pending; None when another attempt recorded it already."""
        return (
            await self._session.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.PENDING.value,
                )
                .values(**values)
                .returning(returning)
            )
        ).one_or_none()

    async def mark_sent(self, delivery_id: UUID, now: datetime) -> Delivery | None:
        row = await self._update_pending(
            delivery_id,
            deliveries,
            status=DeliveryStatus.SENT.value,
            attempts=deliveries.c.attempts + 1,
            sent_at=now,
            last_error=None,
            reason=None,
        )
        return delivery_of(row) if row else None

    async def mark_retry(
        self, delivery_id: UUID, at: datetime, error: str, reason: str
    ) -> int | None:
        row = await self._update_pending(
            delivery_id,
            deliveries.c.attempts,
            attempts=deliveries.c.attempts + 1,
            next_attempt_at=at,
            last_error=error,
            reason=reason,
        )
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
        row = await self._update_pending(
            delivery_id,
            deliveries,
            status=status.value,
            attempts=deliveries.c.attempts + (1 if count_attempt else 0),
            reason=reason,
            last_error=error,
        )
        return delivery_of(row) if row else None

    async def search(
        self, criteria: DeliveryFilter, *, limit: int, offset: int
    ) -> list[DeliveryView]:
        conditions = []
        if criteria.departement is not None:
            conditions.append(deliveries.c.departement == criteria.departement)
        if criteria.status is not None:
            conditions.append(deliveries.c.status == criteria.status)
        if criteria.kind is not None:
            conditions.append(deliveries.c.kind == criteria.kind)
        if criteria.subscription_id is not None:
            conditions.append(deliveries.c.subscription_id == criteria.subscription_id)
        rows = await self._session.execute(
            select(deliveries)
            .where(and_(*conditions))
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_view(r) for r in rows.all()]

    async def view(self, delivery_id: UUID) -> DeliveryView | None:
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
        retried = done.first() is not None
        self.made_due = self.made_due or retried
        return retried
