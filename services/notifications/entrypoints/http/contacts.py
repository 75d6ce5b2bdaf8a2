"""Actor and team addresses, and the recipients' preferences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, EmailStr, Field

from services.notifications.domain.model import (
    Digest,
    Kind,
    PreferenceError,
    Preferences,
    normalise_address,
    preferences,
)
from services.notifications.domain.unsubscribe import contact_of_token
from services.notifications.domain.views import Contact
from services.notifications.entrypoints.http.dependencies import (
    DEPARTEMENT,
    Departement,
    UoW,
    settings_of,
)
from services.notifications.service_layer import contacts
from shared.contracts.base import Line
from shared.errors import DomainValidationError, FieldError, NotFound
from shared.http.security import CurrentPrincipal

contacts_router = APIRouter(prefix="/v1", tags=["adresses"])
preferences_router = APIRouter(prefix="/v1/departements", tags=["préférences"])
unsubscribe_router = APIRouter(prefix="/v1/unsubscribe", tags=["préférences"])


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
        saved = await contacts.save_actor_contact(
            uow, principal, actor_id, body.departement, body.email, body.name, datetime.now(UTC)
        )
    return ActorContactOut(
        actor_id=actor_id, departement=saved.departement, email=saved.email, name=saved.name
    )


@contacts_router.get(
    "/actors/{actor_id}/contact", response_model=ActorContactOut, summary="Adresse d'un acteur"
)
async def read_actor_contact(
    actor_id: Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")],
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[
        str | None, Query(pattern=DEPARTEMENT, description="Administrateurs : le département.")
    ] = None,
) -> ActorContactOut:
    async with uow:
        found = await contacts.read_actor_contact(uow, principal, departement, actor_id)
    return ActorContactOut(
        actor_id=actor_id, departement=found.departement, email=found.email, name=found.name
    )


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
        await contacts.save_team_contact(uow, principal, departement, body.email, datetime.now(UTC))
    return TeamContactOut(departement=departement, email=body.email.lower(), configured=True)


@contacts_router.get(
    "/teams/{departement}/contact",
    response_model=TeamContactOut,
    summary="Adresse de l'équipe d'un département",
)
async def read_team_contact(
    request: Request, departement: Departement, principal: CurrentPrincipal, uow: UoW
) -> TeamContactOut:
    async with uow:
        email, configured = await contacts.read_team_contact(
            uow, principal, departement, settings_of(request)
        )
    return TeamContactOut(departement=departement, email=email, configured=configured)


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
    contact_id: UUID
    departement: str
    email: str
    opt_out: list[Kind]
    digest: Digest
    essential: list[Kind] = Field(description="Messages toujours envoyés, sans délai.")


class ContactLookup(BaseModel):
    email: EmailStr = Field(max_length=320)


class ContactOut(BaseModel):
    contact_id: UUID = Field(description="Identifiant opaque du contact dans ce département.")
    departement: str
    email: str


def _preferences_out(contact: Contact, chosen: Preferences) -> PreferencesOut:
    return PreferencesOut(
        contact_id=contact.id,
        departement=contact.departement,
        email=contact.email,
        opt_out=sorted(chosen.opted_out),
        digest=chosen.digest,
        essential=sorted(k for k in Kind if k.essential and k is not Kind.WEBHOOK),
    )


@preferences_router.post(
    "/{departement}/contacts/search",
    response_model=ContactOut,
    summary="Retrouver un contact du département par son adresse (corps de requête)",
)
async def find_contact(
    departement: Departement, principal: CurrentPrincipal, uow: UoW, body: ContactLookup
) -> ContactOut:
    async with uow:
        found = await contacts.find_contact(
            uow, principal, departement, normalise_address(body.email), datetime.now(UTC)
        )
    return ContactOut(contact_id=found.id, departement=found.departement, email=found.email)


@preferences_router.put(
    "/{departement}/contacts/{contact_id}/preferences",
    response_model=PreferencesOut,
    summary="Préférences d'un contact du département",
)
async def save_preferences(
    departement: Departement,
    contact_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: PreferencesIn,
) -> PreferencesOut:
    try:
        chosen = preferences(body.opt_out, body.digest)
    except PreferenceError as exc:
        raise DomainValidationError([FieldError("opt_out", str(exc))]) from exc
    async with uow:
        contact = await contacts.save_preferences(
            uow, principal, departement, contact_id, chosen, datetime.now(UTC)
        )
    return _preferences_out(contact, chosen)


@preferences_router.get(
    "/{departement}/contacts/{contact_id}/preferences",
    response_model=PreferencesOut,
    summary="Préférences d'un contact du département",
)
async def read_preferences(
    departement: Departement, contact_id: UUID, principal: CurrentPrincipal, uow: UoW
) -> PreferencesOut:
    async with uow:
        contact, chosen = await contacts.read_preferences(uow, principal, departement, contact_id)
    return _preferences_out(contact, chosen)


# --- the signed link at the foot of every message --------------------------------------------


class UnsubscribeOut(BaseModel):
    departement: str
    opt_out: list[Kind]
    message: str


Token = Annotated[
    str, Query(min_length=34, max_length=120, pattern=r"^[0-9a-f]{32}\.[A-Za-z0-9_-]+$")
]


def _contact_of(request: Request, token: str) -> UUID:
    contact_id = contact_of_token(settings_of(request).link_secret.get_secret_value(), token)
    if contact_id is None:
        raise NotFound("Lien de désabonnement invalide.")
    return contact_id


@unsubscribe_router.post(
    "",
    response_model=UnsubscribeOut,
    summary="Se désabonner des messages non essentiels (lien signé, sans jeton)",
)
async def unsubscribe(request: Request, token: Token, uow: UoW) -> UnsubscribeOut:
    """Also the one-click ``List-Unsubscribe-Post`` of RFC 8058; a GET changes nothing,
    since mail scanners follow links."""
    async with uow:
        contact, chosen = await contacts.unsubscribe(
            uow, _contact_of(request, token), datetime.now(UTC)
        )
    return UnsubscribeOut(
        departement=contact.departement,
        opt_out=sorted(chosen.opted_out),
        message="Vous ne recevrez plus que les messages essentiels de ce département.",
    )
