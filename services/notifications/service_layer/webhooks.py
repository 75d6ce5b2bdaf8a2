"""Webhook subscriptions of the département teams and administrators."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from services.notifications.domain.views import StoredSubscription
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.scope import ensure_team
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.errors import NotFound
from shared.observability.logging import get_logger

log = get_logger(__name__)


async def subscribe_webhook(
    uow: UnitOfWork,
    principal: Principal,
    *,
    departement: str | None,
    url: str,
    event_types: list[str],
    secret: str,
    description: str | None,
    now: datetime,
) -> StoredSubscription:
    scope = ensure_team(principal, departement)
    created = StoredSubscription(
        id=uuid.uuid4(),
        departement=scope,
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        active=True,
        created_at=now,
        created_by=principal.subject,
    )
    await uow.subscriptions.add(created, secret)
    await uow.commit()
    log.info("webhook subscription created", subscription_id=str(created.id))
    return created


async def list_subscriptions(uow: UnitOfWork, principal: Principal) -> list[StoredSubscription]:
    return await uow.subscriptions.active(ensure_team(principal, None))


async def visible_subscription(
    uow: UnitOfWork, principal: Principal, subscription_id: UUID
) -> StoredSubscription:
    ensure_team(principal, None)
    found = await uow.subscriptions.get(subscription_id)
    if (
        found is None
        or not found.active
        or (
            principal.role is not PrincipalRole.ADMIN and found.departement != principal.departement
        )
    ):
        raise NotFound("Abonnement introuvable.")
    return found


async def unsubscribe_webhook(
    uow: UnitOfWork, principal: Principal, subscription_id: UUID, now: datetime
) -> None:
    await visible_subscription(uow, principal, subscription_id)
    await uow.subscriptions.remove(subscription_id, now)
    await uow.commit()
