"""The demande aggregate: what a collectivité asked for and where it stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from shared.contracts.vocabulary import Phase, RequesterKind, Theme


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    PROPOSED = "proposed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    UNMATCHED = "unmatched"
    WITHDRAWN = "withdrawn"


FINAL_STATUSES = frozenset({RequestStatus.COMPLETED, RequestStatus.WITHDRAWN})

STATUS_LABELS = {
    RequestStatus.SUBMITTED: "Reçue",
    RequestStatus.PROPOSED: "Acteur proposé",
    RequestStatus.IN_PROGRESS: "Mission en cours",
    RequestStatus.COMPLETED: "Mission terminée",
    RequestStatus.UNMATCHED: "Sans acteur disponible",
    RequestStatus.WITHDRAWN: "Retirée",
}


@dataclass(frozen=True, slots=True)
class DemandeFilter:
    """Which demandes a listing shows; ``None`` leaves a criterion open."""

    departement: str | None = None
    requester_code: str | None = None
    status: RequestStatus | None = None
    theme: Theme | None = None


class InvalidTransition(Exception):
    """The demande cannot go to that status from where it is."""


# The contact of a demande is named by an id derived from the demande's: the same on a
# re-submission, nothing to store, and it tells nothing of the person (ADR 0020).
CONTACT_NAMESPACE = UUID("6f1d3c1e-6a57-4a8e-9f55-2f0a7d1c0b20")


@dataclass(frozen=True, slots=True)
class ContactPerson:
    name: str
    email: str
    phone: str | None = None
    role: str | None = None


@dataclass(slots=True)
class Demande:
    id: UUID
    departement: str
    requester_kind: RequesterKind
    requester_code: str
    requester_name: str
    requester_population: int
    contact: ContactPerson
    title: str
    description: str
    themes: list[Theme]
    phase: Phase
    estimated_budget: Decimal | None
    wished_start: date | None
    wished_end: date | None
    channel: str
    submitted_by: str
    submitted_at: datetime
    # The project this demande is one phase of (ADR 0015).
    project_id: UUID
    phase_number: int = 1
    previous_demande_id: UUID | None = None
    # References (download URLs) of the deliverables of the project's earlier phases,
    # and of this phase's own, as matching's mission events announce them.
    carried_deliverables: list[str] = field(default_factory=list)
    deliverables: list[str] = field(default_factory=list)
    # Open demandes of the same collectivité that this one looks like, flagged at intake.
    suspected_duplicate_of: list[UUID] = field(default_factory=list)
    status: RequestStatus = RequestStatus.SUBMITTED
    status_changed_at: datetime | None = None
    withdrawn_reason: str | None = None
    status_detail: str | None = None
    correlation_id: str | None = None

    @property
    def contact_id(self) -> UUID:
        return uuid5(CONTACT_NAMESPACE, str(self.id))

    def withdraw(self, reason: str | None, now: datetime) -> None:
        if self.status in FINAL_STATUSES:
            raise InvalidTransition(
                f"La demande est déjà « {STATUS_LABELS[self.status].lower()} » : "
                "elle ne peut plus être retirée."
            )
        self.status = RequestStatus.WITHDRAWN
        self.status_changed_at = now
        self.withdrawn_reason = reason
