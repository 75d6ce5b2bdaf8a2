"""HTTP API of the notifications service: webhook subscriptions, actor and team
addresses, recipients' preferences, and the deliveries a team can follow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, EmailStr, Field, field_validator

from services.notifications.adapters.repository import DeliveryView, StoredSubscription
from services.notifications.config import NotificationSettings
from services.notifications.domain.model import (
    Digest,
    Kind,
    PreferenceError,
    normalise_address,
    preferences,
)
from services.notifications.entrypoints.consumers import CONSUMED_TYPES
from services.notifications.service_layer import use_cases
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.auth.tokens import Role
from shared.contracts.base import Line
from shared.errors import DomainValidationError, FieldError, Forbidden
from shared.http.security import CurrentPrincipal
from shared.messaging.envelope import DEPARTEMENT_CODE
from shared.runtime import unit_of_work_dependency

webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
contacts_router = APIRouter(prefix="/v1", tags=["adresses"])
preferences_router = APIRouter(prefix="/v1/preferences", tags=["préférences"])
deliveries_router = APIRouter(prefix="/v1/deliveries", tags=["livraisons"])

DEPARTEMENT = rf"^(?:{DEPARTEMENT_CODE.pattern})$"
Departement = Annotated[str, Path(pattern=DEPARTEMENT)]


def _settings(request: Request) -> NotificationSettings:
    settings: NotificationSettings = request.app.state.notification_settings
    return settings


unit_of_work = unit_of_work_dependency(NotificationsUnitOfWork)

UoW = Annotated[NotificationsUnitOfWork, Depends(unit_of_work)]


# --- webhooks -----------------------------------------------------------------------------


class WebhookIn(BaseModel):
    url: str = Field(min_length=10, max_length=2000, description="Point de réception (HTTPS).")
    event_types: list[str] = Field(min_length=1, max_length=50)
    secret: str = Field(
        min_length=16,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Clé de la signature HMAC-SHA256 (16 caractères ASCII au moins).",
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


def _check_url(url: str, settings: NotificationSettings) -> None:
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.allow_plain_http_webhooks else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise DomainValidationError(
            [FieldError("url", "Une adresse HTTPS complète est attendue (https://…).")]
        )


@webhooks_router.post(
    "",
    status_code=201,
    response_model=WebhookOut,
    summary="S'abonner à des événements (équipe du département, administrateur)",
)
async def subscribe(
    request: Request, principal: CurrentPrincipal, uow: UoW, body: WebhookIn
) -> WebhookOut:
    _check_url(body.url, _settings(request))
    async with uow:
        created = await use_cases.subscribe_webhook(
            uow,
            principal,
            departement=body.departement,
            url=body.url,
            event_types=body.event_types,
            secret=body.secret,
            description=body.description,
            now=datetime.now(UTC),
        )
    return WebhookOut.of(created)


@webhooks_router.get("", response_model=list[WebhookOut], summary="Abonnements")
async def list_webhooks(principal: CurrentPrincipal, uow: UoW) -> list[WebhookOut]:
    scope = use_cases.ensure_team(principal, None)
    async with uow:
        found = await uow.repository.list_subscriptions(scope)
    return [WebhookOut.of(s) for s in found]


@webhooks_router.get("/{subscription_id}", response_model=WebhookOut, summary="Un abonnement")
async def read_webhook(subscription_id: UUID, principal: CurrentPrincipal, uow: UoW) -> WebhookOut:
    async with uow:
        return WebhookOut.of(await use_cases.visible_subscription(uow, principal, subscription_id))


@webhooks_router.delete("/{subscription_id}", status_code=204, summary="Se désabonner")
async def unsubscribe(subscription_id: UUID, principal: CurrentPrincipal, uow: UoW) -> Response:
    async with uow:
        await use_cases.unsubscribe_webhook(uow, principal, subscription_id, datetime.now(UTC))
    return Response(status_code=204)


# --- actor and team addresses -------------------------------------------------------------


class ActorContactIn(BaseModel):
    email: EmailStr
    name: Line | None = Field(default=None, max_length=200)
    departement: str | None = Field(
        default=None, pattern=DEPARTEMENT, description="Administrateurs seulement."
    )


class ActorContactOut(BaseModel):
    actor_id: str
    departement: str
    email: str
    name: str | None


@contacts_router.put(
    "/actors/{actor_id}/contact",
    response_model=ActorContactOut,
    summary="Adresse d'un acteur (l'acteur, l'équipe du département)",
)
async def save_actor_contact(
    principal: CurrentPrincipal,
    uow: UoW,
    body: ActorContactIn,
    actor_id: Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")],
) -> ActorContactOut:
    async with uow:
        departement = await use_cases.save_actor_contact(
            uow, principal, actor_id, body.departement, body.email, body.name, datetime.now(UTC)
        )
    return ActorContactOut(
        actor_id=actor_id, departement=departement, email=body.email.lower(), name=body.name
    )


@contacts_router.get(
    "/actors/{actor_id}/contact", response_model=ActorContactOut, summary="Adresse d'un acteur"
)
async def read_actor_contact(
    actor_id: str, principal: CurrentPrincipal, uow: UoW
) -> ActorContactOut:
    async with uow:
        departement, email, name = await use_cases.read_actor_contact(uow, principal, actor_id)
    return ActorContactOut(actor_id=actor_id, departement=departement, email=email, name=name)


class TeamContactIn(BaseModel):
    email: EmailStr


class TeamContactOut(BaseModel):
    departement: str
    email: str
    configured: bool = Field(description="False : l'adresse par défaut des réglages.")


@contacts_router.put(
    "/teams/{departement}/contact",
    response_model=TeamContactOut,
    summary="Adresse de l'équipe d'un département",
)
async def save_team_contact(
    departement: Departement, principal: CurrentPrincipal, uow: UoW, body: TeamContactIn
) -> TeamContactOut:
    async with uow:
        await use_cases.save_team_contact(
            uow, principal, departement, body.email, datetime.now(UTC)
        )
    return TeamContactOut(departement=departement, email=body.email.lower(), configured=True)


@contacts_router.get(
    "/teams/{departement}/contact",
    response_model=TeamContactOut,
    summary="Adresse de l'équipe d'un département",
)
async def read_team_contact(
    request: Request, departement: Departement, principal: CurrentPrincipal, uow: UoW
) -> TeamContactOut:
    use_cases.ensure_team(principal, departement)
    async with uow:
        configured = await uow.repository.team_contact(departement)
    return TeamContactOut(
        departement=departement,
        email=configured or _settings(request).team_address(departement),
        configured=configured is not None,
    )


# --- preferences --------------------------------------------------------------------------


class PreferencesIn(BaseModel):
    opt_out: list[Kind] = Field(
        default_factory=list,
        max_length=20,
        description="Messages non essentiels que l'on ne veut plus recevoir.",
    )
    digest: Digest = Field(
        default=Digest.NONE,
        description="« daily » : un résumé par jour au lieu des messages non essentiels.",
    )


class PreferencesOut(BaseModel):
    email: str
    opt_out: list[Kind]
    digest: Digest
    essential: list[Kind] = Field(description="Messages toujours envoyés, sans délai.")


def _address(email: str) -> str:
    address = normalise_address(email)
    if "@" not in address or len(address) > 320:
        raise DomainValidationError([FieldError("email", "Adresse électronique invalide.")])
    return address


def _preferences_out(address: str, opted_out: frozenset[Kind], digest: Digest) -> PreferencesOut:
    return PreferencesOut(
        email=address,
        opt_out=sorted(opted_out),
        digest=digest,
        essential=sorted(k for k in Kind if k.essential and k is not Kind.WEBHOOK),
    )


@preferences_router.put(
    "/{email}", response_model=PreferencesOut, summary="Préférences d'un destinataire"
)
async def save_preferences(
    email: str, principal: CurrentPrincipal, uow: UoW, body: PreferencesIn
) -> PreferencesOut:
    address = _address(email)
    try:
        chosen = preferences(body.opt_out, body.digest)
    except PreferenceError as exc:
        raise DomainValidationError([FieldError("opt_out", str(exc))]) from exc
    async with uow:
        await use_cases.save_preferences(uow, principal, address, chosen, datetime.now(UTC))
    return _preferences_out(address, chosen.opted_out, chosen.digest)


@preferences_router.get(
    "/{email}", response_model=PreferencesOut, summary="Préférences d'un destinataire"
)
async def read_preferences(email: str, principal: CurrentPrincipal, uow: UoW) -> PreferencesOut:
    address = _address(email)
    async with uow:
        chosen = await use_cases.read_preferences(uow, principal, address)
    return _preferences_out(address, chosen.opted_out, chosen.digest)


# --- deliveries ---------------------------------------------------------------------------


class DeliveryOut(BaseModel):
    """A delivery as a team follows it: no address, no content."""

    id: UUID
    channel: str
    kind: str
    departement: str
    recipient_role: str
    subscription_id: UUID | None
    request_id: UUID | None
    source_event_id: str
    source_event_type: str
    status: str
    attempts: int
    reason: str | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, d: DeliveryView) -> DeliveryOut:
        return cls(
            id=d.id,
            channel=d.channel,
            kind=d.kind,
            departement=d.departement,
            recipient_role=d.recipient_role,
            subscription_id=d.subscription_id,
            request_id=d.request_id,
            source_event_id=d.source_event_id,
            source_event_type=d.source_event_type,
            status=d.status,
            # The mail server's words may quote the address.
            last_error=d.last_error if d.channel == "webhook" else None,
            attempts=d.attempts,
            reason=d.reason,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            sent_at=d.sent_at,
        )


DeliveryStatusName = Literal[
    "awaiting_recipient", "held", "pending", "sent", "dead_lettered", "skipped", "digested"
]


@deliveries_router.get(
    "", response_model=list[DeliveryOut], summary="Livraisons (équipe du département)"
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
) -> list[DeliveryOut]:
    if principal.role in (Role.COLLECTIVITE, Role.ACTOR):
        raise Forbidden("Réservé à l'équipe du département.")
    async with uow:
        found = await uow.repository.search(
            departement=use_cases.ensure_team(principal, departement),
            status=status,
            kind=kind.value if kind else None,
            subscription_id=subscription_id,
            limit=limit,
            offset=offset,
        )
    return [DeliveryOut.of(d) for d in found]


@deliveries_router.post(
    "/{delivery_id}/retry",
    status_code=202,
    summary="Relancer une livraison en échec définitif (équipe du département)",
)
async def retry(
    request: Request, delivery_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> dict[str, str]:
    async with uow:
        await use_cases.retry_dead_letter(uow, principal, delivery_id, datetime.now(UTC))
    request.app.state.notification_jobs.dispatcher.wake()
    return {"status": "pending"}
