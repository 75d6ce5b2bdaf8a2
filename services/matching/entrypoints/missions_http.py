"""HTTP API of a mission's course: its milestones, marked done with their deliverables,
the deliverables' bytes, the timeline, and the hand-over of an agent's missions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.matching import bootstrap
from services.matching.config import MissionSettings
from services.matching.domain.deliverables import (
    ACCEPTED_LABEL,
    MAX_DELIVERABLE_BYTES,
    TOO_LARGE,
    Deliverable,
    DeliverableTooLarge,
)
from services.matching.domain.lifecycle import STATUS_LABELS
from services.matching.domain.missions import MILESTONE_LABELS, Milestone, MilestoneStatus
from services.matching.entrypoints.http import ActorId
from services.matching.service_layer import handovers, missions
from services.matching.service_layer.ports import ContentStore, UnitOfWork
from shared.contracts.base import Line, Text
from shared.errors import PayloadTooLarge
from shared.http.security import CurrentPrincipal

missions_router = APIRouter(prefix="/v1/missions", tags=["missions"])
handovers_router = APIRouter(prefix="/v1/actors", tags=["acteurs"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]
Store = Annotated[ContentStore, Depends(bootstrap.http_content_store)]
# A file name as the collectivité will see it: one line, no folder.
FileName = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^/\\]+$")]


def _public_url(request: Request) -> str:
    settings: MissionSettings = request.app.state.mission_settings
    return settings.public_url


class DeliverableView(BaseModel):
    id: UUID
    milestone_id: UUID
    name: str
    content_type: str
    size: int
    sha256: str
    download_url: str
    added_at: datetime
    added_by: str

    @classmethod
    def of(cls, d: Deliverable, public_url: str) -> DeliverableView:
        ref = missions.deliverable_ref(d, public_url)
        return cls(
            id=d.id,
            milestone_id=d.milestone_id,
            name=d.name,
            content_type=d.content_type,
            size=d.size,
            sha256=d.sha256,
            download_url=ref.download_url,
            added_at=d.added_at,
            added_by=d.added_by,
        )


class MilestoneView(BaseModel):
    id: UUID
    position: int
    title: str
    due_on: date
    status: MilestoneStatus
    status_label: str
    done_at: datetime | None
    done_by: str | None
    note: str | None
    late: bool
    deliverables: list[DeliverableView] = Field(default_factory=list)

    @classmethod
    def of(cls, m: Milestone, attached: list[DeliverableView] | None = None) -> MilestoneView:
        return cls(
            id=m.id,
            position=m.position,
            title=m.title,
            due_on=m.due_on,
            status=m.status,
            status_label=MILESTONE_LABELS[m.status],
            done_at=m.done_at,
            done_by=m.done_by,
            note=m.note,
            late=m.late(),
            deliverables=attached or [],
        )


class HandoverView(BaseModel):
    from_agent: str | None
    to_agent: str
    reason: str | None
    by: str
    at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    label: str


class TimelineView(BaseModel):
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    agent: str | None
    status_label: str
    milestones: list[MilestoneView]
    handovers: list[HandoverView]
    events: list[TimelineEntry] = Field(description="Ce qui s'est passé, dans l'ordre.")


def _timeline_view(t: missions.Timeline, public_url: str) -> TimelineView:
    views = [DeliverableView.of(d, public_url) for d in t.deliverables]
    m = t.mission
    events = [TimelineEntry(at=m.responded_at, label="Mission acceptée")] if m.responded_at else []
    events += [TimelineEntry(at=d.added_at, label=f"Livrable ajouté : {d.name}") for d in views]
    events += [
        TimelineEntry(at=s.done_at, label=f"Jalon remis : {s.title}")
        for s in t.milestones
        if s.done_at is not None
    ]
    events += [TimelineEntry(at=h.at, label=f"Mission confiée à {h.to_agent}") for h in t.handovers]
    if m.completed_at:
        events.append(TimelineEntry(at=m.completed_at, label="Mission terminée"))
    return TimelineView(
        assignment_id=m.id,
        request_id=m.request_id,
        departement=m.departement,
        actor_id=m.actor_id,
        requester_code=m.requester_code,
        agent=m.agent,
        status_label=STATUS_LABELS[m.status],
        milestones=[
            MilestoneView.of(s, [d for d in views if d.milestone_id == s.id]) for s in t.milestones
        ],
        handovers=[
            HandoverView(
                from_agent=h.from_agent, to_agent=h.to_agent, reason=h.reason, by=h.by, at=h.at
            )
            for h in t.handovers
        ],
        events=sorted(events, key=lambda e: e.at),
    )


class NewMilestone(BaseModel):
    title: Line = Field(min_length=1, max_length=200)
    due_on: date


class MilestoneChange(BaseModel):
    title: Line | None = Field(default=None, min_length=1, max_length=200)
    due_on: date | None = None


class MilestoneDoneBody(BaseModel):
    note: Text | None = Field(default=None, max_length=5000)


class HandoverBody(BaseModel):
    from_agent: Line = Field(min_length=1, max_length=200)
    to_agent: Line = Field(min_length=1, max_length=200)
    reason: Text | None = Field(default=None, max_length=1000)


class HandoverResult(BaseModel):
    reassigned: list[UUID]


@missions_router.get(
    "",
    response_model=list[TimelineView],
    summary="Les missions d'une demande et leur déroulé (collectivité, département, acteur)",
)
async def list_missions(
    request: Request, request_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> list[TimelineView]:
    async with uow:
        found = await missions.timelines_of_request(uow, principal, request_id)
    return [_timeline_view(t, _public_url(request)) for t in found]


@missions_router.get(
    "/{assignment_id}/timeline",
    response_model=TimelineView,
    summary="Déroulé d'une mission : jalons, livrables, passations (collectivité, département)",
)
async def read_timeline(
    request: Request, assignment_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> TimelineView:
    async with uow:
        found = await missions.timeline(uow, principal, assignment_id)
    return _timeline_view(found, _public_url(request))


@missions_router.post(
    "/{assignment_id}/milestones",
    response_model=MilestoneView,
    status_code=201,
    summary="Ajouter un jalon au plan (acteur, département)",
)
async def add_milestone(
    assignment_id: UUID, principal: CurrentPrincipal, uow: UoW, body: NewMilestone
) -> MilestoneView:
    async with uow:
        added = await missions.add_milestone(uow, principal, assignment_id, body.title, body.due_on)
    return MilestoneView.of(added)


@missions_router.patch(
    "/{assignment_id}/milestones/{milestone_id}",
    response_model=MilestoneView,
    summary="Modifier l'intitulé ou l'échéance d'un jalon à venir (acteur, département)",
)
async def edit_milestone(
    assignment_id: UUID,
    milestone_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: MilestoneChange,
) -> MilestoneView:
    async with uow:
        changed = await missions.edit_milestone(
            uow, principal, assignment_id, milestone_id, title=body.title, due_on=body.due_on
        )
    return MilestoneView.of(changed)


@missions_router.post(
    "/{assignment_id}/milestones/{milestone_id}/done",
    response_model=MilestoneView,
    summary="Déclarer un jalon remis, avec les livrables déjà joints (acteur)",
)
async def mark_done(
    request: Request,
    assignment_id: UUID,
    milestone_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[MilestoneDoneBody | None, Body()] = None,
) -> MilestoneView:
    async with uow:
        done = await missions.mark_done(
            uow,
            principal,
            assignment_id,
            milestone_id,
            body.note if body else None,
            _public_url(request),
            datetime.now(UTC),
        )
    return MilestoneView.of(done)


def _capped_reader(request: Request) -> missions.Reader:
    async def read() -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > MAX_DELIVERABLE_BYTES:
                raise DeliverableTooLarge(TOO_LARGE)
            chunks.append(chunk)
        return b"".join(chunks)

    return read


def _announced_size(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


@missions_router.post(
    "/{assignment_id}/milestones/{milestone_id}/deliverables",
    response_model=DeliverableView,
    status_code=201,
    summary="Joindre un livrable à un jalon (le fichier est le corps de la requête)",
    description=(
        f"Types acceptés : {ACCEPTED_LABEL}, reconnus d'après le contenu du fichier ; "
        "10 Mo au plus. Le nom du fichier est le paramètre `name`."
    ),
    responses={
        403: {"description": "Mission d'un autre acteur ou d'un autre département."},
        413: {"description": "Fichier de plus de 10 Mo."},
        415: {"description": "Type de fichier non accepté."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def add_deliverable(
    request: Request,
    assignment_id: UUID,
    milestone_id: UUID,
    name: FileName,
    principal: CurrentPrincipal,
    uow: UoW,
    store: Store,
) -> DeliverableView:
    announced = _announced_size(request)
    if announced is not None and announced > MAX_DELIVERABLE_BYTES:
        # Refused on its announced size, before a byte of it is read.
        raise PayloadTooLarge(TOO_LARGE)
    async with uow:
        added = await missions.add_deliverable(
            uow,
            store,
            principal,
            assignment_id,
            milestone_id,
            name,
            _capped_reader(request),
            _public_url(request),
            datetime.now(UTC),
        )
    return DeliverableView.of(added, _public_url(request))


@missions_router.get(
    "/{assignment_id}/deliverables/{deliverable_id}",
    summary="Télécharger un livrable",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download(
    assignment_id: UUID, deliverable_id: UUID, principal: CurrentPrincipal, uow: UoW, store: Store
) -> Response:
    async with uow:
        found, data = await missions.deliverable_content(
            uow, store, principal, assignment_id, deliverable_id
        )
    return Response(
        content=data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(found.name)}",
            "X-Content-SHA256": found.sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )


def _quoted(name: str) -> str:
    return quote(name, safe="")


@handovers_router.post(
    "/{actor_id}/handover",
    response_model=HandoverResult,
    summary="Confier les missions en cours d'un agent qui part à un collègue (département)",
)
async def hand_over(
    actor_id: ActorId, principal: CurrentPrincipal, uow: UoW, body: HandoverBody
) -> HandoverResult:
    async with uow:
        moved = await handovers.hand_over(
            uow,
            principal,
            actor_id,
            body.from_agent,
            body.to_agent,
            body.reason,
            datetime.now(UTC),
        )
    return HandoverResult(reassigned=[m.id for m in moved])
