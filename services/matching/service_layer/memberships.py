"""Use cases of matching's projection of billing's adhésions: apply each event as it
comes, or rebuild the whole projection from the topic's history.

Applying an event is idempotent by nature (keyed on the adhésion id, a registration never
undoes an end), so a rebuild may replay what the live subscriber also applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable

from services.matching.domain.membership import Membership
from services.matching.service_layer.ports import UnitOfWork
from shared.contracts.base import EventPayload
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered


async def apply(uow: UnitOfWork, event: EventPayload) -> None:
    """Take one adhésion event into the projection; other types change nothing."""
    match event:
        case AdhesionRegistered():
            await uow.memberships.register(
                Membership(
                    adhesion_id=event.adhesion_id,
                    departement=event.departement,
                    collectivite_code=event.collectivite_code,
                    collectivite_kind=event.collectivite_kind,
                    year=event.year,
                    registered_at=event.registered_at,
                )
            )
        case AdhesionEnded():
            await uow.memberships.end(event.adhesion_id, event.ended_at)


async def rebuild(
    uow: UnitOfWork,
    history: AsyncIterable[Iterable[EventPayload]],
    progress: Callable[[int], None] = lambda applied: None,
) -> int:
    """Forget the projection and apply ``history`` (batches of the topic's events, from
    offset 0), all in one transaction: routing reads the old projection until the new
    one is whole. Returns the number of adhésions held afterwards."""
    async with uow:
        await uow.memberships.clear()
        applied = 0
        async for batch in history:
            for event in batch:
                await apply(uow, event)
                applied += 1
            progress(applied)
        held = await uow.memberships.count()
        await uow.commit()
    return held
