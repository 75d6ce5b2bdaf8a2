"""Satisfaction surveys in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.adapters.orm import surveys
from services.resources.domain.surveys import REMIND_AFTER, Survey
from shared.contracts.vocabulary import Theme


def _survey(row: Any) -> Survey:
    return Survey(
        id=row.id,
        assignment_id=row.assignment_id,
        departement=row.departement,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        requester_code=row.requester_code,
        themes=[Theme(t) for t in row.themes],
        due_at=row.due_at,
        asked_at=row.asked_at,
        reminded_at=row.reminded_at,
        answered_at=row.answered_at,
        quality=row.quality,
        delay=row.delay,
        usefulness=row.usefulness,
        would_recommend=row.would_recommend,
        comment=row.comment,
    )


class SqlSurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, survey: Survey) -> bool:
        result = await self._session.execute(
            pg_insert(surveys)
            .values(
                id=survey.id,
                assignment_id=survey.assignment_id,
                departement=survey.departement,
                actor_id=survey.actor_id,
                actor_name=survey.actor_name,
                requester_code=survey.requester_code,
                themes=[t.value for t in survey.themes],
                due_at=survey.due_at,
            )
            .on_conflict_do_nothing(index_elements=[surveys.c.assignment_id])
            .returning(surveys.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def get(self, survey_id: UUID, *, for_update: bool = False) -> Survey | None:
        query = select(surveys).where(surveys.c.id == survey_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _survey(row) if row is not None else None

    async def save_answer(self, survey: Survey) -> None:
        await self._session.execute(
            update(surveys)
            .where(surveys.c.id == survey.id)
            .values(
                answered_at=survey.answered_at,
                quality=survey.quality,
                delay=survey.delay,
                usefulness=survey.usefulness,
                would_recommend=survey.would_recommend,
                comment=survey.comment,
            )
        )

    async def claim_due(self, now: datetime) -> list[Survey]:
        """Mark asked, and return, the surveys due and not asked yet (one UPDATE: each is
        claimed by one instance)."""
        rows = await self._session.execute(
            update(surveys)
            .where(surveys.c.asked_at.is_(None), surveys.c.due_at <= now)
            .values(asked_at=now)
            .returning(*surveys.c)
        )
        return [_survey(r) for r in rows.all()]

    async def claim_reminders(self, now: datetime) -> list[Survey]:
        rows = await self._session.execute(
            update(surveys)
            .where(
                surveys.c.answered_at.is_(None),
                surveys.c.reminded_at.is_(None),
                surveys.c.asked_at <= now - REMIND_AFTER,
            )
            .values(reminded_at=now)
            .returning(*surveys.c)
        )
        return [_survey(r) for r in rows.all()]

    async def answered(self, departement: str) -> list[Survey]:
        rows = await self._session.execute(
            select(surveys)
            .where(surveys.c.departement == departement, surveys.c.answered_at.is_not(None))
            .order_by(surveys.c.answered_at, surveys.c.id)
        )
        return [_survey(r) for r in rows.all()]
