"""The deliveries a département team follows, and the retry of a dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from services.notifications.domain.model import Kind
from services.notifications.domain.views import DeliveryFilter, DeliveryView
from services.notifications.entrypoints.http.dependencies import DEPARTEMENT, UoW
from services.notifications.service_layer import deliveries
from shared.http.security import CurrentPrincipal

deliveries_router = APIRouter(prefix="/v1/deliveries", tags=["livraisons"])


DeliveryStatusName = Literal[
    "awaiting_recipient", "held", "pending", "sent", "dead_lettered", "skipped", "digested"
]


@deliveries_router.get(
    "", response_model=list[DeliveryView], summary="Livraisons (équipe du département)"
)
async def list_deliveries(
    principal: CurrentPrincipal,
    uow: UoW,
    status: DeliveryStatusName | None = None,
    kind: Kind | None = None,
    subscription_id: UUID | None = None,
    departement: Annotated[str | None, Query(pattern=DEPARTEMENT)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliveryView]:
    criteria = DeliveryFilter(departement, status, kind.value if kind else None, subscription_id)
    async with uow:
        found = await deliveries.list_deliveries(
            uow, principal, criteria, limit=limit, offset=offset
        )
    return found


@deliveries_router.post(
    "/{delivery_id}/retry",
    status_code=202,
    summary="Relancer une livraison en échec définitif (équipe du département)",
)
async def retry(delivery_id: UUID, principal: CurrentPrincipal, uow: UoW) -> dict[str, str]:
    async with uow:
        await deliveries.retry_dead_letter(uow, principal, delivery_id, datetime.now(UTC))
    return {"status": "pending"}
