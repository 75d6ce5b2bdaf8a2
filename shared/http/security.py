"""The bearer-token dependency of every HTTP route: who calls (:mod:`shared.auth`), and
whether that caller has requests left (:mod:`shared.http.rate_limit`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.authenticator import Authenticator
from shared.auth.tokens import InvalidToken, Principal
from shared.http.rate_limit import RateLimiter

_bearer = HTTPBearer(auto_error=False, description="Jeton JWT (rôle et périmètre).")

MISSING = "Authentification requise : jeton « Bearer » manquant."
INVALID = "Jeton invalide ou expiré."
TOO_MANY = "Trop de requêtes : réessayez dans {seconds} seconde(s)."


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, token: str) -> Principal:
    """The principal of ``token``, verified once per request (the body guard may have
    done it already, before the body was read)."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    authenticator: Authenticator = request.app.state.authenticator
    try:
        principal = await authenticator.principal(token)
    except InvalidToken as exc:
        raise unauthorised(INVALID) from exc
    request.state.principal = principal
    return principal


def rate_key(principal: Principal) -> str:
    return f"{principal.role}|{principal.departement}|{principal.scope}|{principal.subject}"


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise unauthorised(MISSING)
    principal = await authenticate(request, credentials.credentials)
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(rate_key(principal))
    if wait:
        raise HTTPException(
            status_code=429,
            detail=TOO_MANY.format(seconds=wait),
            headers={"Retry-After": str(wait)},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
