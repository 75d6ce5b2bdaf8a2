"""Billing identities: SIRET, SIREN, IBAN and BIC checks, the seller of each département
and the buyer an invoice is addressed to, refused field by field in French."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from services.billing.domain.identities import (
    Buyer,
    References,
    VatStatus,
    bic_valid,
    check_buyer,
    french_vat_number,
    iban_valid,
    siren_valid,
    siret_valid,
)
from services.billing.domain.shipped_sellers import parse_seller_json, seller_for
from shared.errors import DomainValidationError, NotFound
from shared.refdata.territories import get_territories
from tests.support.facturx_samples import EPCI_SIREN, EPCI_SIRET, commune_buyer


def fields(exc: pytest.ExceptionInfo[DomainValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_siret_siren_known_numbers() -> None:
    assert siren_valid("224900019")  # Département de Maine-et-Loire
    assert siret_valid("22490001900015")
    assert not siret_valid("22490001900016")  # wrong key
    assert not siret_valid("2249000190001")  # 13 digits
    assert not siret_valid("2249000190001A")


def test_la_poste_establishments_follow_the_sum_of_digits_rule() -> None:
    # 35600000049837: a La Poste establishment, valid by INSEE's rule though not by Luhn.
    assert siret_valid("35600000049837")
    assert not siret_valid("35600000049838")
    assert siret_valid("35600000000048")  # the head office keeps the Luhn key


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_siret_agrees_with_python_stdnum(number: str) -> None:
    assert siret_valid(number) == stdnum_siret.is_valid(number)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_siren_agrees_with_python_stdnum(number: str) -> None:
    assert siren_valid(number) == stdnum_siren.is_valid(number)


@given(st.from_regex(r"FR[0-9]{2}[0-9]{10}[A-Z0-9]{11}[0-9]{2}", fullmatch=True))
def test_iban_agrees_with_python_stdnum(number: str) -> None:
    assert iban_valid(number) == stdnum_iban.is_valid(number)


def test_iban_bic_and_vat_number() -> None:
    assert iban_valid("FR7630006000011234567890189")
    assert not iban_valid("FR7630006000011234567890188")
    assert bic_valid("BDFEFRPPCCT") and bic_valid("AGRIFRPP")
    assert not bic_valid("BDFE FRPP") and not bic_valid("BDFEFRPPCC")
    assert french_vat_number("224900019") == "FR79224900019"


def test_each_demo_departement_has_a_valid_seller() -> None:
    for code in ("49", "24", "78"):
        seller = seller_for(code)
        assert seller.departement == code
        assert seller.vat.category == "O" and "256 B" in (seller.vat.mention or "")
        assert seller.bank.bank_name
    with pytest.raises(NotFound, match="département 01"):
        seller_for("01")


def test_a_broken_seller_is_refused_field_by_field_in_french() -> None:
    seller = dataclasses.replace(
        seller_for("49"),
        siret="",
        bank=dataclasses.replace(seller_for("49").bank, iban="FR7630006000011234567890188"),
        vat=VatStatus(category="S", rate=Decimal("0.20"), mention=None),
    )
    with pytest.raises(DomainValidationError) as exc:
        seller.check()
    found = fields(exc)
    assert found["seller.siret"] == "Le SIRET du vendeur est obligatoire."
    assert "n'est pas valide (clé mod 97)" in found["seller.bank.iban"]
    assert "numéro de TVA intracommunautaire" in found["seller.vat_number"]


def test_a_seller_file_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(DomainValidationError) as exc:
        parse_seller_json('{"departement": "49", "colour": "blue"}')
    assert "seller.colour" in fields(exc)
    assert all("Configuration du vendeur invalide" in m for m in fields(exc).values())


def test_an_epci_siret_must_begin_with_its_siren_from_the_reference_data() -> None:
    assert get_territories().epci(EPCI_SIREN) is not None
    epci = Buyer(name="Angers Loire Métropole", siret=EPCI_SIRET, epci_siren=EPCI_SIREN)
    assert check_buyer(epci, References()) is epci
    other = dataclasses.replace(epci, siret="22490001900015")
    with pytest.raises(DomainValidationError) as exc:
        check_buyer(other, References())
    assert "n'appartient pas à l'EPCI de SIREN 244900015" in fields(exc)["buyer.siret"]


def test_a_buyer_that_requires_a_service_code_and_an_engagement_gets_them() -> None:
    buyer = commune_buyer(service_code_required=True, engagement_required=True)
    with pytest.raises(DomainValidationError) as exc:
        check_buyer(buyer, References())
    found = fields(exc)
    assert "exige un code service Chorus Pro" in found["buyer.service_code"]
    assert "exige un numéro d'engagement juridique" in found["buyer.engagement_number"]
    ok = dataclasses.replace(buyer, service_code="SERV-TECH")
    assert check_buyer(ok, References(engagement_number="EJ-2027-000451")) is ok


def test_malformed_references_and_siret_are_refused() -> None:
    buyer = commune_buyer(siret="21490007800013", service_code="<script>")
    with pytest.raises(DomainValidationError) as exc:
        check_buyer(buyer, References(engagement_number="x" * 51))
    found = fields(exc)
    assert "n'est pas un SIRET valide" in found["buyer.siret"]
    assert "Le code service « <script> » n'est pas valide" in found["buyer.service_code"]
    assert "au plus 50 caractères" in found["buyer.engagement_number"]
