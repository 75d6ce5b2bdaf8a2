"""HTTP API of the buyer accounts (ADR 0017): the invoicing establishment of each
collectivité in Chorus Pro, set by the département's team."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from services.billing import bootstrap
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.convention import SERVICE_CODE_MAX
from services.billing.service_layer import buyers
from services.billing.service_layer.ports import UnitOfWork
from shared.contracts.base import Line
from shared.http.security import CurrentPrincipal
from shared.refdata import get_territories

buyers_router = APIRouter(prefix="/v1/buyers", tags=["comptes acheteurs (Chorus Pro)"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]
Code = Annotated[str, Path(min_length=5, max_length=9, description="INSEE (commune), SIREN (EPCI)")]


class BuyerIn(BaseModel):
    departement: str | None = Field(default=None, min_length=2, max_length=3)
    siret: str = Field(min_length=1, max_length=32, description="SIRET de l'établissement")
    service_code: Line | None = Field(default=None, min_length=1, max_length=SERVICE_CODE_MAX)
    # Left out: kept as they are (the Chorus Pro directory sets them).
    service_code_required: bool | None = None
    engagement_required: bool | None = None


class BuyerOut(BaseModel):
    departement: str
    collectivite_code: str
    collectivite_kind: str
    collectivite_name: str
    siret: str
    service_code: str | None
    service_code_required: bool
    engagement_required: bool
    service_or_engagement_required: bool
    services: list[str]
    source: str
    updated_at: datetime

    @classmethod
    def of(cls, a: BuyerAccount) -> BuyerOut:
        # The account as its event tells it: one list of fields.
        return cls.model_validate(a.event().model_dump())


@buyers_router.put(
    "/{collectivite_code}", response_model=BuyerOut, summary="Enregistrer le compte acheteur"
)
async def put_buyer(
    collectivite_code: Code, principal: CurrentPrincipal, uow: UoW, body: BuyerIn
) -> BuyerOut:
    territories = get_territories()
    departement = (
        body.departement
        or principal.departement
        or territories.home_departement(collectivite_code)
        or ""
    )
    async with uow:
        account = await buyers.register_buyer(
            uow,
            principal,
            departement,
            collectivite_code,
            siret=body.siret,
            service_code=body.service_code,
            service_code_required=body.service_code_required,
            engagement_required=body.engagement_required,
            territories=territories,
            now=datetime.now(UTC),
        )
    return BuyerOut.of(account)


@buyers_router.get("", response_model=list[BuyerOut], summary="Comptes acheteurs d'un département")
async def list_buyers(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[BuyerOut]:
    async with uow:
        found = await buyers.list_buyers(uow, principal, departement, limit, offset)
    return [BuyerOut.of(a) for a in found]


@buyers_router.get("/{collectivite_code}", response_model=BuyerOut, summary="Un compte acheteur")
async def read_buyer(
    collectivite_code: Code,
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
) -> BuyerOut:
    async with uow:
        found = await buyers.read_buyer(uow, principal, departement, collectivite_code)
    return BuyerOut.of(found)
