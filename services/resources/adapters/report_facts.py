"""The activity reports' projection in PostgreSQL: one row per event counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.adapters.orm import actor_alerts, report_facts
from services.resources.domain.report_facts import Fact, FactKind


def _fact(row: Any) -> Fact:
    return Fact(
        event_id=row.event_id,
        kind=FactKind(row.kind),
        departement=row.departement,
        occurred_at=row.occurred_at,
        subject=row.subject,
        party=row.party,
        amount=row.amount,
        data=dict(row.data),
    )


class SqlReportFacts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, facts: list[Fact]) -> int:
        """Store the facts not stored yet (by event id); returns how many were new."""
        if not facts:
            return 0
        # One statement executed for many rows: SQLAlchemy batches them ("insertmanyvalues")
        # with one compiled statement, where a multi-row VALUES compiles once per batch.
        result = await self._session.execute(
            pg_insert(report_facts)
            .on_conflict_do_nothing(index_elements=[report_facts.c.event_id])
            .returning(report_facts.c.event_id),
            [
                {
                    "event_id": f.event_id,
                    "kind": f.kind.value,
                    "departement": f.departement,
                    "occurred_at": f.occurred_at,
                    "subject": f.subject,
                    "party": f.party,
                    "amount": f.amount,
                    "data": f.data,
                }
                for f in facts
            ],
        )
        return len(result.all())

    async def of_departement(self, departement: str) -> list[Fact]:
        rows = await self._session.execute(
            select(report_facts)
            .where(report_facts.c.departement == departement)
            .order_by(report_facts.c.occurred_at, report_facts.c.event_id)
        )
        return [_fact(r) for r in rows.all()]

    async def since(self, moment: datetime, kinds: list[FactKind]) -> list[Fact]:
        rows = await self._session.execute(
            select(report_facts)
            .where(
                report_facts.c.occurred_at >= moment,
                report_facts.c.kind.in_([k.value for k in kinds]),
            )
            .order_by(report_facts.c.occurred_at, report_facts.c.event_id)
        )
        return [_fact(r) for r in rows.all()]

    async def remember_alert(
        self, departement: str, actor_id: str, quarter: str, now: datetime
    ) -> bool:
        """True the first time this actor's alert of this quarter is raised."""
        result = await self._session.execute(
            pg_insert(actor_alerts)
            .values(departement=departement, actor_id=actor_id, quarter=quarter, raised_at=now)
            .on_conflict_do_nothing()
            .returning(actor_alerts.c.actor_id)
        )
        return result.scalar_one_or_none() is not None

    async def clear(self, departement: str | None = None) -> int:
        query = delete(report_facts)
        if departement is not None:
            query = query.where(report_facts.c.departement == departement)
        result = await self._session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)
