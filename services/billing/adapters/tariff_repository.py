"""Tariff versions in PostgreSQL: a new version is added, a used one never changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import tariffs


class SqlTariffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest(self, departement: str, year: int) -> tuple[int, dict[str, Any]] | None:
        row = (
            await self._session.execute(
                select(tariffs.c.version, tariffs.c.document)
                .where(tariffs.c.departement == departement, tariffs.c.year == year)
                .order_by(tariffs.c.version.desc())
                .limit(1)
            )
        ).one_or_none()
        return (row.version, row.document) if row else None

    async def lock(self, departement: str, year: int) -> None:
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"tariff:{departement}:{year}")))
        )

    async def add_version(
        self, departement: str, year: int, document: dict[str, Any], by: str, now: datetime
    ) -> int:
        await self.lock(departement, year)
        current = (
            await self._session.execute(
                select(func.max(tariffs.c.version)).where(
                    tariffs.c.departement == departement, tariffs.c.year == year
                )
            )
        ).scalar_one()
        version = (current or 0) + 1
        await self._session.execute(
            insert(tariffs).values(
                departement=departement,
                year=year,
                version=version,
                document=document | {"version": version},
                created_at=now,
                created_by=by,
            )
        )
        return version
