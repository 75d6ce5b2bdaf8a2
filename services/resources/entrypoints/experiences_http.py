"""HTTP API of the retours d'expérience: read, write (the mission's actor), consent to
publication (the collectivité accompanied)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from services.resources import bootstrap
from services.resources.domain.experiences import Experience, ExperienceStatus
from services.resources.service_layer import experiences
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.contracts.vocabulary import Phase, Theme
from shared.http.security import CurrentPrincipal

router = APIRouter(prefix="/v1/experiences", tags=["retours d'expérience"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


class ExperienceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=5, max_length=200)
    context: Text = Field(default="", max_length=5000)
    what_was_done: Text = Field(min_length=20, max_length=20_000)
    lessons: Text = Field(default="", max_length=10_000)
    contacts: Text = Field(default="", max_length=2000)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    duration_days: Decimal | None = Field(default=None, ge=0, max_digits=7, decimal_places=2)


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: bool = Field(description="La collectivité accepte la publication.")


class ExperienceView(BaseModel):
    id: UUID
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    commune_population: int
    themes: list[Theme]
    phases: list[Phase]
    status: ExperienceStatus
    title: str
    context: str
    what_was_done: str
    lessons: str
    contacts: str
    cost: Decimal | None
    duration_days: Decimal | None
    drafted_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, e: Experience) -> ExperienceView:
        return cls(
            id=e.id,
            assignment_id=e.assignment_id,
            request_id=e.request_id,
            departement=e.departement,
            actor_id=e.actor_id,
            requester_code=e.requester_code,
            commune_population=e.commune_population,
            themes=e.themes,
            phases=e.phases,
            status=e.status,
            title=e.title,
            context=e.context,
            what_was_done=e.what_was_done,
            lessons=e.lessons,
            contacts=e.contacts,
            cost=e.cost,
            duration_days=e.duration_days,
            drafted_at=e.drafted_at,
            published_at=e.published_at,
        )


@router.get("/{experience_id}", response_model=ExperienceView, summary="Lire un retour")
async def read(experience_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ExperienceView:
    async with uow:
        found = await experiences.read(uow, principal, experience_id)
    return ExperienceView.of(found)


@router.put("/{experience_id}", response_model=ExperienceView, summary="Rédiger le retour")
async def write(
    experience_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[ExperienceBody, Body()],
) -> ExperienceView:
    text = experiences.ExperienceText(**body.model_dump())
    async with uow:
        found = await experiences.write(uow, principal, experience_id, text)
    return ExperienceView.of(found)


@router.post(
    "/{experience_id}/consent",
    response_model=ExperienceView,
    summary="Consentement de la collectivité : publié s'il est donné",
)
async def consent(
    experience_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[ConsentBody, Body()],
) -> ExperienceView:
    async with uow:
        found = await experiences.consent(
            uow, principal, experience_id, body.given, datetime.now(UTC)
        )
    return ExperienceView.of(found)
