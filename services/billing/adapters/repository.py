"""The billing database: tariffs, adhésions, gapless numbering, invoices, runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import (
    adhesions,
    cotisation_runs,
    invoice_counters,
    invoices,
    tariffs,
)
from shared.contracts.vocabulary import RequesterKind


@dataclass(slots=True)
class Adhesion:
    id: UUID
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    population: int
    status: str
    registered_at: datetime
    ended_at: datetime | None = None


@dataclass(slots=True)
class StoredInvoice:
    id: UUID
    number: str
    departement: str
    year: int
    sequence: int
    document_kind: str
    invoice_kind: str
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    tariff_version: int
    lines: list[dict[str, Any]]
    total_excl_tax: Decimal
    total_vat: Decimal
    total_incl_tax: Decimal
    refers_to: UUID | None
    reason: str | None
    source_key: str
    request_id: UUID | None
    assignment_id: UUID | None
    issued_at: datetime


def invoice_number(departement: str, year: int, sequence: int) -> str:
    return f"{departement}-{year}-{sequence:06d}"


def _adhesion(row: Any) -> Adhesion:
    return Adhesion(
        id=row.id,
        departement=row.departement,
        year=row.year,
        collectivite_code=row.collectivite_code,
        collectivite_kind=RequesterKind(row.collectivite_kind),
        collectivite_name=row.collectivite_name,
        population=row.population,
        status=row.status,
        registered_at=row.registered_at,
        ended_at=row.ended_at,
    )


def _invoice(row: Any) -> StoredInvoice:
    return StoredInvoice(
        id=row.id,
        number=row.number,
        departement=row.departement,
        year=row.year,
        sequence=row.sequence,
        document_kind=row.document_kind,
        invoice_kind=row.invoice_kind,
        collectivite_code=row.collectivite_code,
        collectivite_kind=RequesterKind(row.collectivite_kind),
        collectivite_name=row.collectivite_name,
        tariff_version=row.tariff_version,
        lines=row.lines,
        total_excl_tax=row.total_excl_tax,
        total_vat=row.total_vat,
        total_incl_tax=row.total_incl_tax,
        refers_to=row.refers_to,
        reason=row.reason,
        source_key=row.source_key,
        request_id=row.request_id,
        assignment_id=row.assignment_id,
        issued_at=row.issued_at,
    )


class BillingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- tariffs ------------------------------------------------------------------
    async def tariff(self, departement: str, year: int) -> tuple[int, dict[str, Any]] | None:
        """The latest version of a département's tariff for a year."""
        row = (
            await self._session.execute(
                select(tariffs.c.version, tariffs.c.document)
                .where(tariffs.c.departement == departement, tariffs.c.year == year)
                .order_by(tariffs.c.version.desc())
                .limit(1)
            )
        ).one_or_none()
        return (row.version, row.document) if row else None

    async def lock_tariff(self, departement: str, year: int) -> None:
        """Versions of one tariff are read-then-added one transaction at a time."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"tariff:{departement}:{year}")))
        )

    async def add_tariff_version(
        self, departement: str, year: int, document: dict[str, Any], by: str, now: datetime
    ) -> int:
        await self.lock_tariff(departement, year)
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

    # --- adhésions ----------------------------------------------------------------
    async def add_adhesions(self, rows: list[Adhesion]) -> list[Adhesion]:
        """Insert the adhésions that do not exist yet; returns those inserted."""
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

    async def adhesion(self, adhesion_id: UUID, *, lock: bool = False) -> Adhesion | None:
        query = select(adhesions).where(adhesions.c.id == adhesion_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _adhesion(row) if row else None

    async def adhesion_of(self, year: int, collectivite_code: str) -> Adhesion | None:
        row = (
            await self._session.execute(
                select(adhesions).where(
                    adhesions.c.year == year, adhesions.c.collectivite_code == collectivite_code
                )
            )
        ).one_or_none()
        return _adhesion(row) if row else None

    async def end_adhesion(self, adhesion: Adhesion) -> None:
        await self._session.execute(
            update(adhesions)
            .where(adhesions.c.id == adhesion.id)
            .values(status=adhesion.status, ended_at=adhesion.ended_at)
        )

    async def list_adhesions(
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
        """Active members of a year with no cotisation invoice yet, in code order."""
        key = func.concat(f"cotisation:{year}:", adhesions.c.collectivite_code)
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

    # --- numbering ----------------------------------------------------------------
    async def lock_numbering(self, departement: str, year: int) -> int:
        """Lock the numbering of a département and year until commit; the last number.

        Whoever issues for that département and year waits here, so what it reads
        after (members to invoice, numbers) cannot change under it.
        """
        await self._session.execute(
            pg_insert(invoice_counters)
            .values(departement=departement, year=year, last_number=0)
            .on_conflict_do_nothing()
        )
        last = (
            await self._session.execute(
                select(invoice_counters.c.last_number)
                .where(
                    and_(
                        invoice_counters.c.departement == departement,
                        invoice_counters.c.year == year,
                    )
                )
                .with_for_update()
            )
        ).scalar_one()
        return int(last)

    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        """Reserve ``count`` consecutive numbers; the row lock lasts until commit.

        A rolled-back transaction gives its numbers back with the lock, so the
        sequence has no gap. The time is read after the lock, so numbers and issue
        times go up together.
        """
        last = await self.lock_numbering(departement, year)
        await self._session.execute(
            update(invoice_counters)
            .where(invoice_counters.c.departement == departement, invoice_counters.c.year == year)
            .values(last_number=last + count)
        )
        now = (await self._session.execute(text("SELECT clock_timestamp()"))).scalar_one()
        return range(last + 1, last + count + 1), now

    # --- invoices -----------------------------------------------------------------
    async def add_invoices(self, rows: list[StoredInvoice]) -> None:
        await self._session.execute(
            insert(invoices),
            [
                {
                    "id": i.id,
                    "number": i.number,
                    "departement": i.departement,
                    "year": i.year,
                    "sequence": i.sequence,
                    "document_kind": i.document_kind,
                    "invoice_kind": i.invoice_kind,
                    "collectivite_code": i.collectivite_code,
                    "collectivite_kind": i.collectivite_kind.value,
                    "collectivite_name": i.collectivite_name,
                    "tariff_version": i.tariff_version,
                    "lines": i.lines,
                    "total_excl_tax": i.total_excl_tax,
                    "total_vat": i.total_vat,
                    "total_incl_tax": i.total_incl_tax,
                    "refers_to": i.refers_to,
                    "reason": i.reason,
                    "source_key": i.source_key,
                    "request_id": i.request_id,
                    "assignment_id": i.assignment_id,
                    "issued_at": i.issued_at,
                }
                for i in rows
            ],
        )

    async def invoice(self, invoice_id: UUID) -> StoredInvoice | None:
        row = (
            await self._session.execute(select(invoices).where(invoices.c.id == invoice_id))
        ).one_or_none()
        return _invoice(row) if row else None

    async def invoice_by_source(self, source_key: str) -> StoredInvoice | None:
        row = (
            await self._session.execute(select(invoices).where(invoices.c.source_key == source_key))
        ).one_or_none()
        return _invoice(row) if row else None

    async def search_invoices(
        self,
        *,
        departement: str | None,
        year: int | None,
        collectivite_code: str | None,
        limit: int | None,
        offset: int,
    ) -> list[StoredInvoice]:
        query = select(invoices).order_by(
            invoices.c.departement, invoices.c.year, invoices.c.sequence
        )
        if departement is not None:
            query = query.where(invoices.c.departement == departement)
        if year is not None:
            query = query.where(invoices.c.year == year)
        if collectivite_code is not None:
            query = query.where(invoices.c.collectivite_code == collectivite_code)
        if limit is not None:
            query = query.limit(limit)
        rows = await self._session.execute(query.offset(offset))
        return [_invoice(r) for r in rows.all()]

    # --- cotisation runs ----------------------------------------------------------
    async def start_run(
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

    async def advance_run(self, run_id: UUID, issued: int, amount: Decimal, now: datetime) -> None:
        await self._session.execute(
            update(cotisation_runs)
            .where(cotisation_runs.c.id == run_id)
            .values(
                issued=cotisation_runs.c.issued + issued,
                amount_incl_tax=cotisation_runs.c.amount_incl_tax + amount,
                updated_at=now,
            )
        )

    async def finish_run(
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

    async def interrupt_stale_runs(self, older_than: datetime, now: datetime) -> int:
        """Runs that stopped advancing (their process died) are marked interrupted."""
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

    async def run(self, run_id: UUID) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(cotisation_runs).where(cotisation_runs.c.id == run_id)
            )
        ).one_or_none()
        return dict(row._mapping) if row else None
