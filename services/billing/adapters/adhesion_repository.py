"""Adhésions in PostgreSQL: one per collectivité and year."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import adhesions, invoices
from services.billing.domain.adhesion import Adhesion
from services.billing.domain.invoice import cotisation_key
from shared.contracts.vocabulary import RequesterKind


def _adhesion(row: Any) -> Adhesion:
    columns = dict(row._mapping)
    return Adhesion(**columns | {"collectivite_kind": RequesterKind(row.collectivite_kind)})


class SqlAdhesionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, rows: list[Adhesion]) -> list[Adhesion]:
        if not rows:
            return []
        inserted = await self._session.execute(
            pg_insert(adhesions)
            .values(
                [
                    {
                        "id": a.id,
                        "departement": a.departement,
                        "year": a.year,
                        "collectivite_code": a.collectivite_code,
                        "collectivite_kind": a.collectivite_kind.value,
                        "collectivite_name": a.collectivite_name,
                        "population": a.population,
                        "status": a.status,
                        "registered_at": a.registered_at,
                    }
                    for a in rows
                ]
            )
            .on_conflict_do_nothing(constraint="adhesions_year_collectivite_key")
            .returning(adhesions.c.id)
        )
        ids = set(inserted.scalars())
        return [a for a in rows if a.id in ids]

    async def get(self, adhesion_id: UUID, *, lock: bool = False) -> Adhesion | None:
        query = select(adhesions).where(adhesions.c.id == adhesion_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _adhesion(row) if row else None

    async def of(self, year: int, collectivite_code: str) -> Adhesion | None:
        row = (
            await self._session.execute(
                select(adhesions).where(
                    adhesions.c.year == year, adhesions.c.collectivite_code == collectivite_code
                )
            )
        ).one_or_none()
        return _adhesion(row) if row else None

    async def save_status(self, adhesion: Adhesion) -> None:
        await self._session.execute(
            update(adhesions)
            .where(adhesions.c.id == adhesion.id)
            .values(status=adhesion.status, ended_at=adhesion.ended_at)
        )

    async def search(
        self, departement: str | None, year: int | None, limit: int, offset: int
    ) -> tuple[list[Adhesion], int]:
        conditions = []
        if departement is not None:
            conditions.append(adhesions.c.departement == departement)
        if year is not None:
            conditions.append(adhesions.c.year == year)
        total = (
            await self._session.execute(
                select(func.count()).select_from(adhesions).where(*conditions)
            )
        ).scalar_one()
        rows = await self._session.execute(
            select(adhesions)
            .where(*conditions)
            .order_by(adhesions.c.departement, adhesions.c.collectivite_code)
            .limit(limit)
            .offset(offset)
        )
        return [_adhesion(r) for r in rows.all()], int(total)

    async def members_to_invoice(
        self, departement: str, year: int, after_code: str, limit: int
    ) -> list[Adhesion]:
        key = func.concat(cotisation_key(year, ""), adhesions.c.collectivite_code)
        rows = await self._session.execute(
            select(adhesions)
            .outerjoin(invoices, invoices.c.source_key == key)
            .where(
                adhesions.c.departement == departement,
                adhesions.c.year == year,
                adhesions.c.status == "active",
                adhesions.c.collectivite_code > after_code,
                invoices.c.id.is_(None),
            )
            .order_by(adhesions.c.collectivite_code)
            .limit(limit)
        )
        return [_adhesion(r) for r in rows.all()]

    async def count_members(self, departements: list[str] | None, year: int) -> int:
        query = select(func.count()).where(adhesions.c.year == year, adhesions.c.status == "active")
        if departements:
            query = query.where(adhesions.c.departement.in_(departements))
        return int((await self._session.execute(query)).scalar_one())

    async def member_departements(self, year: int) -> list[str]:
        rows = await self._session.execute(
            select(adhesions.c.departement)
            .where(adhesions.c.year == year, adhesions.c.status == "active")
            .distinct()
            .order_by(adhesions.c.departement)
        )
        return list(rows.scalars())
