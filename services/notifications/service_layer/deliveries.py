"""The deliveries as a département team follows them, and the retry of a dead letter."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.notifications.domain.views import DeliveryFilter, DeliveryView
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.scope import ensure_team
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.errors import Conflict, Forbidden, NotFound


async def list_deliveries(
    uow: UnitOfWork, principal: Principal, criteria: DeliveryFilter, *, limit: int, offset: int
) -> list[DeliveryView]:
    """Within the principal's département (an administrator's: the one asked, or all)."""
    if principal.role in (PrincipalRole.COLLECTIVITE, PrincipalRole.ACTOR):
        raise Forbidden("Réservé à l'équipe du département.")
    scope = ensure_team(principal, criteria.departement)
    found = await uow.deliveries.search(
        replace(criteria, departement=scope), limit=limit, offset=offset
    )
    # A mail server's words may quote the address: only a webhook's error is shown.
    return [v if v.channel == "webhook" else replace(v, last_error=None) for v in found]


async def retry_dead_letter(
    uow: UnitOfWork, principal: Principal, delivery_id: UUID, now: datetime
) -> None:
    found = await uow.deliveries.view(delivery_id)
    if found is None or not principal.can_act_for(found.departement):
        raise NotFound("Livraison introuvable.")
    ensure_team(principal, found.departement)
    if not await uow.deliveries.retry_dead_letter(delivery_id, now):
        raise Conflict("Seule une livraison en échec définitif peut être relancée.")
    await uow.commit()
