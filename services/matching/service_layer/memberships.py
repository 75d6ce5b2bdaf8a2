"""Use cases of matching's projection of billing's adhésions: apply each event as it
comes, or rebuild the whole projection from the topic's history.

Applying an event is idempotent by nature (keyed on the adhésion id, a registration never
undoes an end), so a rebuild may replay what the live subscriber also applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable

from services.matching.domain.membership import Membership
from services.matching.service_layer.ports import UnitOfWork
from services.matching.service_layer.scopes import scope_departement
from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventPayload
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.errors import Forbidden


async def apply(uow: UnitOfWork, events: Iterable[EventPayload]) -> None:
    """Take adhésion events into the projection, in their order; other types change
    nothing. Registrations go in together, up to the next end."""
    registered: list[Membership] = []
    for event in events:
        match event:
            case AdhesionRegistered():
                registered.append(
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
                await uow.memberships.register(registered)
                registered = []
                await uow.memberships.end(event.adhesion_id, event.ended_at)
    await uow.memberships.register(registered)


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
            events = list(batch)
            await apply(uow, events)
            applied += len(events)
            progress(applied)
        held = await uow.memberships.count()
        await uow.commit()
    return held


async def count_members(
    uow: UnitOfWork, principal: Principal, departement: str | None, year: int | None
) -> int:
    """How many adhésions matching knows of, for a département's team: what routing sees."""
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    return await uow.memberships.count(scope_departement(principal, departement), year)
