"""The matching database: actors, routed demandes, assignments."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import actors, assignments, routed_demandes
from services.matching.domain.lifecycle import OPEN_STATUSES, Assignment, AssignmentStatus
from services.matching.domain.model import (
    Actor,
    ActorKind,
    ActorState,
    Criteria,
    Eligibility,
    Expertise,
    Need,
    Territory,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme


@dataclass(slots=True)
class RoutedDemande:
    request_id: UUID
    departement: str
    requester_kind: RequesterKind
    requester_code: str
    requester_population: int
    needs: tuple[Need, ...]
    status: str
    uncovered: tuple[Need, ...]
    summary: str
    correlation_id: str | None
    received_at: datetime
    updated_at: datetime


def needs_to_json(needs: tuple[Need, ...] | list[Need]) -> list[dict[str, str]]:
    return [{"theme": n.theme.value, "phase": n.phase.value} for n in needs]


def needs_from_json(raw: list[dict[str, str]]) -> tuple[Need, ...]:
    return tuple(Need(Theme(n["theme"]), Phase(n["phase"])) for n in raw)


def actor_row(actor: Actor, version: int, now: datetime) -> dict[str, Any]:
    e = actor.eligibility
    return {
        "id": actor.id,
        "departement": actor.departement,
        "name": actor.name,
        "kind": actor.kind.value,
        "themes": {t.value: int(level) for t, level in sorted(actor.themes.items())},
        "phases": sorted(p.value for p in actor.phases),
        "territory": {
            "departements": sorted(actor.territory.departements),
            "epcis": sorted(actor.territory.epcis),
            "communes": sorted(actor.territory.communes),
        },
        "capacity": actor.capacity,
        "eligibility": {
            "min_population": e.min_population,
            "max_population": e.max_population,
            "members_only": e.members_only,
            "requester_kinds": sorted(k.value for k in e.requester_kinds),
        },
        "active": actor.active,
        "version": version,
        "updated_at": now,
    }


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


def _assignment_from_row(row: Any) -> Assignment:
    c = row.criteria
    return Assignment(
        id=row.id,
        request_id=row.request_id,
        departement=row.departement,
        actor_id=row.actor_id,
        requester_code=row.requester_code,
        needs=needs_from_json(row.needs),
        lead=row.lead,
        round=row.round,
        status=AssignmentStatus(row.status),
        criteria=Criteria(
            c["coverage"], c["expertise"], c["load"], c["continuity"], c["locality"], c["score"]
        ),
        reasons=row.reasons,
        proposed_at=row.proposed_at,
        respond_by=row.respond_by,
        responded_at=row.responded_at,
        completed_at=row.completed_at,
        days_spent=row.days_spent,
        note=row.note,
    )


def _demande_from_row(row: Any) -> RoutedDemande:
    return RoutedDemande(
        request_id=row.request_id,
        departement=row.departement,
        requester_kind=RequesterKind(row.requester_kind),
        requester_code=row.requester_code,
        requester_population=row.requester_population,
        needs=needs_from_json(row.needs),
        status=row.status,
        uncovered=needs_from_json(row.uncovered),
        summary=row.summary,
        correlation_id=row.correlation_id,
        received_at=row.received_at,
        updated_at=row.updated_at,
    )


class MatchingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- actors -------------------------------------------------------------------
    async def upsert_actor(self, actor: Actor, now: datetime) -> tuple[int, bool]:
        """Store the actor; returns its new version and whether it is new."""
        current = (
            await self._session.execute(
                select(actors.c.version).where(actors.c.id == actor.id).with_for_update()
            )
        ).scalar_one_or_none()
        version = (current or 0) + 1
        row = actor_row(actor, version, now)
        statement = pg_insert(actors).values(**row)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=[actors.c.id], set_=row)
        )
        return version, current is None

    async def actor(self, actor_id: str) -> Actor | None:
        row = (
            await self._session.execute(select(actors).where(actors.c.id == actor_id))
        ).one_or_none()
        return actor_from_row(row) if row else None

    async def actors_of(self, departement: str | None, *, lock: bool = False) -> list[Actor]:
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

    async def load_of(self, actor_id: str) -> int:
        return int(
            (
                await self._session.execute(
                    select(func.count()).where(
                        assignments.c.actor_id == actor_id,
                        assignments.c.status.in_([s.value for s in OPEN_STATUSES]),
                    )
                )
            ).scalar_one()
        )

    # --- demandes -----------------------------------------------------------------
    async def add_demande(self, demande: RoutedDemande) -> bool:
        """False when the demande was routed before (a business-key guard)."""
        result = await self._session.execute(
            pg_insert(routed_demandes)
            .values(
                request_id=demande.request_id,
                departement=demande.departement,
                requester_kind=demande.requester_kind.value,
                requester_code=demande.requester_code,
                requester_population=demande.requester_population,
                needs=needs_to_json(demande.needs),
                status=demande.status,
                uncovered=needs_to_json(demande.uncovered),
                summary=demande.summary,
                correlation_id=demande.correlation_id,
                received_at=demande.received_at,
                updated_at=demande.updated_at,
            )
            .on_conflict_do_nothing(index_elements=[routed_demandes.c.request_id])
            .returning(routed_demandes.c.request_id)
        )
        return result.scalar_one_or_none() is not None

    async def demande(self, request_id: UUID, *, lock: bool = False) -> RoutedDemande | None:
        query = select(routed_demandes).where(routed_demandes.c.request_id == request_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _demande_from_row(row) if row else None

    async def save_demande(self, demande: RoutedDemande) -> None:
        await self._session.execute(
            update(routed_demandes)
            .where(routed_demandes.c.request_id == demande.request_id)
            .values(
                status=demande.status,
                uncovered=needs_to_json(demande.uncovered),
                summary=demande.summary,
                updated_at=demande.updated_at,
            )
        )

    async def unmatched(
        self, departement: str | None, limit: int, offset: int
    ) -> list[RoutedDemande]:
        query = (
            select(routed_demandes)
            .where(routed_demandes.c.status == "unmatched")
            .order_by(routed_demandes.c.updated_at.desc())
            .limit(limit)
            .offset(offset)
        )
        if departement is not None:
            query = query.where(routed_demandes.c.departement == departement)
        return [_demande_from_row(r) for r in (await self._session.execute(query)).all()]

    # --- assignments --------------------------------------------------------------
    async def add_assignment(self, a: Assignment) -> None:
        await self._session.execute(
            insert(assignments).values(
                id=a.id,
                request_id=a.request_id,
                departement=a.departement,
                actor_id=a.actor_id,
                requester_code=a.requester_code,
                needs=needs_to_json(a.needs),
                lead=a.lead,
                round=a.round,
                status=a.status.value,
                criteria={
                    "coverage": a.criteria.coverage,
                    "expertise": a.criteria.expertise,
                    "load": a.criteria.load,
                    "continuity": a.criteria.continuity,
                    "locality": a.criteria.locality,
                    "score": a.criteria.score,
                },
                reasons=a.reasons,
                proposed_at=a.proposed_at,
                respond_by=a.respond_by,
            )
        )

    async def save_assignment(self, a: Assignment) -> None:
        await self._session.execute(
            update(assignments)
            .where(assignments.c.id == a.id)
            .values(
                status=a.status.value,
                responded_at=a.responded_at,
                completed_at=a.completed_at,
                days_spent=a.days_spent,
                note=a.note,
            )
        )

    async def assignment(self, assignment_id: UUID, *, lock: bool = False) -> Assignment | None:
        query = select(assignments).where(assignments.c.id == assignment_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _assignment_from_row(row) if row else None

    async def assignments_of(self, request_id: UUID) -> list[Assignment]:
        rows = await self._session.execute(
            select(assignments)
            .where(assignments.c.request_id == request_id)
            .order_by(assignments.c.proposed_at, assignments.c.id)
        )
        return [_assignment_from_row(r) for r in rows.all()]

    async def search_assignments(
        self,
        *,
        departement: str | None,
        actor_id: str | None,
        status: AssignmentStatus | None,
        limit: int,
        offset: int,
    ) -> list[Assignment]:
        query = select(assignments).order_by(assignments.c.proposed_at.desc(), assignments.c.id)
        if departement is not None:
            query = query.where(assignments.c.departement == departement)
        if actor_id is not None:
            query = query.where(assignments.c.actor_id == actor_id)
        if status is not None:
            query = query.where(assignments.c.status == status.value)
        rows = await self._session.execute(query.limit(limit).offset(offset))
        return [_assignment_from_row(r) for r in rows.all()]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Assignment]:
        """Open proposals past their deadline, locked; other instances skip them."""
        rows = await self._session.execute(
            select(assignments)
            .where(
                assignments.c.status == AssignmentStatus.PROPOSED.value,
                assignments.c.respond_by < now,
            )
            .order_by(assignments.c.respond_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_assignment_from_row(r) for r in rows.all()]
