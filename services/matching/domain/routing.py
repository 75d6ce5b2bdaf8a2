"""A demande as matching routes it, and the rules of routing that are not the matcher's.

Pure: who the requester is comes from the reference data passed in; the deadline of a
proposal from the policy and the moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from services.matching.domain.lifecycle import Assignment, AssignmentStatus, response_deadline
from services.matching.domain.model import Need, Requester, Weights
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.refdata import Commune, Territories

# Assignments that still answer for a demande: while one exists, it is not unmatched.
LIVE_STATUSES = frozenset(
    {AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED, AssignmentStatus.COMPLETED}
)
# Actors that said no, or said nothing in time, are not proposed again for the demande.
REFUSED_STATUSES = frozenset({AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED})


@dataclass(slots=True)
class RoutedDemande:
    request_id: UUID
    departement: str
    requester_kind: RequesterKind
    requester_code: str
    requester_population: int
    needs: tuple[Need, ...]
    status: str  # open, unmatched, withdrawn
    uncovered: tuple[Need, ...]
    summary: str
    correlation_id: str | None
    received_at: datetime
    updated_at: datetime
    submitted_at: datetime
    unmatched_reason: str | None = None  # a code of RequestUnmatched.reason


@dataclass(frozen=True, slots=True)
class Policy:
    weights: Weights = field(default_factory=Weights)
    response_working_days: int = 5
    # For demonstrations and drills: a deadline in seconds instead of working days.
    response_seconds: float | None = None
    # The départements whose EPCI adhésions make their member communes members too.
    epci_adhesion_covers_communes: frozenset[str] = frozenset()

    def deadline(self, now: datetime) -> datetime:
        if self.response_seconds is not None:
            return now + timedelta(seconds=self.response_seconds)
        return response_deadline(now, self.response_working_days)


def needs_of(themes: list[Theme], phase: Phase) -> tuple[Need, ...]:
    """One need per distinct theme of the demande, all in its phase."""
    return tuple(dict.fromkeys(Need(theme, phase) for theme in themes))


def requester_of(demande: RoutedDemande, territories: Territories, is_member: bool) -> Requester:
    found = territories.requester(demande.requester_code)
    if isinstance(found, Commune):
        return Requester(
            kind=RequesterKind.COMMUNE,
            code=found.code_insee,
            departement=demande.departement,
            population=found.population,
            commune_codes=frozenset({found.code_insee}),
            epci_codes=frozenset({found.epci_siren} if found.epci_siren else ()),
            departement_codes=frozenset({found.departement_code}),
            is_member=is_member,
        )
    if found is not None:
        return Requester(
            kind=RequesterKind.EPCI,
            code=found.siren,
            departement=demande.departement,
            population=found.population,
            commune_codes=frozenset(found.commune_codes),
            epci_codes=frozenset({found.siren}),
            departement_codes=found.departement_codes,
            is_member=is_member,
        )
    # The requests service validated the code against the same reference data.
    return Requester(
        kind=demande.requester_kind,
        code=demande.requester_code,
        departement=demande.departement,
        population=demande.requester_population,
        commune_codes=frozenset(),
        epci_codes=frozenset(),
        departement_codes=frozenset({demande.departement}),
        is_member=is_member,
    )


def next_round(history: list[Assignment], replaced: Assignment) -> tuple[frozenset[str], int]:
    """Whom the next proposal after ``replaced`` leaves out, and its round number."""
    excluded = frozenset(a.actor_id for a in history if a.status in REFUSED_STATUSES)
    return excluded | {replaced.actor_id}, max(a.round for a in history) + 1
