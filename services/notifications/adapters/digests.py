"""The messages held for their recipients' daily digest."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.deliveries import delivery_of
from services.notifications.adapters.orm import deliveries
from services.notifications.domain.model import Delivery, DeliveryStatus, Kind


class SqlDigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def held_addresses(
        self, created_before: datetime, digest_source: str, limit: int
    ) -> list[str]:
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
