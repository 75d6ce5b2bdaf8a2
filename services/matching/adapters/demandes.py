"""The demandes matching routes, in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.orm import needs_from_json, needs_to_json, routed_demandes
from services.matching.domain.routing import RoutedDemande
from shared.contracts.vocabulary import RequesterKind


def _demande_from_row(row: Any) -> RoutedDemande:
    return RoutedDemande(
        request_id=row.request_id,
        departement=row.departement,
        requester_kind=RequesterKind(row.requester_kind),
        requester_code=row.requester_code,
        requester_population=row.requester_population,
        needs=needs_from_json(row.needs),
        status=row.status,
        uncovered=needs_from_json(row.uncovered),
        summary=row.summary,
        correlation_id=row.correlation_id,
        received_at=row.received_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
        unmatched_reason=row.unmatched_reason,
    )


class SqlDemandeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, demande: RoutedDemande) -> bool:
        """False when the demande was routed before (a business-key guard)."""
        result = await self._session.execute(
            pg_insert(routed_demandes)
            .values(
                request_id=demande.request_id,
                departement=demande.departement,
                requester_kind=demande.requester_kind.value,
                requester_code=demande.requester_code,
                requester_population=demande.requester_population,
                needs=needs_to_json(demande.needs),
                status=demande.status,
                uncovered=needs_to_json(demande.uncovered),
                summary=demande.summary,
                correlation_id=demande.correlation_id,
                received_at=demande.received_at,
                updated_at=demande.updated_at,
                submitted_at=demande.submitted_at,
                unmatched_reason=demande.unmatched_reason,
            )
            .on_conflict_do_nothing(index_elements=[routed_demandes.c.request_id])
            .returning(routed_demandes.c.request_id)
        )
        return result.scalar_one_or_none() is not None

    async def get(self, request_id: UUID, *, lock: bool = False) -> RoutedDemande | None:
        query = select(routed_demandes).where(routed_demandes.c.request_id == request_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _demande_from_row(row) if row else None

    async def save(self, demande: RoutedDemande) -> None:
        await self._session.execute(
            update(routed_demandes)
            .where(routed_demandes.c.request_id == demande.request_id)
            .values(
                status=demande.status,
                uncovered=needs_to_json(demande.uncovered),
                summary=demande.summary,
                updated_at=demande.updated_at,
                unmatched_reason=demande.unmatched_reason,
            )
        )

    async def unmatched(
        self, departement: str | None, limit: int, offset: int
    ) -> list[RoutedDemande]:
        query = (
            select(routed_demandes)
            .where(routed_demandes.c.status == "unmatched")
            .order_by(routed_demandes.c.updated_at.desc())
            .limit(limit)
            .offset(offset)
        )
        if departement is not None:
            query = query.where(routed_demandes.c.departement == departement)
        return [_demande_from_row(r) for r in (await self._session.execute(query)).all()]
