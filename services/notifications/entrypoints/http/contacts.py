"""Actor and team addresses, and the recipients' preferences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, EmailStr, Field

from services.notifications.domain.model import (
    Digest,
    Kind,
    PreferenceError,
    normalise_address,
    preferences,
)
from services.notifications.entrypoints.http.dependencies import (
    DEPARTEMENT,
    Departement,
    UoW,
    settings_of,
)
from services.notifications.service_layer import contacts
from shared.contracts.base import Line
from shared.errors import DomainValidationError, FieldError
from shared.http.security import CurrentPrincipal

contacts_router = APIRouter(prefix="/v1", tags=["adresses"])
preferences_router = APIRouter(prefix="/v1/preferences", tags=["préférences"])


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
    actor_id: str, principal: CurrentPrincipal, uow: UoW
) -> ActorContactOut:
    async with uow:
        found = await contacts.read_actor_contact(uow, principal, actor_id)
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
        await contacts.save_preferences(uow, principal, address, chosen, datetime.now(UTC))
    return _preferences_out(address, chosen.opted_out, chosen.digest)


@preferences_router.get(
    "/{email}", response_model=PreferencesOut, summary="Préférences d'un destinataire"
)
async def read_preferences(email: str, principal: CurrentPrincipal, uow: UoW) -> PreferencesOut:
    address = _address(email)
    async with uow:
        chosen = await contacts.read_preferences(uow, principal, address)
    return _preferences_out(address, chosen.opted_out, chosen.digest)
