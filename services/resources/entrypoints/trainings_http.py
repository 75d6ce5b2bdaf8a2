"""HTTP API of the trainings: offer a session (an actor, or the département's team), list
the upcoming ones, register participants (a collectivité), cancel a registration."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Header, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.resources import bootstrap
from services.resources.domain.trainings import Registration, TrainingSession
from services.resources.service_layer import training_follow_up, trainings
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.contracts.resources import Audience, RegistrationStatus
from shared.contracts.vocabulary import Theme
from shared.http.security import CurrentPrincipal

router = APIRouter(prefix="/v1/trainings", tags=["formations"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]

Price = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=10, decimal_places=2)]


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=5, max_length=200)
    description: Text = Field(default="", max_length=10_000)
    themes: list[Theme] = Field(min_length=1, max_length=6)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    online: bool = False
    place: Line | None = Field(default=None, max_length=300)
    seats: int = Field(ge=1, le=10_000)
    audience: list[Audience] = Field(min_length=1, max_length=2)
    price_member: Price
    price_non_member: Price
    actor_id: Line | None = Field(default=None, max_length=80)


class SessionView(BaseModel):
    id: UUID
    departement: str
    actor_id: str
    title: str
    description: str
    themes: list[Theme]
    starts_at: datetime
    ends_at: datetime
    online: bool
    place: str | None
    seats: int
    seats_taken: int
    audience: list[Audience]
    price_member: Decimal
    price_non_member: Decimal

    @classmethod
    def of(cls, t: TrainingSession) -> SessionView:
        return cls(
            id=t.id,
            departement=t.departement,
            actor_id=t.actor_id,
            title=t.title,
            description=t.description,
            themes=t.themes,
            starts_at=t.starts_at,
            ends_at=t.ends_at,
            online=t.online,
            place=t.place,
            seats=t.seats,
            seats_taken=t.seats_taken,
            audience=t.audience,
            price_member=t.price_member,
            price_non_member=t.price_non_member,
        )


class RegistrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participants: list[Annotated[Line, Field(min_length=2, max_length=120)]] = Field(
        min_length=1, max_length=50, description="Nom de chaque participant."
    )
    collectivite_code: str | None = Field(
        default=None, min_length=5, max_length=9, description="Équipe du département seulement."
    )


class RegistrationView(BaseModel):
    id: UUID
    session_id: UUID
    collectivite_code: str
    participants: list[str]
    status: RegistrationStatus
    position: int = Field(description="Ordre d'arrivée : celui de la liste d'attente.")
    registered_at: datetime
    promoted_at: datetime | None
    cancelled_at: datetime | None
    present: list[str] | None

    @classmethod
    def of(cls, r: Registration) -> RegistrationView:
        return cls(
            id=r.id,
            session_id=r.session_id,
            collectivite_code=r.collectivite_code,
            participants=r.participants,
            status=r.status,
            position=r.position,
            registered_at=r.registered_at,
            promoted_at=r.promoted_at,
            cancelled_at=r.cancelled_at,
            present=r.present,
        )


class AttendanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    present: list[Annotated[Line, Field(min_length=2, max_length=120)]] = Field(
        max_length=50, description="Les participants présents, tels qu'inscrits."
    )


class SessionDetail(BaseModel):
    session: SessionView
    registrations: list[RegistrationView]


@router.post("", status_code=201, response_model=SessionView, summary="Proposer une session")
async def offer(
    response: Response,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[SessionBody, Body()],
) -> SessionView:
    draft = trainings.SessionDraft(**body.model_dump())
    async with uow:
        training = await trainings.offer_session(uow, principal, uuid4(), draft, datetime.now(UTC))
    response.headers["Location"] = f"/v1/trainings/{training.id}"
    return SessionView.of(training)


@router.get("", response_model=list[SessionView], summary="Sessions à venir")
async def upcoming(principal: CurrentPrincipal, uow: UoW) -> list[SessionView]:
    async with uow:
        found = await trainings.upcoming_sessions(uow, principal, datetime.now(UTC))
    return [SessionView.of(t) for t in found]


@router.get("/{session_id}", response_model=SessionDetail, summary="Lire une session")
async def read(session_id: UUID, principal: CurrentPrincipal, uow: UoW) -> SessionDetail:
    async with uow:
        training, every = await trainings.read_session(uow, principal, session_id)
    return SessionDetail(
        session=SessionView.of(training), registrations=[RegistrationView.of(r) for r in every]
    )


@router.post(
    "/{session_id}/registrations",
    status_code=201,
    response_model=RegistrationView,
    summary="Inscrire des participants (liste d'attente si la session est complète)",
)
async def register(
    session_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[RegistrationBody, Body()],
    idempotency_key: Annotated[UUID | None, Header()] = None,
) -> RegistrationView:
    async with uow:
        registration = await trainings.register(
            uow,
            principal,
            session_id,
            idempotency_key or uuid4(),
            list(body.participants),
            datetime.now(UTC),
            collectivite_code=body.collectivite_code,
        )
    return RegistrationView.of(registration)


@router.post(
    "/registrations/{registration_id}/cancel",
    response_model=list[RegistrationView],
    summary="Annuler une inscription ; renvoie les inscriptions promues de la liste d'attente",
)
async def cancel(
    registration_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> list[RegistrationView]:
    async with uow:
        promoted = await trainings.cancel_registration(
            uow, principal, registration_id, datetime.now(UTC)
        )
    return [RegistrationView.of(r) for r in promoted]


@router.post(
    "/registrations/{registration_id}/attendance",
    response_model=RegistrationView,
    summary="Relever les présents (l'acteur de la session, une fois commencée)",
)
async def attendance(
    registration_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[AttendanceBody, Body()],
) -> RegistrationView:
    async with uow:
        registration = await training_follow_up.record_attendance(
            uow, principal, registration_id, list(body.present), datetime.now(UTC)
        )
    return RegistrationView.of(registration)


@router.get(
    "/registrations/{registration_id}/certificate.pdf",
    response_class=Response,
    summary="Attestation de présence (PDF)",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def certificate(registration_id: UUID, principal: CurrentPrincipal, uow: UoW) -> Response:
    async with uow:
        registration, session = await training_follow_up.certificate(
            uow, principal, registration_id
        )
    pdf = await asyncio.to_thread(bootstrap.attendance_certificate, registration, session)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="attestation-{registration_id}.pdf"'},
    )
