"""The EN 16931 view of an invoice: mentions, signs, totals, and what is refused before
any XML is written."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from services.billing.domain.einvoice import (
    COMMERCIAL_LATE_PAYMENT,
    NO_DISCOUNT,
    PUBLIC_LATE_PAYMENT,
    RECOVERY_INDEMNITY,
    einvoice,
)
from services.billing.domain.facturx_html import render_facturx_html
from services.billing.domain.identities import References
from services.billing.domain.invoice import round_cents
from services.billing.domain.shipped_sellers import seller_for
from shared.errors import DomainValidationError
from tests.support.facturx_samples import cases, commune_buyer, mission, vat_seller


def by_name(departement: str, fragment: str):  # type: ignore[no-untyped-def]
    return next(c for c in cases(departement) if fragment in c.name)


def test_every_mandatory_mention_of_the_sellers_regime_is_present() -> None:
    public = by_name("49", "cotisation commune")
    doc = einvoice(public.invoice, public.seller, public.buyer, public.references)
    html = render_facturx_html(doc)
    assert [(n.subject, n.text) for n in doc.notes] == [("PMD", PUBLIC_LATE_PAYMENT)]
    assert doc.breakdown[0].exemption_reason == "TVA non applicable, article 256 B du CGI"
    assert doc.breakdown[0].exemption_code == "VATEX-EU-O"
    for mention in (PUBLIC_LATE_PAYMENT, "TVA non applicable, article 256 B du CGI"):
        assert mention.replace("'", "&#x27;") in html

    taxed = by_name("49", "TVA 20")
    doc = einvoice(taxed.invoice, taxed.seller, taxed.buyer, taxed.references)
    html = render_facturx_html(doc)
    assert {n.subject: n.text for n in doc.notes} == {
        "PMD": COMMERCIAL_LATE_PAYMENT,
        "PMT": RECOVERY_INDEMNITY,
        "AAB": NO_DISCOUNT,
    }
    for mention in (COMMERCIAL_LATE_PAYMENT, RECOVERY_INDEMNITY, NO_DISCOUNT):
        assert mention.replace("'", "&#x27;") in html
    # Printed for the mairie: who, the bank, its account, the SIRETs, the due date.
    seller = taxed.seller
    for text in (
        seller.bank.bank_name,
        seller.bank.iban,
        seller.bank.bic,
        seller.siret,
        taxed.buyer.siret,
        seller.vat_number or "?",
        "Échéance : 31/03/2027",
    ):
        assert text.replace("'", "&#x27;") in html


def test_totals_agree_with_the_stored_ones_to_the_cent() -> None:
    for case in cases("24"):
        doc = einvoice(case.invoice, case.seller, case.buyer, case.references)
        stored = case.invoice.totals
        sign = -1 if doc.is_credit_note else 1
        assert (doc.line_total, doc.tax_total, doc.grand_total) == (
            sign * stored.excl_tax,
            sign * stored.vat,
            sign * stored.incl_tax,
        )
        assert sum(line.net_amount for line in doc.lines) == doc.line_total
        assert all(line.net_price >= 0 for line in doc.lines)
        # Quantity × price gives the line's amount, adjustments included.
        for line in doc.lines:
            assert round_cents(line.quantity * line.net_price) == line.net_amount


def test_a_taxed_invoice_charges_20_percent_per_line() -> None:
    taxed = by_name("78", "TVA 20")
    doc = einvoice(taxed.invoice, taxed.seller, taxed.buyer, taxed.references)
    assert [(g.category, g.rate_percent, g.basis, g.tax) for g in doc.breakdown] == [
        ("S", Decimal("20.00"), Decimal("1083.33"), Decimal("216.67"))
    ]
    assert doc.grand_total == Decimal("1300.00")


def test_a_credit_note_is_381_with_positive_amounts_citing_the_invoice() -> None:
    credit = by_name("49", "avoir")
    assert credit.invoice.totals.incl_tax < 0
    doc = einvoice(credit.invoice, credit.seller, credit.buyer, credit.references)
    assert doc.type_code == "381" and doc.due_date is None
    assert doc.grand_total == -credit.invoice.totals.incl_tax > 0
    assert "à déduire de la facture n° 49-2027-000003" in doc.payment_terms
    with pytest.raises(DomainValidationError, match="cite le numéro et la date"):
        einvoice(credit.invoice, credit.seller, credit.buyer, References())


def test_a_missing_seller_siret_is_refused_before_any_xml() -> None:
    case = by_name("49", "cotisation commune")
    broken = dataclasses.replace(case.seller, siret="")
    with pytest.raises(DomainValidationError) as exc:
        einvoice(case.invoice, broken, case.buyer, case.references)
    assert [e.field for e in exc.value.errors] == ["seller.siret"]


def test_an_invoice_of_another_departement_or_vat_regime_is_refused() -> None:
    case = by_name("49", "cotisation commune")
    with pytest.raises(DomainValidationError, match="département 24 ne peut pas émettre"):
        einvoice(case.invoice, seller_for("24"), case.buyer, case.references)
    taxed = by_name("49", "TVA 20")
    with pytest.raises(DomainValidationError, match="hors du champ de la TVA mais la ligne"):
        einvoice(taxed.invoice, seller_for("49"), taxed.buyer, taxed.references)


def test_a_zero_rate_line_from_a_taxed_seller_is_exempt_with_its_mention() -> None:
    invoice = mission("49", 9)
    doc = einvoice(invoice, vat_seller("49"), commune_buyer(), References())
    assert [(g.category, g.rate_percent, g.exemption_reason) for g in doc.breakdown] == [
        ("E", Decimal(0), "TVA non applicable, article 256 B du CGI")
    ]


def test_totals_that_are_not_the_sum_of_the_lines_are_never_sent() -> None:
    case = by_name("49", "cotisation commune")
    wrong = dataclasses.replace(
        case.invoice, totals=dataclasses.replace(case.invoice.totals, incl_tax=Decimal("1.00"))
    )
    with pytest.raises(DomainValidationError, match="ne sont pas la somme de ses lignes"):
        einvoice(wrong, case.seller, case.buyer, case.references)
