"""Invoices and credit notes in PostgreSQL, and their gapless numbering per département
and year. Documents are written once, never updated nor deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.numbering import GaplessNumbering
from services.billing.adapters.orm import invoice_counters, invoices
from services.billing.domain.invoice import (
    Collectivite,
    ContractRef,
    Invoice,
    InvoiceFilter,
    Line,
    Totals,
)
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
        "convention_number": invoice.contract.convention_number if invoice.contract else None,
        "engagement_number": invoice.contract.engagement_number if invoice.contract else None,
        "service_code": invoice.contract.service_code if invoice.contract else None,
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
        contract=ContractRef(row.convention_number, row.engagement_number, row.service_code)
        if row.convention_number
        else None,
    )


class SqlInvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._numbering = GaplessNumbering(session, invoice_counters)

    async def lock_numbering(self, departement: str, year: int) -> int:
        return await self._numbering.lock(departement, year)

    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        return await self._numbering.take(departement, year, count)

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
