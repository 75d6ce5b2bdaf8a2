"""The Factur-X file of a stored invoice or credit note, on the fakes: the seller comes
from the département's configuration, the buyer from the invoice and its account, the
convention, engagement number and service code from the signed convention the invoice
follows, a credit note cites the invoice it cancels; what cannot be sent is refused in
French."""

from __future__ import annotations

from uuid import uuid4

import pytest
from lxml import etree

from services.billing import bootstrap
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.invoice import ContractRef
from services.billing.service_layer.facturx import facturx_file
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, NotFound
from tests.support.facturx_samples import (
    COMMUNE_SIRET,
    EPCI_SIREN,
    EPCI_SIRET,
    ISSUED,
    cotisation,
    mission,
)
from tests.unit.fakes.billing import FakeUnitOfWork

NS = {
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
}
RENDERER = bootstrap.facturx_renderer()


async def stored(*invoices):  # type: ignore[no-untyped-def]
    uow = FakeUnitOfWork()
    await uow.invoices.add(list(invoices))
    await uow.commit()
    return uow


SIGNED = ContractRef(
    convention_number="CONV-49-2027-000012", engagement_number="EJ-1", service_code="SERV-TECH"
)
CONVENTION = ".//ram:ContractReferencedDocument/ram:IssuerAssignedID"
ENGAGEMENT = ".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
SERVICE_CODE = ".//ram:BuyerReference"


async def test_a_credit_note_cites_the_stored_invoice_it_cancels_and_its_convention() -> None:
    invoice = mission("49", 3, contract=SIGNED)
    credit = invoice.credit_note(sequence=4, issued_at=ISSUED, reason="Mission annulée")
    uow = await stored(invoice, credit)
    account = BuyerAccount(siret=COMMUNE_SIRET, service_code_required=True)
    got, xml = await facturx_file(uow, credit.id, account, RENDERER, "xml")
    assert got == credit
    tree = etree.fromstring(xml)
    assert tree.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    cited = ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
    assert tree.findtext(cited, namespaces=NS) == invoice.number
    assert tree.findtext(SERVICE_CODE, namespaces=NS) == "SERV-TECH"
    assert tree.findtext(ENGAGEMENT, namespaces=NS) == "EJ-1"
    assert tree.findtext(CONVENTION, namespaces=NS) == "CONV-49-2027-000012"
    seller_id = ".//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID"
    assert tree.findtext(seller_id, namespaces=NS) == "22490001900015"
    assert tree.find(seller_id, namespaces=NS).get("schemeID") == "0009"


async def test_an_epci_invoice_checks_the_siret_against_its_siren() -> None:
    invoice = cotisation("49", RequesterKind.EPCI, EPCI_SIREN, 300_000, 1)
    uow = await stored(invoice)
    _, pdf = await facturx_file(uow, invoice.id, BuyerAccount(siret=EPCI_SIRET), RENDERER)
    assert pdf.startswith(b"%PDF")
    with pytest.raises(DomainValidationError) as exc:
        await facturx_file(uow, invoice.id, BuyerAccount(siret=COMMUNE_SIRET), RENDERER)
    assert [e.field for e in exc.value.errors] == ["buyer.siret"]


async def test_a_mission_invoice_cites_its_signed_convention() -> None:
    invoice = mission("24", 2, contract=SIGNED)
    uow = await stored(invoice)
    account = BuyerAccount(siret=COMMUNE_SIRET, engagement_required=True)
    _, xml = await facturx_file(uow, invoice.id, account, RENDERER, "xml")
    tree = etree.fromstring(xml)
    assert tree.findtext(CONVENTION, namespaces=NS) == SIGNED.convention_number
    assert tree.findtext(ENGAGEMENT, namespaces=NS) == SIGNED.engagement_number
    assert tree.findtext(SERVICE_CODE, namespaces=NS) == SIGNED.service_code


async def test_a_required_engagement_number_missing_is_refused() -> None:
    # A mission invoiced before conventions existed follows none: nothing to cite.
    invoice = mission("24", 1)
    uow = await stored(invoice)
    account = BuyerAccount(siret=COMMUNE_SIRET, engagement_required=True)
    with pytest.raises(DomainValidationError, match="numéro d'engagement juridique"):
        await facturx_file(uow, invoice.id, account, RENDERER)


async def test_an_unknown_invoice_is_not_found() -> None:
    uow = await stored(mission("49", 1))
    with pytest.raises(NotFound, match="Facture introuvable"):
        await facturx_file(uow, uuid4(), BuyerAccount(siret=COMMUNE_SIRET), RENDERER)
