"""Cotisation runs in PostgreSQL: what a run is about to invoice, and how far it got."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import cotisation_runs


class SqlCotisationRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def start(
        self, run_id: UUID, year: int, departements: list[str], members: int, now: datetime
    ) -> None:
        await self._session.execute(
            insert(cotisation_runs).values(
                id=run_id,
                year=year,
                departements=departements,
                status="running",
                members=members,
                issued=0,
                already_invoiced=0,
                amount_incl_tax=Decimal("0"),
                started_at=now,
                updated_at=now,
            )
        )

    async def advance(self, run_id: UUID, issued: int, amount: Decimal, now: datetime) -> None:
        await self._session.execute(
            update(cotisation_runs)
            .where(cotisation_runs.c.id == run_id)
            .values(
                issued=cotisation_runs.c.issued + issued,
                amount_incl_tax=cotisation_runs.c.amount_incl_tax + amount,
                updated_at=now,
            )
        )

    async def finish(
        self, run_id: UUID, status: str, already: int, error: str | None, now: datetime
    ) -> None:
        await self._session.execute(
            update(cotisation_runs)
            .where(cotisation_runs.c.id == run_id)
            .values(
                status=status,
                already_invoiced=already,
                error=error,
                updated_at=now,
                finished_at=now,
            )
        )

    async def interrupt_stale(self, older_than: datetime, now: datetime) -> int:
        result = await self._session.execute(
            update(cotisation_runs)
            .where(cotisation_runs.c.status == "running", cotisation_runs.c.updated_at < older_than)
            .values(
                status="interrupted",
                error="Interrompu : relancez l'appel, les adhérents déjà facturés seront ignorés.",
                finished_at=now,
                updated_at=now,
            )
            .returning(cotisation_runs.c.id)
        )
        return len(result.all())

    async def get(self, run_id: UUID) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(cotisation_runs).where(cotisation_runs.c.id == run_id)
            )
        ).one_or_none()
        return dict(row._mapping) if row else None
