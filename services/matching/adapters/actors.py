"""The actor catalogue in PostgreSQL, and what the open assignments say of each actor."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import actors, assignments
from services.matching.domain.catalogue import actor_to_dict
from services.matching.domain.lifecycle import OPEN_STATUSES, AssignmentStatus
from services.matching.domain.model import (
    Actor,
    ActorKind,
    ActorState,
    Eligibility,
    Expertise,
    Territory,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme


def actor_from_row(row: Any) -> Actor:
    e, t = row.eligibility, row.territory
    return Actor(
        id=row.id,
        departement=row.departement,
        name=row.name,
        kind=ActorKind(row.kind),
        themes={Theme(k): Expertise(v) for k, v in row.themes.items()},
        phases=frozenset(Phase(p) for p in row.phases),
        territory=Territory(
            departements=frozenset(t["departements"]),
            epcis=frozenset(t["epcis"]),
            communes=frozenset(t["communes"]),
        ),
        capacity=row.capacity,
        eligibility=Eligibility(
            min_population=e["min_population"],
            max_population=e["max_population"],
            members_only=e["members_only"],
            requester_kinds=frozenset(RequesterKind(k) for k in e["requester_kinds"]),
        ),
        active=row.active,
    )


class SqlActorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, actor: Actor, now: datetime) -> tuple[int, bool]:
        """Store the actor; returns its new version and whether it is new."""
        current = (
            await self._session.execute(
                select(actors.c.version).where(actors.c.id == actor.id).with_for_update()
            )
        ).scalar_one_or_none()
        version = (current or 0) + 1
        # The row holds the catalogue entry itself, so what is stored is what GET returns.
        row = actor_to_dict(actor) | {"version": version, "updated_at": now}
        statement = pg_insert(actors).values(**row)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=[actors.c.id], set_=row)
        )
        return version, current is None

    async def get(self, actor_id: str) -> Actor | None:
        row = (
            await self._session.execute(select(actors).where(actors.c.id == actor_id))
        ).one_or_none()
        return actor_from_row(row) if row else None

    async def of_departement(self, departement: str | None, *, lock: bool = False) -> list[Actor]:
        query = select(actors).order_by(actors.c.id)
        if departement is not None:
            query = query.where(actors.c.departement == departement)
        if lock:
            # Serialises the decisions of one département's offer between instances.
            query = query.with_for_update()
        return [actor_from_row(r) for r in (await self._session.execute(query)).all()]

    async def states(self, actor_ids: list[str], requester_code: str) -> dict[str, ActorState]:
        loads = Counter[str]()
        rows = await self._session.execute(
            select(assignments.c.actor_id, func.count())
            .where(
                assignments.c.actor_id.in_(actor_ids),
                assignments.c.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .group_by(assignments.c.actor_id)
        )
        for actor_id, count in rows.all():
            loads[actor_id] = int(count)
        worked = set(
            (
                await self._session.execute(
                    select(assignments.c.actor_id)
                    .where(
                        assignments.c.actor_id.in_(actor_ids),
                        assignments.c.requester_code == requester_code,
                        assignments.c.status.in_(
                            [AssignmentStatus.ACCEPTED.value, AssignmentStatus.COMPLETED.value]
                        ),
                    )
                    .distinct()
                )
            ).scalars()
        )
        return {
            a: ActorState(
                load=loads[a],
                collectivites=frozenset({requester_code}) if a in worked else frozenset(),
            )
            for a in actor_ids
        }
