"""A mission's milestones, deliverables (their description) and hand-overs in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import deliverables, milestones, mission_handovers
from services.matching.domain.deliverables import Deliverable
from services.matching.domain.missions import Handover, Milestone, MilestoneStatus


def _milestone(row: Any) -> Milestone:
    return Milestone(
        id=row.id,
        assignment_id=row.assignment_id,
        departement=row.departement,
        position=row.position,
        title=row.title,
        due_on=row.due_on,
        status=MilestoneStatus(row.status),
        done_at=row.done_at,
        done_by=row.done_by,
        note=row.note,
    )


class SqlMilestoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, m: Milestone) -> None:
        await self._session.execute(
            insert(milestones).values(
                id=m.id,
                assignment_id=m.assignment_id,
                departement=m.departement,
                position=m.position,
                title=m.title,
                due_on=m.due_on,
                status=m.status.value,
            )
        )

    async def save(self, m: Milestone) -> None:
        await self._session.execute(
            update(milestones)
            .where(milestones.c.id == m.id)
            .values(
                title=m.title,
                due_on=m.due_on,
                status=m.status.value,
                done_at=m.done_at,
                done_by=m.done_by,
                note=m.note,
            )
        )

    async def get(self, milestone_id: UUID, *, lock: bool = False) -> Milestone | None:
        query = select(milestones).where(milestones.c.id == milestone_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _milestone(row) if row else None

    async def of_mission(self, assignment_id: UUID) -> list[Milestone]:
        rows = await self._session.execute(
            select(milestones)
            .where(milestones.c.assignment_id == assignment_id)
            .order_by(milestones.c.position)
        )
        return [_milestone(r) for r in rows.all()]


class SqlDeliverableRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, d: Deliverable) -> None:
        await self._session.execute(
            insert(deliverables).values(
                id=d.id,
                assignment_id=d.assignment_id,
                milestone_id=d.milestone_id,
                departement=d.departement,
                name=d.name,
                content_type=d.content_type,
                size=d.size,
                sha256=d.sha256,
                added_at=d.added_at,
                added_by=d.added_by,
            )
        )

    async def get(self, deliverable_id: UUID) -> Deliverable | None:
        row = (
            await self._session.execute(
                select(deliverables).where(deliverables.c.id == deliverable_id)
            )
        ).one_or_none()
        return Deliverable(**row._asdict()) if row else None

    async def of_mission(self, assignment_id: UUID) -> list[Deliverable]:
        rows = await self._session.execute(
            select(deliverables)
            .where(deliverables.c.assignment_id == assignment_id)
            .order_by(deliverables.c.added_at, deliverables.c.id)
        )
        return [Deliverable(**r._asdict()) for r in rows.all()]


class SqlHandoverRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, h: Handover) -> None:
        await self._session.execute(
            insert(mission_handovers).values(
                id=h.id,
                assignment_id=h.assignment_id,
                departement=h.departement,
                from_agent=h.from_agent,
                to_agent=h.to_agent,
                reason=h.reason,
                by=h.by,
                at=h.at,
            )
        )

    async def of_mission(self, assignment_id: UUID) -> list[Handover]:
        rows = await self._session.execute(
            select(mission_handovers)
            .where(mission_handovers.c.assignment_id == assignment_id)
            .order_by(mission_handovers.c.at, mission_handovers.c.id)
        )
        return [Handover(**r._asdict()) for r in rows.all()]
