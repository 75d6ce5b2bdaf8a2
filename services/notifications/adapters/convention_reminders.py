"""The conventions sent for signature, and when to remind their collectivité: this
service's projection of ``billing.convention.v1``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.due_reminders import claim_due
from services.notifications.adapters.orm import convention_reminders as table
from services.notifications.domain.views import ConventionReminder


class SqlConventionReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, reminder: ConventionReminder, remind_at: datetime | None) -> bool:
        inserted = await self._session.execute(
            pg_insert(table)
            .values(
                convention_id=reminder.convention_id,
                demande_id=reminder.demande_id,
                departement=reminder.departement,
                number=reminder.number,
                valid_until=reminder.valid_until,
                total_incl_tax=reminder.total_incl_tax,
                remind_at=remind_at,
            )
            .on_conflict_do_nothing()
            .returning(table.c.convention_id)
        )
        return inserted.first() is not None

    async def close(self, convention_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(table)
            .where(table.c.convention_id == convention_id, table.c.closed_at.is_(None))
            .values(closed_at=now)
        )

    async def due(self, now: datetime, limit: int) -> list[ConventionReminder]:
        rows = await claim_due(
            self._session,
            table,
            deadline="valid_until",
            now=now,
            limit=limit,
            still_open=table.c.closed_at.is_(None),
        )
        return [
            ConventionReminder(
                convention_id=r.convention_id,
                demande_id=r.demande_id,
                departement=r.departement,
                number=r.number,
                valid_until=r.valid_until,
                total_incl_tax=r.total_incl_tax,
            )
            for r in rows
        ]

    async def mark_reminded(self, convention_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(table).where(table.c.convention_id == convention_id).values(reminded_at=now)
        )
