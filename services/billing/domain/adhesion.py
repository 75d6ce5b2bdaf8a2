"""A collectivité's adhésion to its département's offer for a year: what the cotisation
is charged on, and what makes a mission billed at the member rate."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.billing.domain.invoice import Collectivite
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, FieldError
from shared.refdata import Commune, Epci, Territories

AdhesionStatus = Literal["active", "ended"]


@dataclass(slots=True)
class Adhesion:
    id: uuid.UUID
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    population: int
    status: AdhesionStatus
    registered_at: datetime
    ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def in_force_at(self, at: datetime) -> bool:
        """Whether the adhésion makes its collectivité a member at ``at`` (the same rule as
        matching's projection: its year, until it ends)."""
        return self.ended_at is None or at < self.ended_at

    def end(self, reason: str | None, now: datetime) -> AdhesionEnded:
        """End the adhésion; the event that says so."""
        self.status, self.ended_at = "ended", now
        return AdhesionEnded(
            adhesion_id=self.id,
            departement=self.departement,
            year=self.year,
            collectivite_code=self.collectivite_code,
            collectivite_kind=self.collectivite_kind,
            reason=reason,
            ended_at=now,
        )

    def registered(self) -> AdhesionRegistered:
        """The event announcing the adhésion."""
        return AdhesionRegistered(
            adhesion_id=self.id,
            departement=self.departement,
            year=self.year,
            collectivite_code=self.collectivite_code,
            collectivite_kind=self.collectivite_kind,
            collectivite_name=self.collectivite_name,
            population=self.population,
            registered_at=self.registered_at,
        )


def collectivite_of(code: str, departement: str, territories: Territories) -> Collectivite:
    """The commune or EPCI ``code`` of ``departement``, refused in French otherwise."""
    found = _member(code, departement, territories)
    return Collectivite(code, _kind(found), found.nom)


def _kind(found: Commune | Epci) -> RequesterKind:
    return RequesterKind.COMMUNE if isinstance(found, Commune) else RequesterKind.EPCI


def _member(code: str, departement: str, territories: Territories) -> Commune | Epci:
    found = territories.requester(code)
    if found is None:
        raise DomainValidationError(
            [FieldError("collectivite_code", f"Aucune collectivité de code {code}.")]
        )
    if not territories.belongs_to(code, departement):
        raise DomainValidationError(
            [
                FieldError(
                    "collectivite_code",
                    f"{found.nom} ({code}) n'appartient pas au département {departement}.",
                )
            ]
        )
    return found


def new_adhesion(
    code: str, departement: str, year: int, territories: Territories, now: datetime
) -> Adhesion:
    """The adhésion of the commune or EPCI ``code``, which must belong to ``departement``."""
    found = _member(code, departement, territories)
    return Adhesion(
        id=uuid.uuid4(),
        departement=departement,
        year=year,
        collectivite_code=code,
        collectivite_kind=_kind(found),
        collectivite_name=found.nom,
        population=found.population,
        status="active",
        registered_at=now,
    )


def enrolled_part(codes: Sequence[str], share: float, seed: int, departement: str) -> list[str]:
    """The collectivités a partial enrolment takes (demonstrations, benchmarks): ``share``
    of ``codes``, the same ones for the same seed and département, in code order."""
    ordered = sorted(codes)
    if share >= 1:
        return ordered
    # Not a secret, a reproducible draw: the same seed must give the same members.
    draw = random.Random(f"{seed}:{departement}")  # noqa: S311
    return sorted(draw.sample(ordered, round(len(ordered) * share)))
