"""Our projects as the ANCT "Les Communs" API expects them. Pure.

Their API (``POST /projets``, bearer API key, ADR "API_CREATE" of 26 March 2025) is an
idempotent upsert keyed on the calling service and its ``externalId``: we send our
project id, so sending the same project again updates it, never duplicates it. The
phase and phase status come as the requests service mapped them (docs/events.md).

What we send is the project's latest state, not each event: while Les Communs is away
the states pile up in one row per project and only the newest goes when it is back
(ADR 0015).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.contracts.projects import ProjectPhaseClosed, ProjectPhaseOpened
from shared.contracts.vocabulary import RequesterKind

COLLECTIVITE_TYPES = {RequesterKind.COMMUNE: "Commune", RequesterKind.EPCI: "EPCI"}


def upsert_body(event: ProjectPhaseOpened | ProjectPhaseClosed) -> dict[str, Any]:
    """The body of ``POST /projets`` for the project as this event leaves it.

    No personal data: the porteur's referent (a person) is not sent.
    """
    return {
        "externalId": str(event.project_id),
        "nom": event.title,
        "description": event.description,
        "phase": event.les_communs_phase.value,
        "phaseStatut": event.les_communs_status.value,
        "collectivites": [
            {"type": COLLECTIVITE_TYPES[event.requester_kind], "code": event.requester_code}
        ],
    }


@dataclass(frozen=True, slots=True)
class ProjectState:
    """The latest state of one project, to be sent to Les Communs."""

    project_id: UUID
    departement: str
    revision: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DueProject:
    """A project whose newest state Les Communs has not acknowledged yet."""

    project_id: UUID
    departement: str
    revision: int
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class PublishedProject:
    """What this service knows of one project's publication (for the API and the demo)."""

    project_id: UUID
    departement: str
    revision: int
    sent_revision: int
    status: str  # pending, sent, dead_lettered
    phase: str
    phase_status: str
    attempts: int
    les_communs_id: str | None
    last_error: str | None
    sent_at: datetime | None
