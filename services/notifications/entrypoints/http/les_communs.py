"""Our projects as published to Les Communs: what the département team can follow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.notifications.entrypoints.http.dependencies import DEPARTEMENT, UoW
from services.notifications.service_layer import les_communs
from shared.http.security import CurrentPrincipal

les_communs_router = APIRouter(prefix="/v1/les-communs", tags=["les communs"])


class PublishedProjectView(BaseModel):
    project_id: UUID
    departement: str
    phase: str
    phase_status: str
    status: str
    revision: int
    sent_revision: int
    attempts: int
    les_communs_id: str | None
    last_error: str | None
    sent_at: datetime | None


@les_communs_router.get(
    "/projects",
    response_model=list[PublishedProjectView],
    summary="Projets publiés vers Les Communs (équipe du département)",
)
async def list_projects(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(pattern=DEPARTEMENT)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[PublishedProjectView]:
    async with uow:
        found = await les_communs.list_published(uow, principal, departement, limit)
    return [
        PublishedProjectView(
            project_id=p.project_id,
            departement=p.departement,
            phase=p.phase,
            phase_status=p.phase_status,
            status=p.status,
            revision=p.revision,
            sent_revision=p.sent_revision,
            attempts=p.attempts,
            les_communs_id=p.les_communs_id,
            last_error=p.last_error,
            sent_at=p.sent_at,
        )
        for p in found
    ]
