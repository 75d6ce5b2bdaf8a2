"""Use cases of the activity reports: record the facts that events bring, rebuild the
projection from offset 0, compute a département's report for a period."""

from __future__ import annotations

from collections.abc import Iterable

from services.resources.domain.report_facts import COUNTED_EVENTS, Fact, fact_of
from services.resources.domain.report_figures import ActivityReport, Period, compute
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventPayload
from shared.errors import Forbidden
from shared.refdata import Territories

# What the reports count, by topic: the live subscribers and the rebuild read these.
REPORTED_EVENTS: dict[str, tuple[type[EventPayload], ...]] = {
    topic: tuple(m for m in COUNTED_EVENTS if m.topic == topic)
    for topic in dict.fromkeys(m.topic for m in COUNTED_EVENTS)
}


async def record(
    uow: UnitOfWork, event_id: str, payload: EventPayload, territories: Territories
) -> bool:
    """Add the event's fact to the projection, in the caller's transaction (the consumer
    commits it with the event's inbox row). False when the event counts for nothing or
    was recorded before."""
    fact = fact_of(event_id, payload, territories)
    if fact is None:
        return False
    return await uow.report_facts.add([fact]) == 1


async def reset(uow: UnitOfWork, departement: str | None = None) -> int:
    """Empty the projection, or one département's part of it; returns how many facts it
    held."""
    cleared = await uow.report_facts.clear(departement)
    await uow.commit()
    return cleared


async def replay(
    uow: UnitOfWork,
    events: Iterable[tuple[str, EventPayload]],
    territories: Territories,
    departement: str | None = None,
) -> int:
    """Add the facts of replayed events (a batch read from offset 0), of ``departement``
    only when given; returns how many were new. A fact the live subscriber added
    meanwhile is kept once."""
    facts: list[Fact] = [
        fact
        for event_id, payload in events
        if (fact := fact_of(event_id, payload, territories))
        and departement in (None, fact.departement)
    ]
    added = await uow.report_facts.add(facts)
    await uow.commit()
    return added


def ensure_can_report(principal: Principal, departement: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.DEPARTEMENT:
        raise Forbidden("Les rapports d'activité sont réservés aux équipes des départements.")
    if principal.departement != departement:
        raise Forbidden("Vous ne pouvez consulter que le rapport de votre département.")


async def activity_report(
    uow: UnitOfWork, principal: Principal, period: Period, territories: Territories
) -> ActivityReport:
    ensure_can_report(principal, period.departement)
    facts = await uow.report_facts.of_departement(period.departement)
    return compute(facts, period, territories)
