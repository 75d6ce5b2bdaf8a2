"""The Factur-X file of a stored invoice or credit note: who it is from (the
département's shipped seller), who it is to (the collectivité's invoicing
establishment), what it refers to, rendered by the port.

Buyer identities are not stored yet (issue 14): the caller gives the SIRET and what the
buyer requires; the name and, for an EPCI, the SIREN the SIRET must begin with come from
the invoice itself, and so do, for a mission, the convention it follows: its number, the
engagement number and the service code the collectivité gave when it signed. The API
checks ``read_invoice``'s rule first; the export packs a département's year into Chorus
Pro deposit batches (``domain/deposit_batches.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from services.billing.domain.deposit_batches import MAX_BATCH_BYTES, Batch, entry_name, pack
from services.billing.domain.identities import Buyer, References
from services.billing.domain.invoice import Invoice, InvoiceFilter
from services.billing.domain.shipped_sellers import seller_for
from services.billing.service_layer.invoices import read_invoice
from services.billing.service_layer.ports import FacturXRenderer, UnitOfWork
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, FieldError, NotFound
from shared.french import PARIS

FacturXFormat = Literal["pdf", "xml"]


@dataclass(frozen=True, slots=True)
class BuyerAccount:
    """What Chorus Pro knows of the collectivité: its invoicing establishment and needs."""

    siret: str
    service_code_required: bool = False
    engagement_required: bool = False


def buyer_of(invoice: Invoice, account: BuyerAccount) -> Buyer:
    who = invoice.collectivite
    return Buyer(
        name=who.name,
        siret=account.siret,
        # An EPCI's code is its SIREN in the reference data; communes have none there.
        epci_siren=who.code if who.kind is RequesterKind.EPCI else None,
        service_code=invoice.contract.service_code if invoice.contract else None,
        service_code_required=account.service_code_required,
        engagement_required=account.engagement_required,
    )


def references_of(invoice: Invoice) -> References:
    """The signed convention a mission invoice (or its credit note) follows; a cotisation
    follows none."""
    contract = invoice.contract
    if contract is None:
        return References()
    return References(
        convention_number=contract.convention_number,
        engagement_number=contract.engagement_number,
    )


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
        references = dataclasses.replace(
            references,
            cancelled_number=cancelled.number,
            cancelled_issued_on=cancelled.issued_at.astimezone(PARIS).date(),
        )
    render = renderer.pdf if file_format == "pdf" else renderer.xml
    seller = seller_for(invoice.departement)
    # Rendering a PDF is about a second of CPU: off the event loop.
    content = await asyncio.to_thread(
        render, invoice, seller, buyer_of(invoice, account), references
    )
    return invoice, content


def unknown_siret(collectivite: str | None = None) -> DomainValidationError:
    whose = f" de la collectivité {collectivite}" if collectivite else ""
    return DomainValidationError(
        [
            FieldError(
                "buyer.siret",
                f"SIRET de l'établissement de facturation{whose} inconnu : indiquez-le "
                "tant que les identités des acheteurs ne sont pas enregistrées.",
            )
        ]
    )


async def readable_facturx_file(
    uow: UnitOfWork,
    principal: Principal,
    invoice_id: UUID,
    siret: str | None,
    renderer: FacturXRenderer,
    file_format: FacturXFormat = "pdf",
) -> tuple[Invoice, bytes]:
    """The Factur-X file for whoever may read the invoice (``read_invoice``'s rule,
    checked first, so a 422 never tells that another département's invoice exists)."""
    await read_invoice(uow, principal, invoice_id)
    # Buyer identities are not stored yet (issue 14): the caller gives the SIRET.
    if siret is None:
        raise unknown_siret()
    return await facturx_file(uow, invoice_id, BuyerAccount(siret=siret), renderer, file_format)


async def deposit_batches(
    uow: UnitOfWork,
    departement: str,
    year: int,
    accounts: Mapping[str, BuyerAccount],
    renderer: FacturXRenderer,
    progress: Callable[[int, int], None] = lambda done, total: None,
    limit: int = MAX_BATCH_BYTES,
) -> list[Batch]:
    """The Factur-X PDFs of the département's invoices and credit notes of ``year``, in
    number order, as Chorus Pro deposit batches. ``accounts`` by collectivité code; a
    collectivité without one is refused before anything is rendered."""
    found = await uow.invoices.search(InvoiceFilter(departement, year), limit=None, offset=0)
    missing = sorted({i.collectivite.code for i in found} - accounts.keys())
    if missing:
        raise DomainValidationError([e for code in missing for e in unknown_siret(code).errors])
    files: list[tuple[str, bytes]] = []
    for done, invoice in enumerate(found, 1):
        account = accounts[invoice.collectivite.code]
        _, content = await facturx_file(uow, invoice.id, account, renderer)
        files.append((entry_name(invoice.number), content))
        progress(done, len(found))
    return pack(departement, year, files, limit)
