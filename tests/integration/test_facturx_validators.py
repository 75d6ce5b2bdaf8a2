"""Factur-X files held against validators others wrote: the CEN's EN 16931 Schematron
(Saxon), factur-x's XSD check and Mustang (veraPDF for PDF/A-3, then the XML), for each
demo département's cotisation (commune, EPCI), mission with convention + engagement +
service code, credit note and invoice at 20 % VAT; and the same kinds issued by the
service's use cases on a real database, to the stored buyer accounts."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import facturx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader
from weasyprint import HTML

from services.billing import bootstrap
from services.billing.adapters.facturx_pdf import facturx_pdf
from services.billing.adapters.facturx_xml import cii_xml
from services.billing.domain.einvoice import einvoice
from services.billing.domain.facturx_html import render_facturx_html
from services.billing.domain.identities import References
from services.billing.domain.shipped_sellers import seller_for
from services.billing.service_layer.facturx import account_of, facturx_file
from shared.contracts.vocabulary import RequesterKind
from shared.db.engine import make_engine, make_session_factory
from shared.french import euros
from tests.support.facturx_samples import (
    EPCI_SIREN,
    ISSUED,
    Case,
    cases,
    commune_buyer,
    cotisation,
    epci_buyer,
)
from tests.support.issued_invoices import Issued, issue_for
from tests.support.validators import Schematron, mustang, schematron

NS = {
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
}


@dataclass(frozen=True)
class Produced:
    case: Case
    xml: bytes
    pdf: bytes


@pytest.fixture(scope="module")
def en16931() -> Iterator[Schematron]:
    with schematron() as compiled:
        yield compiled


@pytest.fixture(scope="module")
def produced() -> list[Produced]:
    out = []
    for departement in ("49", "24", "78"):
        for case in cases(departement):
            args = (case.invoice, case.seller, case.buyer, case.references)
            out.append(Produced(case, cii_xml(*args), facturx_pdf(*args)))
    return out


def test_every_xml_has_no_fatal_en16931_failure(
    en16931: Schematron, produced: list[Produced]
) -> None:
    assert len(produced) == 18
    for item in produced:
        assert en16931.fatal(item.xml) == [], item.case.name


def test_a_wrong_total_makes_the_schematron_fail(
    en16931: Schematron, produced: list[Produced]
) -> None:
    xml = produced[0].xml
    wrong = re.sub(rb"<ram:GrandTotalAmount>[0-9.]+<", b"<ram:GrandTotalAmount>1.00<", xml)
    assert wrong != xml
    assert "BR-CO-15" in {f.rule for f in en16931.fatal(wrong)}


def test_every_pdf_carries_its_xml_checked_by_facturx_and_reads_in_french(
    produced: list[Produced],
) -> None:
    for item in produced:
        name, embedded = facturx.get_xml_from_pdf(item.pdf, check_xsd=True)
        assert (name, embedded) == ("factur-x.xml", item.xml), item.case.name
        assert facturx.get_level(etree.fromstring(embedded)) == "en16931"
        text = " ".join(PdfReader(io.BytesIO(item.pdf)).pages[0].extract_text().split())
        doc = einvoice(item.case.invoice, item.case.seller, item.case.buyer, item.case.references)
        for expected in (item.case.invoice.number, item.case.buyer.name, euros(doc.grand_total)):
            assert " ".join(expected.split()) in text, (item.case.name, expected)


def test_the_same_invoice_gives_the_same_bytes(produced: list[Produced]) -> None:
    item = produced[2]
    case = item.case
    assert facturx_pdf(case.invoice, case.seller, case.buyer, case.references) == item.pdf


def test_mustang_says_valid_and_refuses_a_pdf_that_is_not_pdf_a(
    produced: list[Produced], tmp_path: Path
) -> None:
    # One département's six kinds (O, EPCI, references, credit note, S 20 %, EPCI credit
    # note) and a bare XML.
    files = []
    for index, item in enumerate(produced[:6]):
        files.append(tmp_path / f"{index}.pdf")
        files[-1].write_bytes(item.pdf)
    bare = tmp_path / "bare.xml"
    bare.write_bytes(produced[2].xml)
    # The same XML in a plain PDF (no PDF/A variant): Mustang must say no.
    doc = einvoice(
        produced[0].case.invoice,
        produced[0].case.seller,
        produced[0].case.buyer,
        produced[0].case.references,
    )
    plain_pdf = HTML(string=render_facturx_html(doc)).write_pdf()
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(
        facturx.generate_from_binary(plain_pdf, produced[0].xml, flavor="factur-x", level="en16931")
    )
    reports = mustang([*files, bare, plain], tmp_path)
    verdicts = {r.path.name: r.valid for r in reports}
    assert verdicts == {**{f.name: True for f in files}, "bare.xml": True, "plain.pdf": False}, [
        (r.path.name, r.report[-2000:]) for r in reports if not r.valid
    ]
    assert reports[-1].returncode == 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    departement=st.sampled_from(["49", "24", "78", "01"]),
    kind=st.sampled_from([RequesterKind.COMMUNE, RequesterKind.EPCI]),
    population=st.integers(min_value=0, max_value=2_500_000),
    cancelled=st.booleans(),
)
def test_any_priced_cotisation_or_its_credit_note_passes_the_rules(
    en16931: Schematron,
    departement: str,
    kind: RequesterKind,
    population: int,
    cancelled: bool,
) -> None:
    # Département 01 has no tariff of its own (the national reference) and no seller file:
    # Maine-et-Loire's seller stands in, relabelled.
    code = EPCI_SIREN if kind is RequesterKind.EPCI else "49007"
    invoice = cotisation(departement, kind, code, population, 7)
    seller = dataclasses.replace(seller_for("49"), departement=departement)
    buyer = epci_buyer() if kind is RequesterKind.EPCI else commune_buyer()
    references = References()
    if cancelled:
        references = References(cancelled_number=invoice.number, cancelled_issued_on=ISSUED.date())
        invoice = invoice.credit_note(sequence=8, issued_at=ISSUED, reason="Erreur de population")
    xml = cii_xml(invoice, seller, buyer, references)
    assert en16931.fatal(xml) == [], (departement, kind, population, cancelled)


# --- issued through the service, on the real database -------------------------------


@dataclass(frozen=True)
class IssuedXml:
    issued: Issued
    xml: dict[str, bytes]  # by invoice number


@pytest.fixture(scope="module")
def issued_xml(billing_database_url: str) -> list[IssuedXml]:
    """For 49, 24 and 78: a cotisation to a commune and to an EPCI (the cotisation run),
    a mission with its signed convention (engagement number, service code, SIRET) and a
    credit note, issued by the use cases; their CII XML to the stored buyer accounts."""

    async def go() -> list[IssuedXml]:
        engine = make_engine(billing_database_url, pool_size=2)
        unit_of_work = bootstrap.standalone_unit_of_work(make_session_factory(engine), "billing")
        renderer = bootstrap.facturx_renderer()
        out = []
        try:
            for departement in ("49", "24", "78"):
                issued = await issue_for(unit_of_work, departement)
                xml = {}
                for invoice in issued.all:
                    async with unit_of_work() as uow:
                        account = await account_of(uow, invoice)
                        _, xml[invoice.number] = await facturx_file(
                            uow, invoice.id, account, renderer, "xml"
                        )
                out.append(IssuedXml(issued, xml))
        finally:
            await engine.dispose()
        return out

    return asyncio.run(go())


@pytest.mark.postgres
def test_invoices_issued_by_the_service_have_no_fatal_en16931_failure(
    en16931: Schematron, issued_xml: list[IssuedXml]
) -> None:
    assert sum(len(i.xml) for i in issued_xml) == 12
    for item in issued_xml:
        for number, xml in item.xml.items():
            assert en16931.fatal(xml) == [], (number, en16931.fatal(xml))
        issued = item.issued
        mission = etree.fromstring(item.xml[issued.mission.number])
        assert mission.findtext(".//ram:BuyerReference", namespaces=NS) == "SERV-TECH"
        engagement = ".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
        assert mission.findtext(engagement, namespaces=NS) == (
            f"EJ-{issued.departement}-2027-000042"
        )
        contract = ".//ram:ContractReferencedDocument/ram:IssuerAssignedID"
        assert mission.findtext(contract, namespaces=NS).startswith(f"CONV-{issued.departement}-")
        credit = etree.fromstring(item.xml[issued.credit_note.number])
        assert credit.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
        cited = ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        assert credit.findtext(cited, namespaces=NS) == issued.commune_cotisation.number
        epci = etree.fromstring(item.xml[issued.epci_cotisation.number])
        buyer_id = ".//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID"
        assert epci.findtext(buyer_id, namespaces=NS).startswith(
            issued.epci_cotisation.collectivite.code
        )


@pytest.mark.postgres
def test_a_wrong_total_in_an_issued_invoice_makes_the_schematron_fail(
    en16931: Schematron, issued_xml: list[IssuedXml]
) -> None:
    issued = issued_xml[0].issued
    xml = issued_xml[0].xml[issued.mission.number]
    wrong = re.sub(rb"<ram:GrandTotalAmount>[0-9.]+<", b"<ram:GrandTotalAmount>1.00<", xml)
    assert wrong != xml
    assert "BR-CO-15" in {f.rule for f in en16931.fatal(wrong)}
