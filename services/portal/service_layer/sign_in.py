"""Sign-in. Local mode: the person picks a role and a scope on the dev page and the portal
mints the token the services accept locally (HS256, ``MG_JWT_SECRET``). OIDC (ProConnect in
production) replaces this use case with the identity provider's token: not built yet."""

from __future__ import annotations

import secrets
from datetime import timedelta

from services.portal.domain.session import Session
from shared.auth.tokens import Role, mint
from shared.errors import DomainValidationError, FieldError
from shared.refdata import Territories
from shared.settings import AuthSettings


def local_session(
    auth: AuthSettings,
    territories: Territories,
    *,
    role: str,
    departement: str,
    scope: str | None,
    hours: int,
) -> Session:
    errors: list[FieldError] = []
    if role not in ("collectivite", "actor", "departement"):
        errors.append(FieldError("role", "Choisissez un rôle."))
    if territories.departement(departement) is None:
        errors.append(FieldError("departement", "Département inconnu."))
    scope = (scope or "").strip() or None
    if role in ("collectivite", "actor") and not scope:
        errors.append(FieldError("scope", "Indiquez la collectivité ou l'acteur."))
    if role == "collectivite" and scope and not territories.belongs_to(scope, departement):
        errors.append(
            FieldError("scope", "Ce code INSEE ou SIREN n'appartient pas à ce département.")
        )
    if errors:
        raise DomainValidationError(errors)
    if role == "departement":
        scope = None
    name = _display_name(territories, role, departement, scope)
    token = mint(
        auth,
        role=Role(role),
        subject=f"portal-{role}-{scope or departement}",
        departement=departement,
        scope=scope,
        ttl=timedelta(hours=hours),
    )
    return Session(role, departement, scope, name, token, secrets.token_urlsafe(32))


def _display_name(territories: Territories, role: str, departement: str, scope: str | None) -> str:
    if role == "collectivite" and scope:
        found = territories.requester(scope)
        return found.nom if found is not None else scope
    if role == "actor" and scope:
        return scope
    found_dep = territories.departement(departement)
    return f"Département {found_dep.nom if found_dep else departement}"
