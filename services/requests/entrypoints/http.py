"""HTTP API of the requests service: submit, read, list and withdraw demandes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from services.requests import bootstrap
from services.requests.domain.model import STATUS_LABELS, Demande, RequestStatus
from services.requests.domain.progress import AssignmentView
from services.requests.service_layer import demandes
from services.requests.service_layer.ports import UnitOfWork
from shared.contracts.base import Text
from shared.contracts.requests import RequestDraft
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.http.security import CurrentPrincipal
from shared.refdata import get_territories

router = APIRouter(prefix="/v1/requests", tags=["demandes"])


class ContactView(BaseModel):
    name: str
    email: str
    phone: str | None
    role: str | None


class AssignmentOut(BaseModel):
    """An actor proposed for, or working on, this demande."""

    assignment_id: UUID
    actor_id: str
    actor_name: str
    lead: bool
    needs: list[str]
    status: str
    updated_at: datetime


class RequestView(BaseModel):
    id: UUID
    departement: str
    requester_kind: RequesterKind
    requester_code: str
    requester_name: str
    requester_population: int
    contact: ContactView
    title: str
    description: str
    themes: list[Theme]
    phase: Phase
    estimated_budget: Decimal | None
    wished_start: date | None
    wished_end: date | None
    channel: str
    status: RequestStatus
    status_label: str
    status_detail: str | None
    status_changed_at: datetime | None
    submitted_at: datetime
    withdrawn_reason: str | None
    project_id: UUID = Field(description="Le projet dont cette demande est une phase.")
    phase_number: int = Field(description="1 pour la première phase du projet, puis 2, 3…")
    previous_demande_id: UUID | None = Field(description="La demande de la phase précédente.")
    carried_deliverables: list[str] = Field(
        description="Références des livrables des phases précédentes du projet."
    )
    deliverables: list[str] = Field(description="Références des livrables de cette phase.")
    suspected_duplicate_of: list[UUID] = Field(
        description="Demandes ouvertes de la même collectivité qui lui ressemblent (signalées "
        "à l'équipe du département)."
    )
    assignments: list[AssignmentOut] = Field(
        default_factory=list, description="Avec qui : les acteurs proposés ou en mission."
    )

    @classmethod
    def of(cls, d: Demande, assignments: list[AssignmentView] | None = None) -> RequestView:
        return cls(
            id=d.id,
            departement=d.departement,
            requester_kind=d.requester_kind,
            requester_code=d.requester_code,
            requester_name=d.requester_name,
            requester_population=d.requester_population,
            contact=ContactView(
                name=d.contact.name,
                email=d.contact.email,
                phone=d.contact.phone,
                role=d.contact.role,
            ),
            title=d.title,
            description=d.description,
            themes=d.themes,
            phase=d.phase,
            estimated_budget=d.estimated_budget,
            wished_start=d.wished_start,
            wished_end=d.wished_end,
            channel=d.channel,
            status=d.status,
            status_label=STATUS_LABELS[d.status],
            status_detail=d.status_detail,
            status_changed_at=d.status_changed_at,
            submitted_at=d.submitted_at,
            withdrawn_reason=d.withdrawn_reason,
            project_id=d.project_id,
            phase_number=d.phase_number,
            previous_demande_id=d.previous_demande_id,
            carried_deliverables=d.carried_deliverables,
            deliverables=d.deliverables,
            suspected_duplicate_of=d.suspected_duplicate_of,
            assignments=[
                AssignmentOut(
                    assignment_id=a.assignment_id,
                    actor_id=a.actor_id,
                    actor_name=a.actor_name,
                    lead=a.lead,
                    needs=a.needs,
                    status=a.status,
                    updated_at=a.updated_at,
                )
                for a in assignments or ()
            ],
        )


class RequestPage(BaseModel):
    items: list[RequestView]
    total: int
    limit: int
    offset: int


class Withdrawal(BaseModel):
    reason: Text | None = Field(default=None, max_length=1000)


UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


@router.post(
    "",
    status_code=201,
    response_model=RequestView,
    summary="Déposer une demande d'accompagnement",
    responses={
        200: {"description": "Demande déjà reçue avec la même clé d'idempotence."},
        403: {"description": "Hors de votre périmètre."},
        422: {"description": "Erreurs de saisie, un message par champ."},
    },
)
async def submit(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    uow: UoW,
    draft: Annotated[RequestDraft, Body()],
    idempotency_key: Annotated[
        UUID | None,
        Header(description="UUID choisi par le client : un nouvel envoi ne crée pas de doublon."),
    ] = None,
) -> RequestView:
    territories = get_territories()
    departement = demandes.submission_departement(principal, draft.requester_code, territories)
    submission = demandes.Submission(
        draft=draft,
        request_id=idempotency_key or uuid4(),
        departement=departement,
        channel="api",
        submitted_by=f"{principal.role.value}:{principal.subject}",
        correlation_id=request.state.correlation_id,
    )
    async with uow:
        demande, created = await demandes.submit_request(
            uow, submission, territories, datetime.now(UTC)
        )
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/requests/{demande.id}"
    return RequestView.of(demande)


@router.get("/{request_id}", response_model=RequestView, summary="Lire une demande")
async def read(request_id: UUID, principal: CurrentPrincipal, uow: UoW) -> RequestView:
    async with uow:
        demande, assignments = await demandes.read_request(uow, principal, request_id)
    return RequestView.of(demande, assignments)


@router.get("", response_model=RequestPage, summary="Lister les demandes de votre périmètre")
async def list_(
    principal: CurrentPrincipal,
    uow: UoW,
    status: Annotated[RequestStatus | None, Query(description="Statut")] = None,
    theme: Annotated[Theme | None, Query(description="Thème")] = None,
    commune: Annotated[
        str | None, Query(min_length=5, max_length=9, description="Code INSEE ou SIREN")
    ] = None,
    departement: Annotated[
        str | None, Query(min_length=2, max_length=3, description="Département")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RequestPage:
    async with uow:
        items, total = await demandes.list_requests(
            uow,
            principal,
            status=status,
            theme=theme,
            commune=commune,
            departement=departement,
            limit=limit,
            offset=offset,
        )
    return RequestPage(
        items=[RequestView.of(d) for d in items], total=total, limit=limit, offset=offset
    )


@router.post("/{request_id}/withdraw", response_model=RequestView, summary="Retirer une demande")
async def withdraw(
    request_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Withdrawal | None, Body()] = None,
) -> RequestView:
    async with uow:
        demande = await demandes.withdraw_request(
            uow, principal, request_id, body.reason if body else None, datetime.now(UTC)
        )
    return RequestView.of(demande)
