"""Invoices and credit notes in PostgreSQL, and their gapless numbering per département
and year. Documents are written once, never updated nor deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import invoice_counters, invoices
from services.billing.domain.invoice import Collectivite, Invoice, InvoiceFilter, Line, Totals
from shared.contracts.vocabulary import RequesterKind

# Columns holding an attribute of the same name.
_SAME = (
    "id",
    "number",
    "departement",
    "year",
    "sequence",
    "document_kind",
    "invoice_kind",
    "tariff_version",
    "source_key",
    "issued_at",
    "refers_to",
    "reason",
    "request_id",
    "assignment_id",
)


def invoice_row(invoice: Invoice) -> dict[str, Any]:
    """The row stored for ``invoice``: the model's totals, its lines as events carry them."""
    who, sums = invoice.collectivite, invoice.totals
    return {name: getattr(invoice, name) for name in _SAME} | {
        "collectivite_code": who.code,
        "collectivite_kind": who.kind.value,
        "collectivite_name": who.name,
        "lines": [line.as_json() for line in invoice.lines],
        "total_excl_tax": sums.excl_tax,
        "total_vat": sums.vat,
        "total_incl_tax": sums.incl_tax,
    }


def _invoice(row: Any) -> Invoice:
    columns = row._mapping
    return Invoice(
        **{name: columns[name] for name in _SAME},
        collectivite=Collectivite(
            row.collectivite_code, RequesterKind(row.collectivite_kind), row.collectivite_name
        ),
        lines=tuple(Line.of(li) for li in row.lines),
        # The stored totals, not a new sum: what was issued is what is shown.
        totals=Totals(row.total_excl_tax, row.total_vat, row.total_incl_tax),
    )


class SqlInvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def add(self, documents: list[Invoice]) -> None:
        await self._session.execute(insert(invoices), [invoice_row(i) for i in documents])

    async def get(self, invoice_id: UUID) -> Invoice | None:
        row = (
            await self._session.execute(select(invoices).where(invoices.c.id == invoice_id))
        ).one_or_none()
        return _invoice(row) if row else None

    async def by_source(self, source_key: str) -> Invoice | None:
        row = (
            await self._session.execute(select(invoices).where(invoices.c.source_key == source_key))
        ).one_or_none()
        return _invoice(row) if row else None

    async def search(
        self, criteria: InvoiceFilter, *, limit: int | None, offset: int
    ) -> list[Invoice]:
        query = select(invoices).order_by(
            invoices.c.departement, invoices.c.year, invoices.c.sequence
        )
        if criteria.departement is not None:
            query = query.where(invoices.c.departement == criteria.departement)
        if criteria.year is not None:
            query = query.where(invoices.c.year == criteria.year)
        if criteria.collectivite_code is not None:
            query = query.where(invoices.c.collectivite_code == criteria.collectivite_code)
        if limit is not None:
            query = query.limit(limit)
        rows = await self._session.execute(query.offset(offset))
        return [_invoice(r) for r in rows.all()]
