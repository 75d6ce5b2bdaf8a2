"""Sheets and experiences in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.adapters.orm import experiences, sheets
from services.resources.domain.experiences import Experience, ExperienceStatus
from services.resources.domain.sheets import Sheet
from shared.contracts.resources import SheetKind
from shared.contracts.vocabulary import Phase, Theme


def _sheet_values(s: Sheet) -> dict[str, Any]:
    return {
        "id": s.id,
        "departement": s.departement,
        "national": s.national,
        "title": s.title,
        "summary": s.summary,
        "body": s.body,
        "kind": s.kind.value,
        "themes": [t.value for t in s.themes],
        "phases": [p.value for p in s.phases],
        "links": s.links,
        "author_actor_id": s.author_actor_id,
        "review_on": s.review_on,
        "version": s.version,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def _sheet(row: Any) -> Sheet:
    return Sheet(
        id=row.id,
        departement=row.departement,
        national=row.national,
        title=row.title,
        summary=row.summary,
        body=row.body,
        kind=SheetKind(row.kind),
        themes=[Theme(t) for t in row.themes],
        phases=[Phase(p) for p in row.phases],
        links=list(row.links),
        author_actor_id=row.author_actor_id,
        review_on=row.review_on,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlSheetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, sheet: Sheet) -> bool:
        result = await self._session.execute(
            pg_insert(sheets)
            .values(**_sheet_values(sheet))
            .on_conflict_do_nothing(index_elements=[sheets.c.id])
            .returning(sheets.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def get(self, sheet_id: UUID, *, for_update: bool = False) -> Sheet | None:
        query = select(*[c for c in sheets.c if c.name != "search_vector"]).where(
            sheets.c.id == sheet_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _sheet(row) if row is not None else None

    async def save(self, sheet: Sheet) -> None:
        values = _sheet_values(sheet)
        del values["id"], values["created_at"]
        await self._session.execute(update(sheets).where(sheets.c.id == sheet.id).values(values))


def _experience_values(e: Experience) -> dict[str, Any]:
    return {
        "id": e.id,
        "assignment_id": e.assignment_id,
        "request_id": e.request_id,
        "departement": e.departement,
        "actor_id": e.actor_id,
        "requester_code": e.requester_code,
        "commune_population": e.commune_population,
        "themes": [t.value for t in e.themes],
        "phases": [p.value for p in e.phases],
        "status": e.status.value,
        "title": e.title,
        "context": e.context,
        "what_was_done": e.what_was_done,
        "lessons": e.lessons,
        "contacts": e.contacts,
        "cost": e.cost,
        "duration_days": e.duration_days,
        "drafted_at": e.drafted_at,
        "published_at": e.published_at,
    }


def _experience(row: Any) -> Experience:
    return Experience(
        id=row.id,
        assignment_id=row.assignment_id,
        request_id=row.request_id,
        departement=row.departement,
        actor_id=row.actor_id,
        requester_code=row.requester_code,
        commune_population=row.commune_population,
        themes=[Theme(t) for t in row.themes],
        phases=[Phase(p) for p in row.phases],
        status=ExperienceStatus(row.status),
        drafted_at=row.drafted_at,
        title=row.title,
        context=row.context,
        what_was_done=row.what_was_done,
        lessons=row.lessons,
        contacts=row.contacts,
        cost=row.cost,
        duration_days=row.duration_days,
        published_at=row.published_at,
    )


class SqlExperienceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, experience: Experience) -> bool:
        # One per mission: a redelivered "completed" waits for the first insert, then adds none.
        result = await self._session.execute(
            pg_insert(experiences)
            .values(**_experience_values(experience))
            .on_conflict_do_nothing(index_elements=[experiences.c.assignment_id])
            .returning(experiences.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def get(self, experience_id: UUID, *, for_update: bool = False) -> Experience | None:
        query = select(*[c for c in experiences.c if c.name != "search_vector"]).where(
            experiences.c.id == experience_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _experience(row) if row is not None else None

    async def save(self, experience: Experience) -> None:
        values = _experience_values(experience)
        del values["id"], values["assignment_id"]
        await self._session.execute(
            update(experiences).where(experiences.c.id == experience.id).values(values)
        )
