"""HTTP API of projects: open the next phase of a closed demande, read a project's
timeline across its phases (ADR 0015)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from services.requests import bootstrap
from services.requests.domain.model import STATUS_LABELS, RequestStatus
from services.requests.domain.project import PhaseEntry
from services.requests.entrypoints.http import RequestView
from services.requests.service_layer import projects
from services.requests.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.contracts.projects import LesCommunsPhase, LesCommunsStatus
from shared.contracts.requests import MAX_DESCRIPTION, MAX_TITLE
from shared.contracts.vocabulary import Phase, Theme
from shared.http.security import CurrentPrincipal

router = APIRouter(tags=["projets"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


class NextPhaseBody(BaseModel):
    """La phase suivante ; ce qui est omis reprend la phase close."""

    model_config = ConfigDict(extra="forbid")

    phase: Phase | None = Field(
        default=None, description="Par défaut la phase qui suit (faisabilité → conception…)."
    )
    title: Line | None = Field(default=None, min_length=5, max_length=MAX_TITLE)
    description: Text | None = Field(default=None, min_length=10, max_length=MAX_DESCRIPTION)
    themes: list[Theme] | None = Field(default=None, min_length=1, max_length=6)
    deliverables: list[Annotated[Line, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=100,
        description="Références des livrables de la phase close, portées à la suivante.",
    )


class PhaseView(BaseModel):
    demande_id: UUID
    phase_number: int
    phase: Phase
    title: str
    status: RequestStatus
    status_label: str
    les_communs_phase: LesCommunsPhase
    les_communs_status: LesCommunsStatus
    lead_actors: list[str]
    carried_deliverables: list[str]
    deliverables: list[str]
    submitted_at: datetime
    status_changed_at: datetime | None

    @classmethod
    def of(cls, entry: PhaseEntry) -> PhaseView:
        d = entry.demande
        return cls(
            demande_id=d.id,
            phase_number=entry.phase_number,
            phase=d.phase,
            title=d.title,
            status=d.status,
            status_label=STATUS_LABELS[d.status],
            les_communs_phase=entry.les_communs_phase,
            les_communs_status=entry.les_communs_status,
            lead_actors=entry.lead_actors,
            carried_deliverables=d.carried_deliverables,
            deliverables=d.deliverables,
            submitted_at=d.submitted_at,
            status_changed_at=d.status_changed_at,
        )


class ProjectView(BaseModel):
    id: UUID
    departement: str
    requester_code: str
    title: str
    created_at: datetime
    les_communs_phase: LesCommunsPhase = Field(description="Phase actuelle, au sens des Communs.")
    les_communs_status: LesCommunsStatus
    phases: list[PhaseView]


@router.post(
    "/v1/requests/{request_id}/next-phase",
    status_code=201,
    response_model=RequestView,
    summary="Ouvrir la phase suivante du projet",
    responses={
        200: {"description": "Phase suivante déjà ouverte : la même demande."},
        403: {"description": "Ni l'acteur pilote de la phase, ni le département."},
        409: {"description": "La mission de cette phase n'est pas terminée."},
        422: {"description": "Pas de phase après celle-ci, ou saisie invalide."},
    },
)
async def open_next_phase(
    request_id: UUID,
    response: Response,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[NextPhaseBody | None, Body()] = None,
    idempotency_key: Annotated[
        UUID | None, Header(description="UUID de la nouvelle demande, choisi par le client.")
    ] = None,
) -> RequestView:
    body = body or NextPhaseBody()
    wanted = projects.NextPhase(
        new_demande_id=idempotency_key or uuid4(),
        phase=body.phase,
        title=body.title,
        description=body.description,
        themes=body.themes,
        deliverables=list(body.deliverables),
    )
    async with uow:
        demande, created = await projects.open_next_phase(
            uow, principal, request_id, wanted, datetime.now(UTC)
        )
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/requests/{demande.id}"
    return RequestView.of(demande)


@router.get(
    "/v1/projects/{project_id}",
    response_model=ProjectView,
    summary="Lire un projet : ses phases, qui les a menées, où il en est",
)
async def read_project(project_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ProjectView:
    async with uow:
        timeline = await projects.read_project(uow, principal, project_id)
    current = timeline.phases[-1]
    return ProjectView(
        id=timeline.project.id,
        departement=timeline.project.departement,
        requester_code=timeline.project.requester_code,
        title=timeline.project.title,
        created_at=timeline.project.created_at,
        les_communs_phase=current.les_communs_phase,
        les_communs_status=current.les_communs_status,
        phases=[PhaseView.of(p) for p in timeline.phases],
    )
