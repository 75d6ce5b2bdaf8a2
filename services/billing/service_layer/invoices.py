"""Use cases of the invoices: cancelling by a credit note, and reading them (JSON, the
French document, the accountants' CSV). Missions are invoiced by ``mission_invoices``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

from services.billing.domain.documents import render_csv, render_html
from services.billing.domain.einvoice import references_of
from services.billing.domain.identities import References
from services.billing.domain.invoice import (
    DRAFT_SEQUENCE,
    Invoice,
    InvoiceFilter,
    credit_key,
    numbered,
)
from services.billing.service_layer.access import (
    ensure_reader,
    ensure_team,
    readable_departement,
)
from services.billing.service_layer.buyers import check_before_numbering
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden, NotFound
from shared.french import PARIS
from shared.observability.metrics import INVOICED_EUROS, INVOICES


def count_issued(documents: list[Invoice]) -> None:
    """Business metrics, once the documents are committed."""
    for d in documents:
        kind = "avoir" if d.document_kind == "credit_note" else d.invoice_kind
        INVOICES.labels(d.departement, kind).inc()
        # A counter only grows: credit notes count their absolute amount under "avoir".
        INVOICED_EUROS.labels(d.departement, kind).inc(abs(float(d.totals.incl_tax)))


def cancelling(invoice: Invoice) -> References:
    """What a credit note cancelling ``invoice`` cites: its convention, and the invoice."""
    return dataclasses.replace(
        references_of(invoice),
        cancelled_number=invoice.number,
        cancelled_issued_on=invoice.issued_at.astimezone(PARIS).date(),
    )


async def cancel_invoice(
    uow: UnitOfWork, principal: Principal, invoice_id: UUID, reason: str, now: datetime
) -> Invoice:
    """Cancel an invoice with a credit note that refers to it; the invoice stays."""
    invoice = await uow.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound("Facture introuvable.")
    ensure_team(principal, invoice.departement)
    invoice.ensure_cancellable()
    existing = await uow.invoices.by_source(credit_key(invoice.id))
    if existing is not None:
        return existing
    draft = invoice.credit_note(sequence=DRAFT_SEQUENCE, issued_at=invoice.issued_at, reason=reason)
    await check_before_numbering(uow, [draft], cancelling(invoice))
    [sequence], issued_at = await uow.invoices.take_numbers(invoice.departement, invoice.year, 1)
    credit = numbered(draft, sequence, issued_at)
    await uow.invoices.add([credit])
    await uow.outbox.add(credit.event(invoice.number), departement=credit.departement)
    await uow.commit()
    count_issued([credit])
    return credit


async def read_invoice(uow: UnitOfWork, principal: Principal, invoice_id: UUID) -> Invoice:
    invoice = await uow.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound("Facture introuvable.")
    ensure_reader(principal, invoice)
    return invoice


async def invoice_document(uow: UnitOfWork, principal: Principal, invoice_id: UUID) -> str:
    """The document in French (HTML); a credit note names the invoice it cancels."""
    invoice = await read_invoice(uow, principal, invoice_id)
    cancelled = await uow.invoices.get(invoice.refers_to) if invoice.refers_to else None
    return render_html(invoice, cancelled.number if cancelled else None)


async def list_invoices(
    uow: UnitOfWork,
    principal: Principal,
    *,
    departement: str | None,
    year: int | None,
    collectivite: str | None,
    limit: int,
    offset: int,
) -> list[Invoice]:
    """A collectivité sees its own documents only."""
    if principal.role is Role.COLLECTIVITE:
        collectivite = principal.scope
    criteria = InvoiceFilter(readable_departement(principal, departement), year, collectivite)
    return await uow.invoices.search(criteria, limit=limit, offset=offset)


async def export_csv(
    uow: UnitOfWork, principal: Principal, year: int, departement: str | None
) -> str:
    """Every document of the year, for the département's accountants."""
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    criteria = InvoiceFilter(readable_departement(principal, departement), year)
    found = await uow.invoices.search(criteria, limit=None, offset=0)
    return render_csv(found, {str(i.id): i.number for i in found})
