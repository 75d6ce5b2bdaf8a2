"""Webhook subscriptions: a département team (or an administrator) subscribes an HTTPS
endpoint to event types; each event then arrives there signed, once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, field_validator

from services.notifications.bootstrap import notifications_of
from services.notifications.domain.views import StoredSubscription
from services.notifications.entrypoints.consumers import CONSUMED_TYPES
from services.notifications.entrypoints.http.dependencies import DEPARTEMENT, UoW
from services.notifications.service_layer import webhooks
from shared.contracts.base import Line
from shared.errors import DomainValidationError, FieldError
from shared.http.security import CurrentPrincipal
from shared.http.ssrf import TargetGuard, UnsafeTarget

webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookIn(BaseModel):
    url: str = Field(min_length=10, max_length=2000, description="Point de réception (HTTPS).")
    event_types: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=50)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Clé de la signature HMAC-SHA256 (16 caractères ASCII au moins). Absente : le "
            "service en tire une au hasard, montrée une seule fois, dans la réponse."
        ),
    )
    departement: str | None = Field(
        default=None,
        pattern=DEPARTEMENT,
        description="Administrateurs : un département, ou aucun pour tous. Équipes : le leur.",
    )
    description: Line | None = Field(default=None, max_length=200)

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CONSUMED_TYPES))
        if unknown:
            raise ValueError(
                f"Type(s) d'événement inconnu(s) : {', '.join(unknown)}. "
                f"Types possibles : {', '.join(CONSUMED_TYPES)}."
            )
        return value


class WebhookOut(BaseModel):
    id: UUID
    departement: str | None
    url: str
    event_types: list[str]
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, s: StoredSubscription) -> WebhookOut:
        return cls(
            id=s.id,
            departement=s.departement,
            url=s.url,
            event_types=s.event_types,
            description=s.description,
            created_at=s.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        default=None,
        description=(
            "La clé de signature tirée par le service (absente si vous l'avez donnée) : "
            "montrée ici une seule fois, gardée chiffrée."
        ),
    )


async def _check_url(url: str, guard: TargetGuard) -> None:
    """No webhook to an internal address, in any spelling (ADR 0021)."""
    try:
        await guard.check(url)
    except UnsafeTarget as exc:
        raise DomainValidationError([FieldError("url", str(exc))]) from exc


@webhooks_router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    # A secret the caller gave is not sent back: only a generated one is shown.
    response_model_exclude_unset=True,
    summary="S'abonner à des événements (équipe du département, administrateur)",
)
async def subscribe(
    request: Request, principal: CurrentPrincipal, uow: UoW, body: WebhookIn
) -> WebhookCreated:
    await _check_url(body.url, notifications_of(request).webhook_guard)
    generated = None if body.secret else secrets.token_urlsafe(32)
    secret = body.secret or generated or ""
    async with uow:
        created = await webhooks.subscribe_webhook(
            uow,
            principal,
            departement=body.departement,
            url=body.url,
            event_types=body.event_types,
            secret=secret,
            description=body.description,
            now=datetime.now(UTC),
        )
    shown = WebhookOut.of(created).model_dump()
    return WebhookCreated(**shown, **({"secret": generated} if generated else {}))


@webhooks_router.get("", response_model=list[WebhookOut], summary="Abonnements")
async def list_webhooks(principal: CurrentPrincipal, uow: UoW) -> list[WebhookOut]:
    async with uow:
        found = await webhooks.list_subscriptions(uow, principal)
    return [WebhookOut.of(s) for s in found]


@webhooks_router.get("/{subscription_id}", response_model=WebhookOut, summary="Un abonnement")
async def read_webhook(subscription_id: UUID, principal: CurrentPrincipal, uow: UoW) -> WebhookOut:
    async with uow:
        return WebhookOut.of(await webhooks.visible_subscription(uow, principal, subscription_id))


@webhooks_router.delete("/{subscription_id}", status_code=204, summary="Se désabonner")
async def unsubscribe(subscription_id: UUID, principal: CurrentPrincipal, uow: UoW) -> Response:
    async with uow:
        await webhooks.unsubscribe_webhook(uow, principal, subscription_id, datetime.now(UTC))
    return Response(status_code=204)
