"""The Factur-X file of a stored invoice or credit note: who it is from (the
département's shipped seller), who it is to (the collectivité's invoicing
establishment), what it refers to, rendered by the port.

Buyer identities are not stored yet (issue 14): the caller gives the SIRET and what the
buyer requires; the name and, for an EPCI, the SIREN the SIRET must begin with come from
the invoice itself, and so do, for a mission, the convention it follows: its number, the
engagement number and the service code the collectivité gave when it signed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from services.billing.domain.identities import Buyer, References
from services.billing.domain.invoice import Invoice
from services.billing.domain.shipped_sellers import seller_for
from services.billing.service_layer.ports import FacturXRenderer, UnitOfWork
from shared.contracts.vocabulary import RequesterKind
from shared.errors import NotFound
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
