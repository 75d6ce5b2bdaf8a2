"""Assignments (proposals, then missions) in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import assignments, needs_from_json, needs_to_json
from services.matching.domain.lifecycle import Assignment, AssignmentFilter, AssignmentStatus
from services.matching.domain.model import Criteria


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
        agent=row.agent,
    )


class SqlAssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, a: Assignment) -> None:
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

    async def save(self, a: Assignment) -> None:
        await self._session.execute(
            update(assignments)
            .where(assignments.c.id == a.id)
            .values(
                status=a.status.value,
                responded_at=a.responded_at,
                completed_at=a.completed_at,
                days_spent=a.days_spent,
                note=a.note,
                agent=a.agent,
            )
        )

    async def get(self, assignment_id: UUID, *, lock: bool = False) -> Assignment | None:
        query = select(assignments).where(assignments.c.id == assignment_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _assignment_from_row(row) if row else None

    async def of_request(self, request_id: UUID) -> list[Assignment]:
        rows = await self._session.execute(
            select(assignments)
            .where(assignments.c.request_id == request_id)
            .order_by(assignments.c.proposed_at, assignments.c.id)
        )
        return [_assignment_from_row(r) for r in rows.all()]

    async def search(
        self, criteria: AssignmentFilter, *, limit: int, offset: int
    ) -> list[Assignment]:
        query = select(assignments).order_by(assignments.c.proposed_at.desc(), assignments.c.id)
        if criteria.departement is not None:
            query = query.where(assignments.c.departement == criteria.departement)
        if criteria.actor_id is not None:
            query = query.where(assignments.c.actor_id == criteria.actor_id)
        if criteria.status is not None:
            query = query.where(assignments.c.status == criteria.status.value)
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

    async def in_charge_of(self, actor_id: str, agent: str) -> list[Assignment]:
        """The missions under way of one agent of an actor, locked for a hand-over."""
        rows = await self._session.execute(
            select(assignments)
            .where(
                assignments.c.actor_id == actor_id,
                assignments.c.agent == agent,
                assignments.c.status == AssignmentStatus.ACCEPTED.value,
            )
            .order_by(assignments.c.responded_at, assignments.c.id)
            .with_for_update()
        )
        return [_assignment_from_row(r) for r in rows.all()]
