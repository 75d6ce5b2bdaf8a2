"""The project: what a collectivité carries across phases, one demande per phase.

Pure: the order of the phases, what the next one is, and how a phase and a demande's
status read in the ANCT "Les Communs" model (their ADR "STATUS", 19 March 2025: phases
Idée, Étude, Opération; phase statuses En cours, En retard, En pause, Bloqué,
Abandonné, Terminé). docs/events.md carries the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.requests.domain.model import Demande, RequestStatus
from shared.contracts.projects import LesCommunsPhase, LesCommunsStatus
from shared.contracts.vocabulary import Phase

PHASE_ORDER: tuple[Phase, ...] = (
    Phase.IDEE,
    Phase.FAISABILITE,
    Phase.CONCEPTION,
    Phase.TRAVAUX,
    Phase.EXPLOITATION,
)

# Les Communs use the phase to find the services that fit: an idea, the studies before a
# decision (faisabilité, programmation, maîtrise d'œuvre/conception), then the operation
# itself (travaux, exploitation).
LES_COMMUNS_PHASE: dict[Phase, LesCommunsPhase] = {
    Phase.IDEE: LesCommunsPhase.IDEE,
    Phase.FAISABILITE: LesCommunsPhase.ETUDE,
    Phase.CONCEPTION: LesCommunsPhase.ETUDE,
    Phase.TRAVAUX: LesCommunsPhase.OPERATION,
    Phase.EXPLOITATION: LesCommunsPhase.OPERATION,
}

# A demande's status as the status of its phase. "En retard" and "En pause" are not
# produced: no status of ours says either (ADR 0015).
LES_COMMUNS_STATUS: dict[RequestStatus, LesCommunsStatus] = {
    RequestStatus.SUBMITTED: LesCommunsStatus.EN_COURS,
    RequestStatus.PROPOSED: LesCommunsStatus.EN_COURS,
    RequestStatus.IN_PROGRESS: LesCommunsStatus.EN_COURS,
    RequestStatus.COMPLETED: LesCommunsStatus.TERMINE,
    RequestStatus.UNMATCHED: LesCommunsStatus.BLOQUE,
    RequestStatus.WITHDRAWN: LesCommunsStatus.ABANDONNE,
}

# The statuses that end a phase, and what the phase_closed event calls them.
CLOSING_OUTCOMES: dict[RequestStatus, str] = {
    RequestStatus.COMPLETED: "completed",
    RequestStatus.WITHDRAWN: "withdrawn",
    RequestStatus.UNMATCHED: "unmatched",
}


class NoNextPhase(Exception):
    """The project cannot go on from here (last phase, or the phase is not over)."""


def next_phase(current: Phase, wanted: Phase | None = None) -> Phase:
    """The phase that follows ``current``: ``wanted`` if it comes later, else the next one."""
    position = PHASE_ORDER.index(current)
    if wanted is not None:
        if PHASE_ORDER.index(wanted) <= position:
            raise NoNextPhase(
                "La phase suivante doit venir après la phase actuelle "
                f"(« {current.value} »), pas « {wanted.value} »."
            )
        return wanted
    if position + 1 >= len(PHASE_ORDER):
        raise NoNextPhase("Le projet est à sa dernière phase : il n'y a pas de phase suivante.")
    return PHASE_ORDER[position + 1]


@dataclass(slots=True)
class Project:
    id: UUID
    departement: str
    requester_code: str
    title: str
    created_at: datetime
    # Counts the project's events: each one carries the next value (project_revision).
    revision: int = 0

    def next_revision(self) -> int:
        self.revision += 1
        return self.revision


@dataclass(frozen=True, slots=True)
class PhaseEntry:
    """One phase of the project's timeline: its demande, who led it, how it stands."""

    demande: Demande
    phase_number: int
    lead_actors: list[str] = field(default_factory=list)

    @property
    def les_communs_phase(self) -> LesCommunsPhase:
        return LES_COMMUNS_PHASE[self.demande.phase]

    @property
    def les_communs_status(self) -> LesCommunsStatus:
        return LES_COMMUNS_STATUS[self.demande.status]
