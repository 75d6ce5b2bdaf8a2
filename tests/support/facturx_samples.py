"""Invoices of the three demo départements with their identities, priced by the shipped
tariffs, for the Factur-X tests: each case names what it covers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from services.billing.domain.identities import (
    Buyer,
    PostalAddress,
    References,
    Seller,
    VatStatus,
    french_vat_number,
)
from services.billing.domain.invoice import (
    Collectivite,
    ContractRef,
    Invoice,
    Line,
    VatRule,
    issue,
)
from services.billing.domain.pricing import cotisation_lines, mission_lines
from services.billing.domain.shipped_sellers import seller_for
from services.billing.domain.shipped_tariffs import tariff_for
from shared.contracts.vocabulary import RequesterKind

ISSUED = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
# Communes have no SIREN in the reference data: these are Luhn-valid stand-ins.
COMMUNE_SIRET = "21490007800012"
# Angers Loire Métropole (communauté urbaine), SIREN 244900015 in shared/refdata, and one
# of its establishments.
EPCI_SIREN = "244900015"
EPCI_SIRET = "24490001500011"


@dataclass(frozen=True)
class Case:
    name: str
    invoice: Invoice
    seller: Seller
    buyer: Buyer
    references: References


def commune_buyer(**changes: object) -> Buyer:
    buyer = Buyer(
        name="Ville d'Angers",
        siret=COMMUNE_SIRET,
        address=PostalAddress(
            line="Boulevard de la Résistance et de la Déportation", postcode="49020", city="Angers"
        ),
    )
    return dataclasses.replace(buyer, **changes)  # type: ignore[arg-type]


def epci_buyer() -> Buyer:
    return Buyer(name="Angers Loire Métropole", siret=EPCI_SIRET, epci_siren=EPCI_SIREN)


def _invoice(departement: str, sequence: int, lines: list[Line], **extra: Any) -> Invoice:
    return issue(
        departement=departement,
        year=2027,
        sequence=sequence,
        issued_at=ISSUED,
        document_kind="invoice",
        tariff_version=1,
        lines=lines,
        **extra,
    )


def cotisation(
    departement: str, kind: RequesterKind, code: str, population: int, sequence: int
) -> Invoice:
    member = "commune" if kind is RequesterKind.COMMUNE else "epci"
    lines = cotisation_lines(tariff_for(departement, 2027), member, population, 2027)
    return _invoice(
        departement,
        sequence,
        lines,
        invoice_kind="cotisation",
        collectivite=Collectivite(code=code, kind=kind, name="Collectivité"),
        source_key=f"cotisation:2027:{code}",
    )


def mission(
    departement: str,
    sequence: int,
    lines: list[Line] | None = None,
    contract: ContractRef | None = None,
) -> Invoice:
    """A mission of Angers; ``contract``, the signed convention it follows."""
    tariff = tariff_for(departement, 2027)
    return _invoice(
        departement,
        sequence,
        lines or mission_lines(tariff, "atd", Decimal("3.5"), True, "Audit énergétique de l'école"),
        invoice_kind="mission",
        collectivite=Collectivite(code="49007", kind=RequesterKind.COMMUNE, name="Angers"),
        source_key=f"mission:{uuid4()}",
        assignment_id=uuid4(),
        contract=contract,
    )


def vat_seller(departement: str = "78") -> Seller:
    """A seller subject to VAT at 20 %, as a département's SPL would be."""
    seller = seller_for(departement)
    return dataclasses.replace(
        seller,
        vat=VatStatus(category="S", rate=Decimal("0.20"), mention=None),
        vat_number=french_vat_number(seller.siren),
        late_payment="commercial",
    )


def cases(departement: str) -> list[Case]:
    """For one département: a commune's cotisation, an EPCI's cotisation, a mission with
    convention + engagement + service code, its credit note, a mission at 20 % VAT, and
    the credit note of the EPCI's cotisation."""
    seller = seller_for(departement)
    commune = cotisation(departement, RequesterKind.COMMUNE, "49007", 1234, 1)
    epci = cotisation(departement, RequesterKind.EPCI, EPCI_SIREN, 300_000, 2)
    referenced = mission(departement, 3)
    credit = referenced.credit_note(sequence=4, issued_at=ISSUED, reason="Mission annulée")
    twenty = VatRule(rate=Decimal("0.20"), mention=None)
    taxed = mission(
        departement,
        5,
        [
            Line.priced(
                "mission",
                "Assistance à maîtrise d'ouvrage",
                Decimal("2.5"),
                "jour",
                Decimal("433.33"),
                Decimal("2.5") * Decimal("433.33"),
                twenty,
            )
        ],
    )
    chorus = commune_buyer(
        service_code="SERV-TECH", service_code_required=True, engagement_required=True
    )
    refs = References(
        convention_number=f"CONV-{departement}-2027-0012", engagement_number="EJ-2027-000451"
    )
    return [
        Case(
            f"{departement} cotisation commune (O)", commune, seller, commune_buyer(), References()
        ),
        Case(f"{departement} cotisation EPCI", epci, seller, epci_buyer(), References()),
        Case(
            f"{departement} mission convention+engagement+service", referenced, seller, chorus, refs
        ),
        Case(
            f"{departement} avoir",
            credit,
            seller,
            chorus,
            dataclasses.replace(
                refs, cancelled_number=referenced.number, cancelled_issued_on=ISSUED.date()
            ),
        ),
        Case(
            f"{departement} mission TVA 20 %",
            taxed,
            vat_seller(departement),
            commune_buyer(),
            References(),
        ),
        # A ceiling adjustment (a negative unit price) cancelled: quantity -1 at a positive
        # price on the invoice, +1 × negative price on the stored credit note.
        Case(
            f"{departement} avoir EPCI plafonné",
            epci.credit_note(sequence=6, issued_at=ISSUED, reason="Adhésion résiliée"),
            seller,
            epci_buyer(),
            References(cancelled_number=epci.number, cancelled_issued_on=ISSUED.date()),
        ),
    ]
