"""Webhook subscriptions: who wants which events, signed with which secret."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.orm import webhook_subscriptions
from services.notifications.domain.rules import Subscription
from services.notifications.domain.views import StoredSubscription
from shared.secret_box import SecretBox


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


class SqlSubscriptionRepository:
    def __init__(self, session: AsyncSession, secret_box: SecretBox) -> None:
        self._session = session
        self._box = secret_box

    async def add(self, subscription: StoredSubscription, secret: str) -> None:
        # Sealed at rest (ADR 0021); the webhook sender opens it to sign.
        sealed = self._box.seal(secret)
        await self._session.execute(
            insert(webhook_subscriptions).values(**asdict(subscription), secret=sealed)
        )

    async def get(self, subscription_id: UUID) -> StoredSubscription | None:
        row = (
            await self._session.execute(
                select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
            )
        ).one_or_none()
        return _subscription(row) if row else None

    async def active(self, departement: str | None) -> list[StoredSubscription]:
        query = (
            select(webhook_subscriptions)
            .where(webhook_subscriptions.c.active)
            .order_by(webhook_subscriptions.c.created_at)
        )
        if departement is not None:
            query = query.where(webhook_subscriptions.c.departement == departement)
        return [_subscription(r) for r in (await self._session.execute(query)).all()]

    async def for_departement(self, departement: str) -> list[Subscription]:
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

    async def remove(self, subscription_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(active=False, removed_at=now)
        )
