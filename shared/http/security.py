"""The bearer-token dependency of every HTTP route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.tokens import InvalidToken, Principal, verify
from shared.settings import AuthSettings

_bearer = HTTPBearer(auto_error=False, description="Jeton JWT (rôle et périmètre).")


def _auth_settings(request: Request) -> AuthSettings:
    settings: AuthSettings = request.app.state.auth_settings
    return settings


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail="Authentification requise : jeton « Bearer » manquant.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify(_auth_settings(request), credentials.credentials)
    except InvalidToken as exc:
        raise HTTPException(
            status_code=401,
            detail="Jeton invalide ou expiré.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
