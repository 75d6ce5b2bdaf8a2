"""Who an invoice is from and to, as a public buyer's platform (Chorus Pro) checks it.

The seller is the département's structure (one per département, from configuration);
the buyer is the invoicing establishment of a commune or an EPCI. Every identifier is
checked here, before any invoice number is taken, with a French message naming the
field, since a person fixes them:
- SIREN (9 digits) and SIRET (14 digits) carry a Luhn key; La Poste's establishments
  (SIREN 356000000) are numbered beyond what the Luhn key allows, so INSEE checks them
  by the sum of their digits being a multiple of 5;
- an IBAN carries its ISO 13616 mod-97 key; a BIC is 8 or 11 characters of a fixed
  shape (ISO 9362);
- an intra-community VAT number is only needed when VAT is charged (category ``S``);
  the French one is ``FR`` + a key computed from the SIREN + the SIREN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.errors import DomainValidationError, FieldError

VatCategory = Literal["O", "S"]
LatePaymentRegime = Literal["commercial", "public"]

LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
OUTSIDE_VAT_MENTION = "TVA non applicable, article 256 B du CGI"

_DIGITS = re.compile(r"[0-9]+")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# A Chorus Pro service code and an engagement number: short printable identifiers
# (the directory's codes are up to 100 characters; engagement numbers up to 50).
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]*")


def compact(value: str) -> str:
    """``value`` without the spaces, dots and dashes people type in identifiers."""
    return re.sub(r"[\s.\-]", "", value).upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def siren_valid(value: str) -> bool:
    return len(value) == 9 and _DIGITS.fullmatch(value) is not None and luhn_valid(value)


def siret_valid(value: str) -> bool:
    if len(value) != 14 or _DIGITS.fullmatch(value) is None:
        return False
    if value.startswith(LA_POSTE_SIREN) and value != LA_POSTE_HEAD_OFFICE:
        # La Poste's head office keeps the Luhn key; its other establishments use
        # INSEE's exception: the sum of the digits is a multiple of 5.
        return sum(int(c) for c in value) % 5 == 0
    return luhn_valid(value) and siren_valid(value[:9])


def iban_valid(value: str) -> bool:
    if _IBAN.fullmatch(value) is None:
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def bic_valid(value: str) -> bool:
    return _BIC.fullmatch(value) is not None


def french_vat_number(siren: str) -> str:
    """The intra-community VAT number of a French SIREN."""
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


class _Checks:
    """Collects every wrong field, so one answer lists them all."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.prefix}.{field}", message))

    def required(self, field: str, value: str | None, what: str) -> bool:
        if value is None or not value.strip():
            self.fail(field, f"{what} est obligatoire.")
            return False
        return True

    def siret(self, field: str, value: str | None, what: str) -> None:
        if not self.required(field, value, what):
            return
        assert value is not None
        if not siret_valid(value):
            self.fail(
                field,
                f"{what} « {value} » n'est pas un SIRET valide "
                "(14 chiffres dont une clé de contrôle).",
            )

    def reference(self, field: str, value: str | None, what: str, limit: int) -> None:
        if value is not None and (len(value) > limit or _REFERENCE.fullmatch(value) is None):
            self.fail(
                field,
                f"{what} « {value} » n'est pas valide (au plus {limit} caractères : "
                "lettres, chiffres, espaces, « . _ / - »).",
            )

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainValidationError(self.errors)


@dataclass(frozen=True, slots=True)
class PostalAddress:
    line: str
    postcode: str
    city: str
    country: str = "FR"

    def check(self, checks: _Checks, field: str) -> None:
        checks.required(f"{field}.line", self.line, "L'adresse")
        checks.required(f"{field}.city", self.city, "La commune de l'adresse")
        if self.country == "FR" and re.fullmatch(r"[0-9]{5}", self.postcode) is None:
            checks.fail(
                f"{field}.postcode", f"Le code postal « {self.postcode} » n'a pas 5 chiffres."
            )


@dataclass(frozen=True, slots=True)
class VatStatus:
    """Outside VAT (``O``, with the legal mention) or subject to it (``S``, with a rate)."""

    category: VatCategory
    rate: Decimal = Decimal(0)
    mention: str | None = OUTSIDE_VAT_MENTION


@dataclass(frozen=True, slots=True)
class BankAccount:
    iban: str
    bic: str
    bank_name: str


@dataclass(frozen=True, slots=True)
class Seller:
    """The département's structure that invoices, as its configuration describes it."""

    departement: str
    legal_name: str
    siret: str
    address: PostalAddress
    vat: VatStatus
    bank: BankAccount
    payment_days: int
    late_payment: LatePaymentRegime
    vat_number: str | None = None
    email: str | None = None

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def check(self) -> Seller:
        """This seller, or every wrong field in one :class:`DomainValidationError`."""
        checks = _Checks("seller")
        checks.required("legal_name", self.legal_name, "La raison sociale du vendeur")
        checks.siret("siret", self.siret, "Le SIRET du vendeur")
        self.address.check(checks, "address")
        if not iban_valid(self.bank.iban):
            checks.fail("bank.iban", f"L'IBAN « {self.bank.iban} » n'est pas valide (clé mod 97).")
        if not bic_valid(self.bank.bic):
            checks.fail(
                "bank.bic", f"Le BIC « {self.bank.bic} » n'est pas valide (8 ou 11 caractères)."
            )
        checks.required("bank.bank_name", self.bank.bank_name, "Le nom de la banque")
        if not 0 <= self.payment_days <= 60:
            checks.fail("payment_days", "Le délai de paiement va de 0 à 60 jours.")
        if self.vat.category == "S":
            if not Decimal(0) < self.vat.rate < Decimal(1):
                checks.fail(
                    "vat.rate", "Un vendeur assujetti à la TVA indique un taux (0,20 pour 20 %)."
                )
            if self.vat_number is None or (
                siret_valid(self.siret) and self.vat_number != french_vat_number(self.siren)
            ):
                expected = french_vat_number(self.siren) if siret_valid(self.siret) else "FR…"
                checks.fail(
                    "vat_number",
                    f"Le numéro de TVA intracommunautaire du vendeur est obligatoire quand la "
                    f"TVA s'applique ; attendu : {expected}.",
                )
        elif self.vat.category == "O":
            checks.required("vat.mention", self.vat.mention, "La mention d'exonération de TVA")
            if self.vat_number is not None:
                checks.fail(
                    "vat_number",
                    "Un vendeur hors du champ de la TVA ne porte pas de numéro de TVA "
                    "sur ses factures.",
                )
        checks.raise_if_any()
        return self


@dataclass(frozen=True, slots=True)
class Buyer:
    """The invoicing establishment of a commune or an EPCI, as Chorus Pro knows it.

    ``epci_siren`` is the SIREN that the reference data gives for an EPCI (none for a
    commune): the SIRET of its invoicing establishment must begin with it.
    """

    name: str
    siret: str
    address: PostalAddress | None = None
    epci_siren: str | None = None
    service_code: str | None = None
    service_code_required: bool = False
    engagement_required: bool = False
    service_or_engagement_required: bool = False


@dataclass(frozen=True, slots=True)
class References:
    """What ties an invoice to its buyer's papers, all optional.

    ``convention_number`` (BT-12) and ``engagement_number`` (BT-13) come from the
    signed convention; a credit note names the invoice it cancels and its date (BT-25,
    BT-26).
    """

    convention_number: str | None = None
    engagement_number: str | None = None
    cancelled_number: str | None = None
    cancelled_issued_on: date | None = None


def check_buyer(buyer: Buyer, references: References) -> Buyer:
    """``buyer`` if an invoice can be addressed to it with ``references``."""
    checks = _Checks("buyer")
    checks.required("name", buyer.name, "Le nom de l'acheteur")
    checks.siret("siret", buyer.siret, "Le SIRET de l'établissement facturé")
    if buyer.epci_siren is not None and not buyer.siret.startswith(buyer.epci_siren):
        checks.fail(
            "siret",
            f"Le SIRET « {buyer.siret} » n'appartient pas à l'EPCI de SIREN {buyer.epci_siren} "
            "(ses 9 premiers chiffres doivent être ce SIREN).",
        )
    if buyer.address is not None:
        buyer.address.check(checks, "address")
    if buyer.service_code_required and not buyer.service_code:
        checks.fail(
            "service_code",
            "Cet acheteur exige un code service Chorus Pro ; il manque (annuaire Chorus Pro).",
        )
    checks.reference("service_code", buyer.service_code, "Le code service", 100)
    if buyer.engagement_required and not references.engagement_number:
        checks.fail(
            "engagement_number",
            "Cet acheteur exige un numéro d'engagement juridique ; "
            "il manque (à reprendre de la convention signée).",
        )
    if (
        buyer.service_or_engagement_required
        and not buyer.service_code
        and not references.engagement_number
    ):
        checks.fail(
            "engagement_number",
            "Cet acheteur exige un code service ou un numéro d'engagement juridique ; "
            "les deux manquent (annuaire Chorus Pro).",
        )
    checks.reference(
        "engagement_number", references.engagement_number, "Le numéro d'engagement", 50
    )
    checks.reference(
        "convention_number", references.convention_number, "Le numéro de convention", 50
    )
    checks.raise_if_any()
    return buyer
