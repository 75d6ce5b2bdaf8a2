"""The Factur-X file of a stored invoice or credit note: who it is from (the
département's shipped seller), who it is to (the collectivité's stored buyer account,
ADR 0017), what it refers to, rendered by the port.

The buyer's name and, for an EPCI, the SIREN its SIRET must begin with come from the
invoice; the SIRET, the default service code and what the buyer requires from its
account; for a mission, the convention it follows: its number, the engagement number and
the service code the collectivité gave when it signed. The API checks ``read_invoice``'s
rule first; the export packs a département's period into Chorus Pro deposit batches
(``domain/deposit_batches.py``) with their manifest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import UUID

from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.deposit_batches import (
    MAX_BATCH_BYTES,
    Batch,
    ManifestRow,
    entry_name,
    named,
    pack,
)
from services.billing.domain.einvoice import TYPE_CREDIT_NOTE, TYPE_INVOICE, references_of
from services.billing.domain.invoice import Invoice, InvoiceFilter
from services.billing.domain.shipped_sellers import seller_for
from services.billing.service_layer.buyers import check_draft
from services.billing.service_layer.invoices import cancelling, read_invoice
from services.billing.service_layer.ports import FacturXRenderer, UnitOfWork
from shared.auth.tokens import Principal
from shared.errors import DomainValidationError, FieldError, NotFound
from shared.french import PARIS

FacturXFormat = Literal["pdf", "xml"]


async def facturx_file(
    uow: UnitOfWork,
    invoice_id: UUID,
    account: BuyerAccount,
    renderer: FacturXRenderer,
    file_format: FacturXFormat = "pdf",
) -> tuple[Invoice, bytes]:
    """The invoice and its Factur-X PDF (or CII XML); a credit note cites the invoice it
    cancels, read here. Refused in French (``DomainValidationError``) before rendering."""
    invoice = await uow.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound("Facture introuvable.")
    references = references_of(invoice)
    if invoice.refers_to is not None:
        cancelled = await uow.invoices.get(invoice.refers_to)
        if cancelled is None:
            raise NotFound("La facture annulée par cet avoir est introuvable.")
        references = cancelling(cancelled)
    render = renderer.pdf if file_format == "pdf" else renderer.xml
    seller = seller_for(invoice.departement)
    contract = invoice.contract
    buyer = account.buyer(invoice.collectivite, contract.service_code if contract else None)
    # Rendering a PDF is about a second of CPU: off the event loop.
    content = await asyncio.to_thread(render, invoice, seller, buyer, references)
    return invoice, content


def no_account(collectivites: list[tuple[str, str]]) -> DomainValidationError:
    """Collectivités (code, name) without a buyer account: their invoices cannot be sent."""
    return DomainValidationError(
        [
            FieldError(
                "buyer.siret",
                f"La collectivité {name} ({code}) n'a pas de compte acheteur : le SIRET de "
                "son établissement de facturation est inconnu (PUT /v1/buyers/"
                f"{code}, ou à la signature d'une convention).",
            )
            for code, name in collectivites
        ]
    )


async def account_of(uow: UnitOfWork, invoice: Invoice) -> BuyerAccount:
    account = await uow.buyers.get(invoice.departement, invoice.collectivite.code)
    if account is None:
        raise no_account([(invoice.collectivite.code, invoice.collectivite.name)])
    return account


async def readable_facturx_file(
    uow: UnitOfWork,
    principal: Principal,
    invoice_id: UUID,
    renderer: FacturXRenderer,
    file_format: FacturXFormat = "pdf",
) -> tuple[Invoice, bytes]:
    """The Factur-X file for whoever may read the invoice (``read_invoice``'s rule,
    checked first, so a 422 never tells that another département's invoice exists), to
    the collectivité's stored buyer account."""
    invoice = await read_invoice(uow, principal, invoice_id)
    account = await account_of(uow, invoice)
    return await facturx_file(uow, invoice_id, account, renderer, file_format)


@dataclass(frozen=True, slots=True)
class Deposit:
    """The batches to deposit, named, and one manifest row per file in batch order."""

    batches: list[Batch]
    rows: list[ManifestRow]


async def _period(uow: UnitOfWork, departement: str, start: date, end: date) -> list[Invoice]:
    found: list[Invoice] = []
    for year in range(start.year, end.year + 1):
        found += await uow.invoices.search(InvoiceFilter(departement, year), limit=None, offset=0)
    return [i for i in found if start <= i.issued_at.astimezone(PARIS).date() <= end]


def _row(invoice: Invoice, account: BuyerAccount, content: bytes) -> ManifestRow:
    credit = invoice.document_kind == "credit_note"
    contract = invoice.contract
    return ManifestRow(
        entry=entry_name(invoice.number),
        number=invoice.number,
        type_code=TYPE_CREDIT_NOTE if credit else TYPE_INVOICE,
        buyer_siret=account.siret,
        service_code=(contract.service_code if contract else None) or account.service_code,
        engagement_number=contract.engagement_number if contract else None,
        # The XML's figure: a credit note's amounts are positive there (ADR 0016).
        amount=Decimal(0) - invoice.totals.incl_tax if credit else invoice.totals.incl_tax,
        content=content,
    )


async def deposit_batches(
    uow: UnitOfWork,
    departement: str,
    period: tuple[date, date],
    stem: str,
    renderer: FacturXRenderer,
    progress: Callable[[int, int], None] = lambda done, total: None,
    limit: int = MAX_BATCH_BYTES,
) -> Deposit:
    """The Factur-X PDFs of the département's invoices and credit notes issued in
    ``period`` (Paris dates, both included), in number order, as Chorus Pro deposit
    batches named after ``stem``, to the stored buyer accounts. Collectivités without an
    account are all refused, before anything is rendered."""
    found = await _period(uow, departement, *period)
    accounts = {
        a.collectivite.code: a
        for a in await uow.buyers.search(departement, limit=None, offset=0)
        if a.collectivite is not None
    }
    who = {(i.collectivite.code, i.collectivite.name) for i in found}
    missing = sorted((code, name) for code, name in who if code not in accounts)
    if missing:
        raise no_account(missing)
    # What the buyers would refuse (a requirement the directory set since), all of it,
    # before a second of rendering is spent.
    refused = []
    for invoice in found:
        try:
            check_draft(invoice, accounts[invoice.collectivite.code])
        except DomainValidationError as exc:
            refused += [FieldError(f"{invoice.number}.{e.field}", e.message) for e in exc.errors]
    if refused:
        raise DomainValidationError(refused)
    rows: list[ManifestRow] = []
    for done, invoice in enumerate(found, 1):
        account = accounts[invoice.collectivite.code]
        _, content = await facturx_file(uow, invoice.id, account, renderer)
        rows.append(_row(invoice, account, content))
        progress(done, len(found))
    batches = pack(departement, period[0].year, [(r.entry, r.content) for r in rows], limit)
    return Deposit(named(batches, stem), rows)
