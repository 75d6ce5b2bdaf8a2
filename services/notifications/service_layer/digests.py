"""Daily digests: what a recipient chose to receive once a day, gathered into one
message, once a day, from the configured hour (Paris time)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.model import (
    Channel,
    DeliveryStatus,
    Kind,
    NewDelivery,
    email_endpoint,
    notification_id,
)
from services.notifications.service_layer.ports import UnitOfWork
from shared.french import PARIS, long_date


def digest_due(settings: NotificationSettings, now: datetime) -> bool:
    return now.astimezone(PARIS).hour >= settings.digest_hour


async def digest_addresses(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[str]:
    day = now.astimezone(PARIS).date()
    return await uow.digests.held_addresses(now, rules.digest_source(day), limit)


async def send_digest(uow: UnitOfWork, address: str, now: datetime) -> UUID | None:
    """Gather what ``address`` has waiting into today's one digest; None if nothing to do."""
    day = now.astimezone(PARIS).date()
    held = await uow.digests.take_held(address, now)
    if not held:
        return None
    source = rules.digest_source(day)
    recipient = rules.digest_recipient(address)
    digest_id = notification_id(source, recipient, Channel.EMAIL)
    first = held[0]
    recorded = await uow.deliveries.add(
        [
            NewDelivery(
                id=digest_id,
                channel=Channel.EMAIL,
                kind=Kind.RESUME_QUOTIDIEN,
                departement=first.departement,
                role=first.role,
                recipient=recipient,
                address=address,
                endpoint=email_endpoint(),
                payload={
                    "date": long_date(day),
                    "items": [{"kind": d.kind.value, "context": d.payload} for d in held],
                },
                source_event_id=source,
                source_event_type="notifications.digest",
                status=DeliveryStatus.PENDING,
                created_at=now,
            )
        ]
    )
    if not recorded:
        # Today's digest went out already: these wait for tomorrow's.
        return None
    await uow.digests.mark_digested([d.id for d in held], digest_id)
    await uow.commit()
    return digest_id
