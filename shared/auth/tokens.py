"""JWT bearer tokens: who calls, in which role, within which scope.

Roles and scopes:
- ``collectivite``: one commune (INSEE code) or EPCI (SIREN) of one département;
- ``actor``: one acteur of the offer (its id), within one département;
- ``departement``: the team of one département;
- ``admin``: every département.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from shared.settings import AuthSettings


class Role(StrEnum):
    COLLECTIVITE = "collectivite"
    ACTOR = "actor"
    DEPARTEMENT = "departement"
    ADMIN = "admin"


class InvalidToken(Exception):
    """The bearer token is missing, expired, forged or incomplete."""


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    subject: str
    departement: str | None
    # The collectivité's code (INSEE/SIREN) or the actor's id; None for teams and admins.
    scope: str | None = None

    def can_act_for(self, departement: str) -> bool:
        return self.role is Role.ADMIN or self.departement == departement


def mint(
    settings: AuthSettings,
    *,
    role: Role,
    subject: str,
    departement: str | None,
    scope: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    if role is not Role.ADMIN and not departement:
        raise ValueError("every role but admin belongs to a département")
    if role in (Role.COLLECTIVITE, Role.ACTOR) and not scope:
        raise ValueError(f"role {role} needs a scope")
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "role": role.value,
        "departement": departement,
        "scope": scope,
    }
    return jwt.encode(claims, settings.secret.get_secret_value(), algorithm=settings.algorithm)


def verify(settings: AuthSettings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.secret.get_secret_value(),
            algorithms=[settings.algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return principal_of(claims)


def principal_of(
    claims: dict[str, Any],
    *,
    role: str = "role",
    departement: str = "departement",
    scope: str = "scope",
) -> Principal:
    """The principal that verified ``claims`` name, from the claims holding our role,
    département and scope (an identity provider may name them otherwise)."""
    try:
        found = Role(claims[role])
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("unknown role") from exc
    code = claims.get(departement)
    within = claims.get(scope)
    if code is not None and not isinstance(code, str):
        raise InvalidToken("département is not a string")
    if within is not None and not isinstance(within, str):
        raise InvalidToken("scope is not a string")
    if found is not Role.ADMIN and not code:
        raise InvalidToken("token without département")
    if found in (Role.COLLECTIVITE, Role.ACTOR) and not within:
        raise InvalidToken("token without scope")
    return Principal(role=found, subject=str(claims["sub"]), departement=code, scope=within)
