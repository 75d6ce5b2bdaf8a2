"""Each département's seller identity, shipped as configuration beside the tariffs.

One JSON file per département (``services/billing/sellers/49.json``): who invoices,
its SIRET, address, VAT status, bank account and payment terms. Like the tariffs, the
files are part of the release: a change of bank account is a reviewed change, not a
setting that drifts per machine (ADR 0016).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from importlib import resources

from pydantic import BaseModel, ConfigDict, ValidationError

from services.billing.domain.identities import (
    OUTSIDE_VAT_MENTION,
    BankAccount,
    LatePaymentRegime,
    PostalAddress,
    Seller,
    VatCategory,
    VatStatus,
    compact,
)
from shared.errors import DomainValidationError, FieldError, NotFound

_SHIPPED_PACKAGE = "services.billing.sellers"
_FILE_NAME = re.compile(r"(?P<departement>[0-9AB]{2,3})\.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Address(_Strict):
    line: str
    postcode: str
    city: str
    country: str = "FR"


class _Vat(_Strict):
    category: VatCategory
    rate: Decimal = Decimal(0)
    mention: str | None = OUTSIDE_VAT_MENTION


class _Bank(_Strict):
    iban: str
    bic: str
    bank_name: str


class _Seller(_Strict):
    departement: str
    legal_name: str
    siret: str
    address: _Address
    vat: _Vat
    bank: _Bank
    payment_days: int
    late_payment: LatePaymentRegime
    vat_number: str | None = None
    email: str | None = None


def parse_seller_json(raw: bytes | str) -> Seller:
    """The checked seller of a configuration file, or a French error naming the field."""
    try:
        data = _Seller.model_validate_json(raw)
    except ValidationError as exc:
        raise DomainValidationError(
            [
                FieldError(
                    "seller." + ".".join(str(p) for p in err["loc"]),
                    f"Configuration du vendeur invalide : {err['msg']}.",
                )
                for err in exc.errors()
            ]
        ) from exc
    return Seller(
        departement=data.departement,
        legal_name=data.legal_name,
        siret=compact(data.siret),
        address=PostalAddress(**data.address.model_dump()),
        vat=VatStatus(**data.vat.model_dump()),
        bank=BankAccount(
            iban=compact(data.bank.iban), bic=compact(data.bank.bic), bank_name=data.bank.bank_name
        ),
        payment_days=data.payment_days,
        late_payment=data.late_payment,
        vat_number=compact(data.vat_number) if data.vat_number else None,
        email=data.email,
    ).check()


def seller_for(departement: str) -> Seller:
    """The shipped seller of ``departement``; a département without one cannot invoice."""
    seller = _shipped().get(departement)
    if seller is None:
        raise NotFound(
            f"Aucune identité de facturation n'est configurée pour le département {departement} "
            f"(services/billing/sellers/{departement}.json)."
        )
    return seller


@functools.cache
def _shipped() -> dict[str, Seller]:
    sellers: dict[str, Seller] = {}
    for entry in resources.files(_SHIPPED_PACKAGE).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if not entry.is_file() or match is None:
            continue
        seller = parse_seller_json(entry.read_bytes())
        # The name is how the seller is found: 49.json describing 24 would invoice
        # Maine-et-Loire's collectivités with Dordogne's bank account.
        if seller.departement != match["departement"]:
            raise DomainValidationError(
                [
                    FieldError(
                        "seller.departement",
                        f"{entry.name} décrit le département {seller.departement}.",
                    )
                ]
            )
        sellers[seller.departement] = seller
    return sellers
