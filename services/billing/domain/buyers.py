"""The buyer account of a collectivité: the invoicing establishment Chorus Pro knows it by,
and what it requires of an invoice (ADR 0017).

One account per département and collectivité (INSEE code of a commune, SIREN of an
EPCI). The département's team gives the SIRET and the service code, or the collectivité
gives them when it signs a convention; the Chorus Pro directory of public structures
says whether the buyer requires a service code or an engagement number, and which
services it has. An account is checked with the rules of ``identities`` (SIRET key, an
EPCI's SIRET beginning with its SIREN, the service code's shape), in French, before it
is stored, and again, with the invoice's references, before an invoice number is taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.billing.domain.identities import Buyer, References, check_buyer, compact
from services.billing.domain.invoice import Collectivite
from shared.contracts.billing import BuyerAccountRegistered
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, FieldError

AccountSource = Literal["api", "convention", "directory"]


@dataclass(frozen=True, slots=True)
class BuyerAccount:
    """What Chorus Pro knows of the collectivité: its invoicing establishment and needs.

    ``service_code`` is the default service (BT-10) when the invoice's convention names
    none; ``services`` the codes the directory lists for the SIRET (empty: not imported).
    """

    siret: str
    service_code: str | None = None
    service_code_required: bool = False
    engagement_required: bool = False
    service_or_engagement_required: bool = False
    departement: str = ""
    collectivite: Collectivite | None = None
    services: tuple[str, ...] = ()
    updated_at: datetime | None = None
    source: AccountSource = "api"

    def buyer(self, who: Collectivite, service_code: str | None) -> Buyer:
        """The EN 16931 buyer of an invoice to ``who`` citing ``service_code`` (its
        convention's), else the account's own."""
        return Buyer(
            name=who.name,
            siret=self.siret,
            # An EPCI's code is its SIREN in the reference data; communes have none there.
            epci_siren=who.code if who.kind is RequesterKind.EPCI else None,
            service_code=service_code or self.service_code,
            service_code_required=self.service_code_required,
            engagement_required=self.engagement_required,
            service_or_engagement_required=self.service_or_engagement_required,
        )

    def checked(self) -> BuyerAccount:
        """This account, or every wrong field at once (``buyer.siret``, …), in French."""
        assert self.collectivite is not None
        errors: list[FieldError] = []
        try:
            check_buyer(
                dataclasses.replace(
                    self.buyer(self.collectivite, None),
                    # Requirements are checked per invoice, against its references.
                    service_code_required=False,
                    engagement_required=False,
                    service_or_engagement_required=False,
                ),
                References(),
            )
        except DomainValidationError as exc:
            errors.extend(exc.errors)
        if self.service_code and self.services and self.service_code not in self.services:
            errors.append(
                FieldError(
                    "buyer.service_code",
                    f"Le code service « {self.service_code} » n'est pas un service de "
                    f"l'établissement {self.siret} dans l'annuaire Chorus Pro "
                    f"(services connus : {', '.join(self.services)}).",
                )
            )
        if errors:
            raise DomainValidationError(errors)
        return self

    def same_as(self, other: BuyerAccount | None) -> bool:
        """Nothing a buyer would see changed (the time and the source aside)."""
        if other is None:
            return False
        keep = {"updated_at": None, "source": "api"}
        return dataclasses.replace(self, **keep) == dataclasses.replace(other, **keep)  # type: ignore[arg-type]

    def event(self) -> BuyerAccountRegistered:
        assert self.collectivite is not None and self.updated_at is not None
        return BuyerAccountRegistered(
            departement=self.departement,
            collectivite_code=self.collectivite.code,
            collectivite_kind=self.collectivite.kind,
            collectivite_name=self.collectivite.name,
            siret=self.siret,
            service_code=self.service_code,
            service_code_required=self.service_code_required,
            engagement_required=self.engagement_required,
            service_or_engagement_required=self.service_or_engagement_required,
            services=list(self.services),
            source=self.source,
            updated_at=self.updated_at,
        )


def account_siret(value: str) -> str:
    """The SIRET as stored: without the spaces and dots people type."""
    return compact(value)
