"""Events of the project aggregate, written by the requests service.

A project is what a collectivité carries across phases (faisabilité → conception →
travaux…): each phase is one demande, routed on its own. Every event states the
project's phase in our vocabulary and in the ANCT "Les Communs" model (phases Idée,
Étude, Opération; phase statuses En cours … Terminé), so that a consumer can publish
the project there without knowing our rules (docs/events.md, ADR 0015).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import REQUESTS_PROJECT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme


class LesCommunsPhase(StrEnum):
    """The phases of Les Communs (their ADR "STATUS", 19 March 2025), spelt as their API."""

    IDEE = "Idée"
    ETUDE = "Étude"
    OPERATION = "Opération"


class LesCommunsStatus(StrEnum):
    """The phase statuses of Les Communs, spelt as their API."""

    EN_COURS = "En cours"
    EN_RETARD = "En retard"
    EN_PAUSE = "En pause"
    BLOQUE = "Bloqué"
    ABANDONNE = "Abandonné"
    TERMINE = "Terminé"


class _ProjectEvent(EventPayload):
    topic: ClassVar[str] = REQUESTS_PROJECT.name
    producer: ClassVar[str] = REQUESTS_PROJECT.writer

    project_id: UUID
    demande_id: UUID = Field(description="The demande of this phase.")
    departement: str
    # Grows with every event of the project: a consumer keeps the highest it has seen,
    # so a redelivered older event never overwrites a newer state.
    project_revision: int = Field(ge=1)
    phase_number: int = Field(ge=1, description="1 for the project's first phase, then 2, 3…")
    phase: Phase
    les_communs_phase: LesCommunsPhase
    les_communs_status: LesCommunsStatus
    requester_kind: RequesterKind
    requester_code: str
    title: str = Field(description="The project's name: the title of its first demande.")
    description: str
    themes: list[Theme]


class ProjectPhaseOpened(_ProjectEvent):
    summary: ClassVar[str] = "A phase of a project opened: a new project, or the next phase."
    event_type: ClassVar[str] = "requests.project.phase_opened.v1"

    previous_demande_id: UUID | None = Field(
        default=None, description="The demande of the phase before; None for a new project."
    )
    opened_by: str
    opened_at: AwareDatetime
    carried_deliverables: list[str] = Field(
        default_factory=list,
        description="References of the deliverables of the earlier phases, carried forward.",
    )


class ProjectPhaseClosed(_ProjectEvent):
    summary: ClassVar[str] = "A phase of a project closed: completed, withdrawn or unmatched."
    event_type: ClassVar[str] = "requests.project.phase_closed.v1"

    outcome: Literal["completed", "withdrawn", "unmatched"]
    closed_at: AwareDatetime


class DuplicateCandidate(BaseModel):
    """The open demande that a new one looks like."""

    model_config = ConfigDict(frozen=True)

    demande_id: UUID
    project_id: UUID
    title: str
    submitted_at: AwareDatetime
    similarity: float = Field(ge=0, le=1)


class ProjectDuplicateSuspected(EventPayload):
    summary: ClassVar[str] = (
        "A new demande looks like an open one of the same collectivité; it is stored, flagged."
    )
    event_type: ClassVar[str] = "requests.project.duplicate_suspected.v1"
    topic: ClassVar[str] = REQUESTS_PROJECT.name
    producer: ClassVar[str] = REQUESTS_PROJECT.writer

    demande_id: UUID
    project_id: UUID
    departement: str
    requester_code: str
    requester_name: str
    title: str
    themes: list[Theme]
    phase: Phase
    candidates: list[DuplicateCandidate] = Field(min_length=1)
    detected_at: AwareDatetime
