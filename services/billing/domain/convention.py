"""The convention (devis) a collectivité signs before a mission starts, and its avenants.

Life: ``brouillon → envoyée → signée | refusée | expirée``. A signed convention is never
changed: an avenant is a new version (number suffixed ``-A1``, ``-A2``…) with the price
delta and its reason, which goes through the same states; the signed version stays
readable. The price is fixed when the convention is prepared, from the tariff of the
year (see ``convention_pricing``), and the mission is invoiced on its schedule: an
advance at signature, the balance at delivery (``invoice_schedule``).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from services.billing.domain.invoice import Collectivite, ContractRef, Line, Totals, totals
from shared.contracts.conventions import (
    ConventionAmended,
    ConventionEvent,
    ConventionExpired,
    ConventionPrepared,
    ConventionRefused,
    ConventionSent,
    ConventionSigned,
)
from shared.errors import Conflict, DomainValidationError, FieldError

PricingMode = Literal["flat", "day", "percent", "included"]

ENGAGEMENT_MAX = 50
SERVICE_CODE_MAX = 100
VALIDITY_MONTHS = 3
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_SIRET = re.compile(r"[0-9]{14}")


class ConventionStatus(StrEnum):
    BROUILLON = "brouillon"
    ENVOYEE = "envoyee"
    SIGNEE = "signee"
    REFUSEE = "refusee"
    EXPIREE = "expiree"


STATUS_LABELS = {
    ConventionStatus.BROUILLON: "en brouillon",
    ConventionStatus.ENVOYEE: "envoyée",
    ConventionStatus.SIGNEE: "signée",
    ConventionStatus.REFUSEE: "refusée",
    ConventionStatus.EXPIREE: "expirée",
}

# Not signed yet: these expire when their validity ends.
UNSIGNED = frozenset({ConventionStatus.BROUILLON, ConventionStatus.ENVOYEE})


@dataclass(frozen=True, slots=True)
class Installment:
    """One payment of the schedule: its label and its share of the price (a fraction)."""

    label: str
    share: Decimal


DEFAULT_SCHEDULE = (
    Installment("Acompte à la signature", Decimal("0.30")),
    Installment("Solde à la livraison", Decimal("0.70")),
)


@dataclass(frozen=True, slots=True)
class Pricing:
    """How the price was set: ``mode`` from the tariff, ``quantity`` days (day), the
    amount of the works (percent) or 1; ``unit_price`` the rate, a fraction for percent."""

    mode: PricingMode
    quantity: Decimal
    unit_price: Decimal
    is_member: bool


@dataclass(frozen=True, slots=True)
class Parties:
    """Who signs: the département's structure, the actor, the collectivité (INSEE code
    for a commune, SIREN for an EPCI) and the SIRET of its invoicing establishment."""

    structure: str
    actor_id: str
    actor_name: str
    actor_kind: str
    collectivite: Collectivite
    siret: str | None = None


@dataclass(frozen=True, slots=True)
class ConventionFilter:
    """Which conventions a listing shows; None: any."""

    departement: str | None = None
    status: ConventionStatus | None = None
    actor_id: str | None = None
    collectivite_code: str | None = None
    demande_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class UnbilledCompletion:
    """A completed mission that no invoice follows, and why (no signed convention)."""

    assignment_id: UUID
    demande_id: UUID
    departement: str
    actor_id: str
    collectivite_code: str
    reason: str
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class Convention:
    """One version of a convention; ``version`` 0 is the convention, n its n-th avenant."""

    id: UUID
    base_id: UUID
    number: str
    departement: str
    year: int
    sequence: int
    version: int
    demande_id: UUID
    assignment_id: UUID
    parties: Parties
    object: str
    phases: tuple[str, ...]
    pricing: Pricing
    lines: tuple[Line, ...]
    totals: Totals
    schedule: tuple[Installment, ...]
    tariff_version: int
    status: ConventionStatus
    prepared_at: datetime
    valid_until: datetime
    sent_at: datetime | None = None
    signed_at: datetime | None = None
    closed_at: datetime | None = None
    engagement_number: str | None = None
    service_code: str | None = None
    refusal_reason: str | None = None
    amends_id: UUID | None = None
    amendment_reason: str | None = None
    price_delta: Decimal | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def mentions(self) -> list[str]:
        return sorted({line.vat_mention for line in self.lines if line.vat_mention})

    def contract(self) -> ContractRef:
        """How the invoices of a signed convention cite it."""
        if self.status is not ConventionStatus.SIGNEE or self.engagement_number is None:
            raise Conflict("Seule une convention signée peut être facturée.")
        return ContractRef(self.number, self.engagement_number, self.service_code)

    def _require(self, *allowed: ConventionStatus) -> None:
        if self.status not in allowed:
            raise Conflict(f"Cette convention est {self.status_label} : action impossible.")

    def send(self, now: datetime) -> Convention:
        self._require(ConventionStatus.BROUILLON)
        self._ensure_valid(now)
        return dataclasses.replace(self, status=ConventionStatus.ENVOYEE, sent_at=now)

    def sign(
        self, now: datetime, engagement_number: str, service_code: str | None, siret: str | None
    ) -> Convention:
        self._require(ConventionStatus.ENVOYEE)
        self._ensure_valid(now)
        check_signature(engagement_number, service_code, siret, self.parties.collectivite)
        parties = dataclasses.replace(self.parties, siret=siret or self.parties.siret)
        return dataclasses.replace(
            self,
            status=ConventionStatus.SIGNEE,
            signed_at=now,
            closed_at=now,
            engagement_number=engagement_number,
            service_code=service_code or None,
            parties=parties,
        )

    def refuse(self, now: datetime, reason: str | None) -> Convention:
        self._require(ConventionStatus.ENVOYEE)
        return dataclasses.replace(
            self, status=ConventionStatus.REFUSEE, closed_at=now, refusal_reason=reason
        )

    def expire(self, now: datetime) -> Convention:
        self._require(*UNSIGNED)
        if now <= self.valid_until:
            raise Conflict("Cette convention est encore valable.")
        return dataclasses.replace(self, status=ConventionStatus.EXPIREE, closed_at=now)

    def _ensure_valid(self, now: datetime) -> None:
        if now > self.valid_until:
            raise Conflict("La durée de validité de cette convention est dépassée.")

    def amendment(
        self, *, version: int, delta_line: Line, reason: str, now: datetime, valid_until: datetime
    ) -> Convention:
        """The avenant: this signed version's lines plus the delta, to be signed again."""
        self._require(ConventionStatus.SIGNEE)
        lines = (*self.lines, delta_line)
        return dataclasses.replace(
            self,
            id=uuid.uuid4(),
            number=f"{base_number(self.number)}-A{version}",
            version=version,
            lines=lines,
            totals=totals(lines),
            status=ConventionStatus.BROUILLON,
            prepared_at=now,
            valid_until=valid_until,
            sent_at=None,
            signed_at=None,
            closed_at=None,
            engagement_number=self.engagement_number,
            refusal_reason=None,
            amends_id=self.id,
            amendment_reason=reason,
            price_delta=delta_line.amount_excl_tax,
        )

    # --- events ---------------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        who = self.parties.collectivite
        return {
            "convention_id": self.id,
            "number": self.number,
            "version": self.version,
            "departement": self.departement,
            "demande_id": self.demande_id,
            "assignment_id": self.assignment_id,
            "actor_id": self.parties.actor_id,
            "collectivite_kind": who.kind,
            "collectivite_code": who.code,
            "collectivite_name": who.name,
            "total_excl_tax": self.totals.excl_tax,
            "total_vat": self.totals.vat,
            "total_incl_tax": self.totals.incl_tax,
            "valid_until": self.valid_until,
        }

    def event(self, amended: Convention | None = None) -> ConventionEvent:
        """The event telling this version's latest change."""
        common = self._common()
        if self.status is ConventionStatus.BROUILLON and amended is not None:
            return ConventionAmended(
                **common,
                amends_id=amended.id,
                amends_number=amended.number,
                price_delta_excl_tax=self.price_delta or Decimal("0.00"),
                reason=self.amendment_reason or "",
                amended_at=self.prepared_at,
            )
        match self.status:
            case ConventionStatus.BROUILLON:
                return ConventionPrepared(**common, prepared_at=self.prepared_at)
            case ConventionStatus.ENVOYEE:
                assert self.sent_at is not None
                return ConventionSent(**common, sent_at=self.sent_at)
            case ConventionStatus.SIGNEE:
                assert self.signed_at is not None and self.engagement_number is not None
                return ConventionSigned(
                    **common,
                    engagement_number=self.engagement_number,
                    service_code=self.service_code,
                    signed_at=self.signed_at,
                )
            case ConventionStatus.REFUSEE:
                assert self.closed_at is not None
                return ConventionRefused(
                    **common, reason=self.refusal_reason, refused_at=self.closed_at
                )
            case ConventionStatus.EXPIREE:
                assert self.closed_at is not None
                return ConventionExpired(**common, expired_at=self.closed_at)


def convention_number(departement: str, year: int, sequence: int) -> str:
    return f"CONV-{departement}-{year}-{sequence:06d}"


def base_number(number: str) -> str:
    """The convention's own number, without an avenant's suffix."""
    return number.split("-A", 1)[0]


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day (31 March + 3 → 30 June)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def check_signature(
    engagement_number: str, service_code: str | None, siret: str | None, who: Collectivite
) -> None:
    """The signature's fields, each with its French message (all at once)."""
    errors: list[FieldError] = []
    if not engagement_number or len(engagement_number) > ENGAGEMENT_MAX:
        errors.append(
            FieldError(
                "engagement_number",
                f"Le numéro d'engagement est obligatoire ({ENGAGEMENT_MAX} caractères au plus).",
            )
        )
    elif not _PRINTABLE.fullmatch(engagement_number):
        errors.append(
            FieldError(
                "engagement_number",
                "Le numéro d'engagement ne peut contenir que des caractères imprimables ASCII.",
            )
        )
    if service_code is not None and (
        len(service_code) > SERVICE_CODE_MAX or not _PRINTABLE.fullmatch(service_code)
    ):
        errors.append(
            FieldError(
                "service_code",
                f"Le code service s'écrit en caractères ASCII ({SERVICE_CODE_MAX} au plus).",
            )
        )
    if siret is not None:
        if not _SIRET.fullmatch(siret):
            errors.append(FieldError("siret", "Le SIRET compte exactement 14 chiffres."))
        elif who.kind == "epci" and not siret.startswith(who.code):
            errors.append(
                FieldError("siret", f"Le SIRET d'un EPCI commence par son SIREN ({who.code}).")
            )
    if errors:
        raise DomainValidationError(errors)
