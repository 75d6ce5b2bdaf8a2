"""Demandes in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.requests.adapters.orm import demande_assignments, demandes, projects
from services.requests.domain.model import ContactPerson, Demande, DemandeFilter, RequestStatus
from services.requests.domain.progress import AssignmentView
from services.requests.domain.project import Project
from shared.contracts.vocabulary import Phase, RequesterKind, Theme


def _row_values(d: Demande) -> dict[str, Any]:
    return {
        "id": d.id,
        "departement": d.departement,
        "requester_kind": d.requester_kind.value,
        "requester_code": d.requester_code,
        "requester_name": d.requester_name,
        "requester_population": d.requester_population,
        "contact": {
            "name": d.contact.name,
            "email": d.contact.email,
            "phone": d.contact.phone,
            "role": d.contact.role,
        },
        "title": d.title,
        "description": d.description,
        "themes": [t.value for t in d.themes],
        "phase": d.phase.value,
        "estimated_budget": d.estimated_budget,
        "wished_start": d.wished_start,
        "wished_end": d.wished_end,
        "channel": d.channel,
        "submitted_by": d.submitted_by,
        "submitted_at": d.submitted_at,
        "status": d.status.value,
        "status_changed_at": d.status_changed_at,
        "status_detail": d.status_detail,
        "withdrawn_reason": d.withdrawn_reason,
        "correlation_id": d.correlation_id,
        "project_id": d.project_id,
        "phase_number": d.phase_number,
        "previous_demande_id": d.previous_demande_id,
        "carried_deliverables": d.carried_deliverables,
        "deliverables": d.deliverables,
        "suspected_duplicate_of": d.suspected_duplicate_of,
    }


def _from_row(row: Any) -> Demande:
    contact = row.contact
    return Demande(
        id=row.id,
        departement=row.departement,
        requester_kind=RequesterKind(row.requester_kind),
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        requester_population=row.requester_population,
        contact=ContactPerson(
            name=contact["name"],
            email=contact["email"],
            phone=contact.get("phone"),
            role=contact.get("role"),
        ),
        title=row.title,
        description=row.description,
        themes=[Theme(t) for t in row.themes],
        phase=Phase(row.phase),
        estimated_budget=row.estimated_budget,
        wished_start=row.wished_start,
        wished_end=row.wished_end,
        channel=row.channel,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        status=RequestStatus(row.status),
        status_changed_at=row.status_changed_at,
        status_detail=row.status_detail,
        withdrawn_reason=row.withdrawn_reason,
        correlation_id=row.correlation_id,
        project_id=row.project_id,
        phase_number=row.phase_number,
        previous_demande_id=row.previous_demande_id,
        carried_deliverables=list(row.carried_deliverables),
        deliverables=list(row.deliverables),
        suspected_duplicate_of=list(row.suspected_duplicate_of),
    )


# Demandes whose phase is still under way: those a new one may duplicate.
OPEN_STATUSES = [
    RequestStatus.SUBMITTED.value,
    RequestStatus.PROPOSED.value,
    RequestStatus.IN_PROGRESS.value,
]


class SqlDemandeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, demande: Demande) -> bool:
        # ON CONFLICT waits for a concurrent insert of the same id, then stores nothing.
        result = await self._session.execute(
            pg_insert(demandes)
            .values(**_row_values(demande))
            .on_conflict_do_nothing(index_elements=[demandes.c.id])
            .returning(demandes.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def get(self, demande_id: UUID, *, for_update: bool = False) -> Demande | None:
        query = select(demandes).where(demandes.c.id == demande_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _from_row(row) if row is not None else None

    async def save_status(self, demande: Demande) -> None:
        await self._session.execute(
            update(demandes)
            .where(demandes.c.id == demande.id)
            .values(
                status=demande.status.value,
                status_changed_at=demande.status_changed_at,
                status_detail=demande.status_detail,
                withdrawn_reason=demande.withdrawn_reason,
            )
        )

    async def search(
        self, criteria: DemandeFilter, *, limit: int, offset: int
    ) -> tuple[list[Demande], int]:
        conditions = []
        if criteria.departement is not None:
            conditions.append(demandes.c.departement == criteria.departement)
        if criteria.requester_code is not None:
            conditions.append(demandes.c.requester_code == criteria.requester_code)
        if criteria.status is not None:
            conditions.append(demandes.c.status == criteria.status.value)
        if criteria.theme is not None:
            conditions.append(demandes.c.themes.contains([criteria.theme.value]))
        total = (
            await self._session.execute(
                select(func.count()).select_from(demandes).where(*conditions)
            )
        ).scalar_one()
        rows = (
            await self._session.execute(
                select(demandes)
                .where(*conditions)
                .order_by(demandes.c.submitted_at.desc(), demandes.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        return [_from_row(r) for r in rows], int(total)

    async def open_of(self, requester_code: str, departement: str) -> list[Demande]:
        rows = await self._session.execute(
            select(demandes).where(
                demandes.c.requester_code == requester_code,
                demandes.c.departement == departement,
                demandes.c.status.in_(OPEN_STATUSES),
            )
        )
        return [_from_row(r) for r in rows.all()]

    async def of_project(self, project_id: UUID) -> list[Demande]:
        rows = await self._session.execute(
            select(demandes)
            .where(demandes.c.project_id == project_id)
            .order_by(demandes.c.phase_number, demandes.c.submitted_at)
        )
        return [_from_row(r) for r in rows.all()]

    async def next_of(self, demande_id: UUID) -> Demande | None:
        row = (
            await self._session.execute(
                select(demandes).where(demandes.c.previous_demande_id == demande_id)
            )
        ).one_or_none()
        return _from_row(row) if row is not None else None

    async def add_deliverable(self, demande_id: UUID, reference: str) -> bool:
        # Appended once: a redelivered event finds it there already.
        result = await self._session.execute(
            update(demandes)
            .where(
                demandes.c.id == demande_id,
                func.array_position(demandes.c.deliverables, reference).is_(None),
            )
            .values(deliverables=func.array_append(demandes.c.deliverables, reference))
            .returning(demandes.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def assignments(self, demande_id: UUID) -> list[AssignmentView]:
        rows = await self._session.execute(
            select(demande_assignments)
            .where(demande_assignments.c.request_id == demande_id)
            .order_by(demande_assignments.c.updated_at, demande_assignments.c.assignment_id)
        )
        return [
            AssignmentView(
                assignment_id=r.assignment_id,
                actor_id=r.actor_id,
                actor_name=r.actor_name,
                lead=r.lead,
                needs=list(r.needs),
                status=r.status,
                updated_at=r.updated_at,
            )
            for r in rows.all()
        ]

    async def save_assignment(self, demande_id: UUID, view: AssignmentView) -> None:
        values = {
            "assignment_id": view.assignment_id,
            "request_id": demande_id,
            "actor_id": view.actor_id,
            "actor_name": view.actor_name,
            "lead": view.lead,
            "needs": view.needs,
            "status": view.status,
            "updated_at": view.updated_at,
        }
        await self._session.execute(
            pg_insert(demande_assignments)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[demande_assignments.c.assignment_id],
                set_={"status": view.status, "updated_at": view.updated_at},
            )
        )


class SqlProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, project: Project) -> None:
        await self._session.execute(
            pg_insert(projects).values(
                id=project.id,
                departement=project.departement,
                requester_code=project.requester_code,
                title=project.title,
                created_at=project.created_at,
                revision=project.revision,
            )
        )

    async def get(self, project_id: UUID, *, for_update: bool = False) -> Project | None:
        query = select(projects).where(projects.c.id == project_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        if row is None:
            return None
        return Project(
            id=row.id,
            departement=row.departement,
            requester_code=row.requester_code,
            title=row.title,
            created_at=row.created_at,
            revision=row.revision,
        )

    async def save_revision(self, project: Project) -> None:
        await self._session.execute(
            update(projects).where(projects.c.id == project.id).values(revision=project.revision)
        )
