"""Matching's projection of billing's adhésions, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import memberships
from services.matching.domain.membership import Membership
from shared.contracts.vocabulary import RequesterKind


def _membership(row: Any) -> Membership:
    return Membership(
        adhesion_id=row.adhesion_id,
        departement=row.departement,
        collectivite_code=row.collectivite_code,
        collectivite_kind=RequesterKind(row.collectivite_kind),
        year=row.year,
        registered_at=row.registered_at,
        ended_at=row.ended_at,
    )


class SqlMembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def register(self, added: Sequence[Membership]) -> None:
        if not added:
            return
        # A replay may bring a registration after its end was applied: keep the end.
        await self._session.execute(
            pg_insert(memberships)
            .values(
                [
                    {
                        "adhesion_id": m.adhesion_id,
                        "departement": m.departement,
                        "collectivite_code": m.collectivite_code,
                        "collectivite_kind": m.collectivite_kind.value,
                        "year": m.year,
                        "registered_at": m.registered_at,
                        "ended_at": m.ended_at,
                    }
                    for m in added
                ]
            )
            .on_conflict_do_nothing(index_elements=[memberships.c.adhesion_id])
        )

    async def end(self, adhesion_id: UUID, ended_at: datetime) -> bool:
        result = await self._session.execute(
            update(memberships)
            .where(memberships.c.adhesion_id == adhesion_id)
            .values(ended_at=ended_at)
            .returning(memberships.c.adhesion_id)
        )
        return result.scalar_one_or_none() is not None

    async def of(self, departement: str, codes: Collection[str]) -> list[Membership]:
        rows = await self._session.execute(
            select(memberships).where(
                memberships.c.departement == departement,
                memberships.c.collectivite_code.in_(sorted(codes)),
            )
        )
        return [_membership(r) for r in rows.all()]

    async def clear(self) -> int:
        result = await self._session.execute(delete(memberships))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def count(self, departement: str | None = None, year: int | None = None) -> int:
        query = select(func.count()).select_from(memberships)
        if departement is not None:
            query = query.where(memberships.c.departement == departement)
        if year is not None:
            query = query.where(memberships.c.year == year)
        return int((await self._session.execute(query)).scalar_one())
