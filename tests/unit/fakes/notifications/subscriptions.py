"""The fake repository of webhook subscriptions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.notifications.domain.rules import Subscription
from services.notifications.domain.views import (
    StoredSubscription,
)
from tests.unit.fakes.notifications.tables import Tables


class FakeSubscriptionRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, subscription: StoredSubscription, secret: str) -> None:
        self._t.subscriptions[subscription.id] = (replace(subscription), secret)

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
