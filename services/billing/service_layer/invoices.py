"""Use cases of the invoices: a completed mission's fee, cancelling by a credit note, and
reading them (JSON, the French document, the accountants' CSV)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.billing.domain.documents import render_csv, render_html
from services.billing.domain.invoice import (
    Collectivite,
    Invoice,
    InvoiceFilter,
    credit_key,
    issue,
    mission_key,
)
from services.billing.domain.pricing import PricingError, mission_lines
from services.billing.service_layer.access import (
    ensure_reader,
    ensure_team,
    readable_departement,
)
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.tariffs import resolve_tariff
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.vocabulary import THEME_LABELS
from shared.errors import Forbidden, NotFound
from shared.messaging.consumer import RejectedEvent
from shared.messaging.envelope import Envelope
from shared.observability.metrics import INVOICED_EUROS, INVOICES
from shared.refdata import Territories


def count_issued(documents: list[Invoice]) -> None:
    """Business metrics, once the documents are committed."""
    for d in documents:
        kind = "avoir" if d.document_kind == "credit_note" else d.invoice_kind
        INVOICES.labels(d.departement, kind).inc()
        # A counter only grows: credit notes count their absolute amount under "avoir".
        INVOICED_EUROS.labels(d.departement, kind).inc(abs(float(d.totals.incl_tax)))


async def invoice_mission(
    uow: UnitOfWork,
    event: AssignmentCompleted,
    envelope: Envelope,
    territories: Territories,
    now: datetime,
) -> Invoice | None:
    """The mission fee of a completed assignment; None when it was invoiced before."""
    source_key = mission_key(event.assignment_id)
    if await uow.invoices.by_source(source_key) is not None:
        return None
    year = event.completed_at.year
    version, tariff = await resolve_tariff(uow, event.departement, year, now)
    # Billing's own adhésions decide the rate: the one of the mission's year, in force
    # when the mission ended.
    member = await uow.adhesions.of(year, event.requester_code)
    is_member = member is not None and member.in_force_at(event.completed_at)
    themes = ", ".join(sorted({THEME_LABELS[n.theme].lower() for n in event.needs}))
    try:
        lines = mission_lines(
            tariff, event.actor_kind, event.days_spent, is_member, f"Mission ({themes})"
        )
    except PricingError as exc:
        raise RejectedEvent("unbillable_mission", str(exc)) from exc
    found = territories.requester(event.requester_code)
    name = found.nom if found is not None else event.requester_code
    [sequence], issued_at = await uow.invoices.take_numbers(event.departement, year, 1)
    invoice = issue(
        departement=event.departement,
        year=year,
        sequence=sequence,
        issued_at=issued_at,
        document_kind="invoice",
        invoice_kind="mission",
        collectivite=Collectivite(event.requester_code, event.requester_kind, name),
        tariff_version=version,
        lines=lines,
        source_key=source_key,
        request_id=event.request_id,
        assignment_id=event.assignment_id,
    )
    await uow.invoices.add([invoice])
    await uow.outbox.add(invoice.event(), departement=invoice.departement, caused_by=envelope)
    return invoice


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
    [sequence], issued_at = await uow.invoices.take_numbers(invoice.departement, invoice.year, 1)
    credit = invoice.credit_note(sequence=sequence, issued_at=issued_at, reason=reason)
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
