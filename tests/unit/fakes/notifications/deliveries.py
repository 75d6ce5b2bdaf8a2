"""The fake repositories of deliveries: their claims and outcomes, and the daily digests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifications.domain.model import (
    Delivery,
    DeliveryStatus,
    Kind,
    NewDelivery,
)
from services.notifications.domain.views import (
    DeliveryFilter,
    DeliveryView,
)
from tests.unit.fakes.notifications.tables import DeliveryRow, Tables


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
