"""Conventions and their avenants in PostgreSQL, numbered by the same gapless mechanism
as the invoices; and the completed missions that no invoice follows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.numbering import GaplessNumbering
from services.billing.adapters.orm import convention_counters, conventions, unbilled_completions
from services.billing.domain.convention import (
    UNSIGNED,
    Convention,
    ConventionFilter,
    ConventionStatus,
    Installment,
    Parties,
    Pricing,
    UnbilledCompletion,
)
from services.billing.domain.invoice import Collectivite, Line, Totals
from shared.contracts.vocabulary import RequesterKind


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _document(c: Convention) -> dict[str, Any]:
    """Everything the columns do not hold, as JSON (decimals as strings)."""
    p, who = c.parties, c.parties.collectivite
    return {
        "parties": {
            "structure": p.structure,
            "actor_id": p.actor_id,
            "actor_name": p.actor_name,
            "actor_kind": p.actor_kind,
            "collectivite": {"code": who.code, "kind": who.kind.value, "name": who.name},
            "siret": p.siret,
        },
        "object": c.object,
        "phases": list(c.phases),
        "pricing": {
            "mode": c.pricing.mode,
            "quantity": str(c.pricing.quantity),
            "unit_price": str(c.pricing.unit_price),
            "is_member": c.pricing.is_member,
        },
        "lines": [line.as_json() for line in c.lines],
        "totals": [str(c.totals.excl_tax), str(c.totals.vat), str(c.totals.incl_tax)],
        "schedule": [{"label": i.label, "share": str(i.share)} for i in c.schedule],
        "tariff_version": c.tariff_version,
        "prepared_at": c.prepared_at.isoformat(),
        "sent_at": _time(c.sent_at),
        "signed_at": _time(c.signed_at),
        "closed_at": _time(c.closed_at),
        "engagement_number": c.engagement_number,
        "service_code": c.service_code,
        "refusal_reason": c.refusal_reason,
        "amends_id": str(c.amends_id) if c.amends_id else None,
        "amendment_reason": c.amendment_reason,
        "price_delta": str(c.price_delta) if c.price_delta is not None else None,
    }


def _row(c: Convention, now: datetime) -> dict[str, Any]:
    return {
        "id": c.id,
        "base_id": c.base_id,
        "number": c.number,
        "departement": c.departement,
        "year": c.year,
        "sequence": c.sequence,
        "version": c.version,
        "demande_id": c.demande_id,
        "assignment_id": c.assignment_id,
        "actor_id": c.parties.actor_id,
        "collectivite_code": c.parties.collectivite.code,
        "status": c.status.value,
        "valid_until": c.valid_until,
        "total_incl_tax": c.totals.incl_tax,
        "document": _document(c),
        "updated_at": now,
    }


def _convention(row: Any) -> Convention:
    d = row.document
    p, who, pr = d["parties"], d["parties"]["collectivite"], d["pricing"]
    return Convention(
        id=row.id,
        base_id=row.base_id,
        number=row.number,
        departement=row.departement,
        year=row.year,
        sequence=row.sequence,
        version=row.version,
        demande_id=row.demande_id,
        assignment_id=row.assignment_id,
        parties=Parties(
            structure=p["structure"],
            actor_id=p["actor_id"],
            actor_name=p["actor_name"],
            actor_kind=p["actor_kind"],
            collectivite=Collectivite(who["code"], RequesterKind(who["kind"]), who["name"]),
            siret=p["siret"],
        ),
        object=d["object"],
        phases=tuple(d["phases"]),
        pricing=Pricing(
            pr["mode"], Decimal(pr["quantity"]), Decimal(pr["unit_price"]), pr["is_member"]
        ),
        lines=tuple(Line.of(li) for li in d["lines"]),
        totals=Totals(*(Decimal(t) for t in d["totals"])),
        schedule=tuple(Installment(i["label"], Decimal(i["share"])) for i in d["schedule"]),
        tariff_version=d["tariff_version"],
        status=ConventionStatus(row.status),
        prepared_at=datetime.fromisoformat(d["prepared_at"]),
        valid_until=row.valid_until,
        sent_at=_parse_time(d["sent_at"]),
        signed_at=_parse_time(d["signed_at"]),
        closed_at=_parse_time(d["closed_at"]),
        engagement_number=d["engagement_number"],
        service_code=d["service_code"],
        refusal_reason=d["refusal_reason"],
        amends_id=UUID(d["amends_id"]) if d["amends_id"] else None,
        amendment_reason=d["amendment_reason"],
        price_delta=Decimal(d["price_delta"]) if d["price_delta"] is not None else None,
    )


class SqlConventionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._numbering = GaplessNumbering(session, convention_counters)

    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        return await self._numbering.take(departement, year, count)

    async def add(self, convention: Convention, now: datetime) -> None:
        await self._session.execute(insert(conventions).values(**_row(convention, now)))

    async def save(self, convention: Convention, now: datetime) -> None:
        row = _row(convention, now)
        await self._session.execute(
            update(conventions)
            .where(conventions.c.id == convention.id)
            .values(
                status=row["status"],
                valid_until=row["valid_until"],
                document=row["document"],
                updated_at=now,
            )
        )

    async def get(self, convention_id: UUID, *, lock: bool = False) -> Convention | None:
        query = select(conventions).where(conventions.c.id == convention_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _convention(row) if row else None

    async def versions(self, demande_id: UUID) -> list[Convention]:
        """Every version of the demande's convention, in version order."""
        rows = await self._session.execute(
            select(conventions)
            .where(conventions.c.demande_id == demande_id)
            .order_by(conventions.c.version)
        )
        return [_convention(r) for r in rows.all()]

    async def of_assignment(self, assignment_id: UUID) -> list[Convention]:
        rows = await self._session.execute(
            select(conventions)
            .where(conventions.c.assignment_id == assignment_id)
            .order_by(conventions.c.version)
        )
        return [_convention(r) for r in rows.all()]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Convention]:
        """Unsigned versions past their validity, locked; others' locked rows are skipped
        so that two sweeps never wait on each other."""
        rows = await self._session.execute(
            select(conventions)
            .where(
                conventions.c.status.in_([s.value for s in UNSIGNED]),
                conventions.c.valid_until < now,
            )
            .order_by(conventions.c.valid_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_convention(r) for r in rows.all()]

    async def search(
        self, criteria: ConventionFilter, *, limit: int, offset: int
    ) -> list[Convention]:
        query = select(conventions).order_by(
            conventions.c.departement,
            conventions.c.year,
            conventions.c.sequence,
            conventions.c.version,
        )
        if criteria.departement is not None:
            query = query.where(conventions.c.departement == criteria.departement)
        if criteria.status is not None:
            query = query.where(conventions.c.status == criteria.status.value)
        if criteria.actor_id is not None:
            query = query.where(conventions.c.actor_id == criteria.actor_id)
        if criteria.collectivite_code is not None:
            query = query.where(conventions.c.collectivite_code == criteria.collectivite_code)
        if criteria.demande_id is not None:
            query = query.where(conventions.c.demande_id == criteria.demande_id)
        rows = await self._session.execute(query.limit(limit).offset(offset))
        return [_convention(r) for r in rows.all()]

    async def record_unbilled(self, completion: UnbilledCompletion) -> None:
        await self._session.execute(
            pg_insert(unbilled_completions)
            .values(
                assignment_id=completion.assignment_id,
                demande_id=completion.demande_id,
                departement=completion.departement,
                actor_id=completion.actor_id,
                collectivite_code=completion.collectivite_code,
                reason=completion.reason,
                completed_at=completion.completed_at,
            )
            .on_conflict_do_nothing()
        )

    async def unbilled(
        self, departement: str | None, limit: int, offset: int
    ) -> list[UnbilledCompletion]:
        query = select(unbilled_completions).order_by(
            unbilled_completions.c.completed_at, unbilled_completions.c.assignment_id
        )
        if departement is not None:
            query = query.where(unbilled_completions.c.departement == departement)
        rows = await self._session.execute(query.limit(limit).offset(offset))
        return [
            UnbilledCompletion(
                assignment_id=r.assignment_id,
                demande_id=r.demande_id,
                departement=r.departement,
                actor_id=r.actor_id,
                collectivite_code=r.collectivite_code,
                reason=r.reason,
                completed_at=r.completed_at,
            )
            for r in rows.all()
        ]
