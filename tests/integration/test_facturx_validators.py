"""Factur-X files held against validators others wrote: the CEN's EN 16931 Schematron
(Saxon), factur-x's XSD check and Mustang (veraPDF for PDF/A-3, then the XML), for each
demo département's cotisation (commune, EPCI), mission with convention + engagement +
service code, credit note and invoice at 20 % VAT."""

from __future__ import annotations

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

from services.billing.adapters.facturx_pdf import facturx_pdf
from services.billing.adapters.facturx_xml import cii_xml
from services.billing.domain.einvoice import einvoice
from services.billing.domain.facturx_html import render_facturx_html
from services.billing.domain.identities import References
from services.billing.domain.shipped_sellers import seller_for
from shared.contracts.vocabulary import RequesterKind
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
from tests.support.validators import Schematron, mustang, schematron


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
