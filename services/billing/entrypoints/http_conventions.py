"""HTTP API of the conventions: read them (JSON, HTML, PDF), send, sign, refuse, amend;
and the completed missions no invoice follows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.billing import bootstrap
from services.billing.domain.convention import (
    ENGAGEMENT_MAX,
    SERVICE_CODE_MAX,
    Convention,
    ConventionStatus,
    UnbilledCompletion,
)
from services.billing.service_layer import conventions
from services.billing.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.http.security import CurrentPrincipal

conventions_router = APIRouter(prefix="/v1/conventions", tags=["conventions"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


class ConventionOut(BaseModel):
    id: UUID
    number: str
    version: int
    status: ConventionStatus
    departement: str
    year: int
    demande_id: UUID
    assignment_id: UUID
    structure: str
    actor_id: str
    actor_name: str
    collectivite_code: str
    collectivite_kind: str
    collectivite_name: str
    siret: str | None
    object: str
    phases: list[str]
    pricing_mode: str
    lines: list[dict[str, Any]]
    total_excl_tax: Decimal
    total_vat: Decimal
    total_incl_tax: Decimal
    schedule: list[dict[str, str]]
    valid_until: datetime
    prepared_at: datetime
    sent_at: datetime | None
    signed_at: datetime | None
    engagement_number: str | None
    service_code: str | None
    refusal_reason: str | None
    amends_id: UUID | None
    amendment_reason: str | None
    price_delta: Decimal | None

    @classmethod
    def of(cls, c: Convention) -> ConventionOut:
        p, who = c.parties, c.parties.collectivite
        return cls(
            id=c.id,
            number=c.number,
            version=c.version,
            status=c.status,
            departement=c.departement,
            year=c.year,
            demande_id=c.demande_id,
            assignment_id=c.assignment_id,
            structure=p.structure,
            actor_id=p.actor_id,
            actor_name=p.actor_name,
            collectivite_code=who.code,
            collectivite_kind=who.kind.value,
            collectivite_name=who.name,
            siret=p.siret,
            object=c.object,
            phases=list(c.phases),
            pricing_mode=c.pricing.mode,
            lines=[line.as_json() for line in c.lines],
            total_excl_tax=c.totals.excl_tax,
            total_vat=c.totals.vat,
            total_incl_tax=c.totals.incl_tax,
            schedule=[{"label": i.label, "share": str(i.share)} for i in c.schedule],
            valid_until=c.valid_until,
            prepared_at=c.prepared_at,
            sent_at=c.sent_at,
            signed_at=c.signed_at,
            engagement_number=c.engagement_number,
            service_code=c.service_code,
            refusal_reason=c.refusal_reason,
            amends_id=c.amends_id,
            amendment_reason=c.amendment_reason,
            price_delta=c.price_delta,
        )


class Sending(BaseModel):
    estimated_days: Decimal | None = Field(default=None, gt=0, le=1000, decimal_places=2)
    works_amount: Decimal | None = Field(default=None, gt=0, le=10**10, decimal_places=2)


class Signature(BaseModel):
    engagement_number: Line = Field(min_length=1, max_length=ENGAGEMENT_MAX)
    service_code: Line | None = Field(default=None, min_length=1, max_length=SERVICE_CODE_MAX)
    siret: str | None = Field(default=None, min_length=14, max_length=14)


class Refusal(BaseModel):
    reason: Text | None = Field(default=None, max_length=1000)


class Amendment(BaseModel):
    price_delta: Decimal = Field(ge=-(10**9), le=10**9, decimal_places=2)
    reason: Text = Field(min_length=3, max_length=1000)


class UnbilledOut(BaseModel):
    assignment_id: UUID
    demande_id: UUID
    departement: str
    actor_id: str
    collectivite_code: str
    reason: str
    completed_at: datetime

    @classmethod
    def of(cls, u: UnbilledCompletion) -> UnbilledOut:
        return cls(
            assignment_id=u.assignment_id,
            demande_id=u.demande_id,
            departement=u.departement,
            actor_id=u.actor_id,
            collectivite_code=u.collectivite_code,
            reason=u.reason,
            completed_at=u.completed_at,
        )


@conventions_router.get("", response_model=list[ConventionOut], summary="Conventions")
async def list_conventions(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    status: ConventionStatus | None = None,
    demande_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ConventionOut]:
    async with uow:
        found = await conventions.list_conventions(
            uow,
            principal,
            departement=departement,
            status=status,
            demande_id=demande_id,
            limit=limit,
            offset=offset,
        )
    return [ConventionOut.of(c) for c in found]


@conventions_router.get(
    "/unbilled-completions",
    response_model=list[UnbilledOut],
    summary="Missions terminées sans convention signée (non facturées)",
)
async def unbilled(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UnbilledOut]:
    async with uow:
        found = await conventions.list_unbilled(uow, principal, departement, limit, offset)
    return [UnbilledOut.of(u) for u in found]


@conventions_router.get("/{convention_id}", response_model=ConventionOut, summary="Une convention")
async def read(convention_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ConventionOut:
    async with uow:
        found = await conventions.read_convention(uow, principal, convention_id)
    return ConventionOut.of(found)


@conventions_router.get(
    "/{convention_id}/document",
    response_class=HTMLResponse,
    summary="La convention lisible, en français (HTML)",
)
async def document(convention_id: UUID, principal: CurrentPrincipal, uow: UoW) -> HTMLResponse:
    async with uow:
        _, html = await conventions.convention_document(uow, principal, convention_id)
    return HTMLResponse(html)


@conventions_router.get(
    "/{convention_id}/document.pdf",
    response_class=Response,
    summary="La convention en PDF",
)
async def document_pdf(convention_id: UUID, principal: CurrentPrincipal, uow: UoW) -> Response:
    async with uow:
        found, html = await conventions.convention_document(uow, principal, convention_id)
    # Printing takes CPU time: off the event loop, so the service keeps answering.
    pdf = await asyncio.to_thread(bootstrap.pdf_printer, html)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{found.number}.pdf"'},
    )


@conventions_router.post(
    "/{convention_id}/send", response_model=ConventionOut, summary="Envoyer pour signature"
)
async def send(
    convention_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Sending | None, Body()] = None,
) -> ConventionOut:
    sending = body or Sending()
    async with uow:
        sent = await conventions.send_convention(
            uow,
            principal,
            convention_id,
            datetime.now(UTC),
            estimated_days=sending.estimated_days,
            works_amount=sending.works_amount,
        )
    return ConventionOut.of(sent)


@conventions_router.post(
    "/{convention_id}/sign", response_model=ConventionOut, summary="Signer (la collectivité)"
)
async def sign(
    convention_id: UUID, principal: CurrentPrincipal, uow: UoW, body: Signature
) -> ConventionOut:
    async with uow:
        signed = await conventions.sign_convention(
            uow,
            principal,
            convention_id,
            datetime.now(UTC),
            engagement_number=body.engagement_number,
            service_code=body.service_code,
            siret=body.siret,
        )
    return ConventionOut.of(signed)


@conventions_router.post(
    "/{convention_id}/refuse", response_model=ConventionOut, summary="Refuser (la collectivité)"
)
async def refuse(
    convention_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Refusal | None, Body()] = None,
) -> ConventionOut:
    async with uow:
        refused = await conventions.refuse_convention(
            uow, principal, convention_id, body.reason if body else None, datetime.now(UTC)
        )
    return ConventionOut.of(refused)


@conventions_router.post(
    "/{convention_id}/amend",
    response_model=ConventionOut,
    status_code=201,
    summary="Préparer un avenant à la convention signée",
)
async def amend(
    convention_id: UUID, principal: CurrentPrincipal, uow: UoW, body: Amendment
) -> ConventionOut:
    async with uow:
        avenant = await conventions.amend_convention(
            uow, principal, convention_id, body.price_delta, body.reason, datetime.now(UTC)
        )
    return ConventionOut.of(avenant)
