"""HTTP API of the matching service: the actor catalogue, the proposals that actors
answer, the missions they complete, and the unmatched demandes of a département."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.matching import bootstrap
from services.matching.config import MatchingRules
from services.matching.domain.catalogue import CatalogueError, actor_to_dict, actors_from_document
from services.matching.domain.hand_routing import REASON_MAX, REASON_MIN
from services.matching.domain.lifecycle import STATUS_LABELS, Assignment, AssignmentStatus
from services.matching.domain.routing import Policy
from services.matching.service_layer import actors, assignments, hand_routing, memberships, routing
from services.matching.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.errors import DomainValidationError, FieldError
from shared.http.security import CurrentPrincipal
from shared.refdata import get_territories

actors_router = APIRouter(prefix="/v1/actors", tags=["acteurs"])
assignments_router = APIRouter(prefix="/v1/assignments", tags=["mises en relation"])
unmatched_router = APIRouter(prefix="/v1/unmatched", tags=["demandes sans acteur"])
members_router = APIRouter(prefix="/v1/members", tags=["adhérents"])


UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]
# An actor's id as the catalogue writes it (services/matching/domain/catalogue.py).
ActorId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


def _policy(request: Request) -> Policy:
    rules: MatchingRules = request.app.state.matching_rules
    return rules.policy()


# --- actors ---------------------------------------------------------------------------


@actors_router.get("", summary="Catalogue des acteurs d'un département")
async def list_actors(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
) -> list[dict[str, Any]]:
    async with uow:
        found = await actors.list_actors(uow, principal, departement)
    return [actor_to_dict(a) for a in found]


@actors_router.get("/{actor_id}", summary="Un acteur")
async def read_actor(actor_id: ActorId, principal: CurrentPrincipal, uow: UoW) -> dict[str, Any]:
    async with uow:
        actor = await actors.read_actor(uow, principal, actor_id)
    return actor_to_dict(actor)


@actors_router.put(
    "/{actor_id}",
    summary="Enregistrer ou modifier un acteur (équipe du département)",
    responses={422: {"description": "Fiche invalide, message en français."}},
)
async def save_actor(
    actor_id: ActorId,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[dict[str, Any], Body(description="Fiche d'acteur, format du catalogue.")],
) -> dict[str, Any]:
    departement = str(body.get("departement") or principal.departement or "")
    # What GET returns can be sent back as it is: the version is ours to set.
    fields = {k: v for k, v in body.items() if k != "version"} | {"id": actor_id}
    try:
        [actor] = actors_from_document({"departement": departement, "actors": [fields]})
    except CatalogueError as exc:
        raise DomainValidationError([FieldError("acteur", str(exc))]) from exc
    async with uow:
        version = await actors.save_actor(uow, principal, actor, datetime.now(UTC))
    return actor_to_dict(actor) | {"version": version if version > 0 else None}


@actors_router.put(
    "",
    summary="Charger un catalogue complet (fichier JSON d'un département)",
)
async def load_catalogue(
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[dict[str, Any], Body(description="{departement, actors: [...]}")],
) -> dict[str, int]:
    try:
        catalogue = actors_from_document(body)
    except CatalogueError as exc:
        raise DomainValidationError([FieldError("catalogue", str(exc))]) from exc
    async with uow:
        changed = await actors.load_catalogue(uow, principal, catalogue, datetime.now(UTC))
    return {"actors": len(catalogue), "changed": changed}


# --- assignments ----------------------------------------------------------------------


class AssignmentView(BaseModel):
    id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    needs: list[str]
    lead: bool
    round: int
    status: AssignmentStatus
    status_label: str
    criteria: dict[str, float]
    reasons: str
    proposed_at: datetime
    respond_by: datetime
    responded_at: datetime | None
    completed_at: datetime | None
    days_spent: Decimal | None
    note: str | None
    agent: str | None = None

    @classmethod
    def of(cls, a: Assignment) -> AssignmentView:
        c = a.criteria
        return cls(
            id=a.id,
            request_id=a.request_id,
            departement=a.departement,
            actor_id=a.actor_id,
            requester_code=a.requester_code,
            needs=[str(n) for n in a.needs],
            lead=a.lead,
            round=a.round,
            status=a.status,
            status_label=STATUS_LABELS[a.status],
            criteria={
                "couverture": c.coverage,
                "expertise": c.expertise,
                "charge": c.load,
                "continuite": c.continuity,
                "proximite": c.locality,
                "score": c.score,
            },
            reasons=a.reasons,
            proposed_at=a.proposed_at,
            respond_by=a.respond_by,
            responded_at=a.responded_at,
            completed_at=a.completed_at,
            days_spent=a.days_spent,
            note=a.note,
            agent=a.agent,
        )


class Acceptance(BaseModel):
    agent: Line | None = Field(
        default=None,
        max_length=200,
        description="L'agent de l'acteur en charge de la mission (par défaut : qui accepte).",
    )


class Decline(BaseModel):
    reason: Text | None = Field(default=None, max_length=1000)


class Completion(BaseModel):
    days_spent: Decimal = Field(ge=0, le=1000, max_digits=7, decimal_places=2)
    report: Text | None = Field(default=None, max_length=5000)


@assignments_router.get("", response_model=list[AssignmentView], summary="Mises en relation")
async def list_assignments(
    principal: CurrentPrincipal,
    uow: UoW,
    status: AssignmentStatus | None = None,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AssignmentView]:
    async with uow:
        found = await assignments.list_assignments(
            uow, principal, status=status, departement=departement, limit=limit, offset=offset
        )
    return [AssignmentView.of(a) for a in found]


@assignments_router.get("/{assignment_id}", response_model=AssignmentView)
async def read_assignment(
    assignment_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> AssignmentView:
    async with uow:
        found = await assignments.read_assignment(uow, principal, assignment_id)
    return AssignmentView.of(found)


@assignments_router.post(
    "/{assignment_id}/accept", response_model=AssignmentView, summary="Accepter (acteur)"
)
async def accept(
    assignment_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Acceptance | None, Body()] = None,
) -> AssignmentView:
    async with uow:
        done = await assignments.accept(
            uow, principal, assignment_id, datetime.now(UTC), body.agent if body else None
        )
    return AssignmentView.of(done)


@assignments_router.post(
    "/{assignment_id}/decline", response_model=AssignmentView, summary="Décliner (acteur)"
)
async def decline(
    request: Request,
    assignment_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Decline | None, Body()] = None,
) -> AssignmentView:
    async with uow:
        done = await assignments.decline(
            uow,
            principal,
            assignment_id,
            body.reason if body else None,
            _policy(request),
            get_territories(),
            datetime.now(UTC),
        )
    return AssignmentView.of(done)


@assignments_router.post(
    "/{assignment_id}/complete",
    response_model=AssignmentView,
    summary="Déclarer la mission terminée, avec les jours passés (acteur)",
)
async def complete(
    assignment_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Completion,
) -> AssignmentView:
    async with uow:
        done = await assignments.complete(
            uow, principal, assignment_id, body.days_spent, body.report, datetime.now(UTC)
        )
    return AssignmentView.of(done)


# --- unmatched ------------------------------------------------------------------------


class UnmatchedView(BaseModel):
    request_id: UUID
    departement: str
    requester_code: str
    uncovered_needs: list[str]
    summary: str
    since: datetime
    reason: str | None = Field(
        default=None,
        description="aucun_acteur, territoire, eligibilite, adhesion_requise, capacite, refus",
    )


@unmatched_router.get(
    "", response_model=list[UnmatchedView], summary="Demandes sans acteur (équipe du département)"
)
async def list_unmatched(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UnmatchedView]:
    async with uow:
        found = await routing.list_unmatched(uow, principal, departement, limit, offset)
    return [
        UnmatchedView(
            request_id=d.request_id,
            departement=d.departement,
            requester_code=d.requester_code,
            uncovered_needs=[str(n) for n in d.uncovered],
            summary=d.summary,
            since=d.updated_at,
            reason=d.unmatched_reason,
        )
        for d in found
    ]


class HandRouting(BaseModel):
    actor_id: Line = Field(min_length=1, max_length=200)
    reason: Text = Field(min_length=REASON_MIN, max_length=REASON_MAX)


@unmatched_router.post(
    "/{request_id}/route",
    response_model=AssignmentView,
    status_code=201,
    summary="Proposer à la main l'acteur choisi pour une demande sans acteur (équipe)",
    description="Dans la limite de la capacité de l'acteur, comme pour une proposition "
    "automatique ; l'événement `matching.assignment.proposed.v1` porte `routed_by`.",
)
async def route_by_hand(
    request: Request, request_id: UUID, principal: CurrentPrincipal, uow: UoW, body: HandRouting
) -> AssignmentView:
    async with uow:
        proposed = await hand_routing.route_by_hand(
            uow,
            principal,
            request_id,
            body.actor_id,
            body.reason,
            _policy(request),
            datetime.now(UTC),
        )
    return AssignmentView.of(proposed)


# --- members --------------------------------------------------------------------------


class MembersView(BaseModel):
    departement: str | None
    year: int | None
    adhesions: int = Field(description="Adhésions known to matching, ended ones included.")


@members_router.get(
    "", response_model=MembersView, summary="Adhésions connues de la mise en relation (équipe)"
)
async def count_members(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> MembersView:
    async with uow:
        found = await memberships.count_members(uow, principal, departement, year)
    return MembersView(departement=departement, year=year, adhesions=found)
