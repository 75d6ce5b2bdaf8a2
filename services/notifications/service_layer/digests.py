"""Daily digests: what a recipient chose to receive once a day, gathered into one
message, once a day, from the configured hour (Paris time)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.recording import Source, emails
from shared.french import PARIS


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
    planned = rules.digest(address, held[0].role, day, [(d.kind, d.payload) for d in held])
    source = Source(rules.digest_source(day), "notifications.digest", held[0].departement)
    [digest] = await emails(uow, [planned], source, now)
    if not await uow.deliveries.add([digest]):
        # Today's digest went out already: these wait for tomorrow's.
        return None
    await uow.digests.mark_digested([d.id for d in held], digest.id)
    await uow.commit()
    return digest.id
