"""Tokens of an OpenID Connect provider (ProConnect, a département's Keycloak…): RS256 or
ES256, verified with the keys the provider publishes (ADR 0021).

The provider is found by discovery (``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must be the configured one) and its keys read from ``jwks_uri``. Keys are
cached; a token naming a key we do not hold makes us fetch the keys again, at most once
per ``jwks_refetch_min_seconds`` (a provider rotates by publishing the new key before
signing with it, and a flood of forged ``kid`` must not become a flood of fetches), and
the whole set is refreshed every ``jwks_cache_seconds`` so that a withdrawn key stops
being accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt

from shared.auth.tokens import InvalidToken, Principal, principal_of
from shared.observability.logging import get_logger
from shared.settings import OidcSettings

log = get_logger(__name__)

Fetch = Callable[[str], Awaitable[dict[str, Any]]]
DISCOVERY = "/.well-known/openid-configuration"


class JwksCache:
    """The provider's signing keys by ``kid``."""

    def __init__(
        self,
        settings: OidcSettings,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.issuer:
            raise ValueError("OIDC needs MG_OIDC_ISSUER")
        self.issuer = settings.issuer.rstrip("/")
        self._settings = settings
        self._fetch = fetch or self._http_get
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _http_get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(
            timeout=self._settings.http_timeout_seconds, follow_redirects=False
        ) as client:
            answer = await client.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

    async def _refresh(self) -> None:
        self.fetches += 1
        self._fetched_at = self._clock()
        if self._jwks_uri is None:
            discovered = await self._fetch(self.issuer + DISCOVERY)
            if str(discovered.get("issuer", "")).rstrip("/") != self.issuer:
                raise InvalidToken("discovery document of another issuer")
            self._jwks_uri = str(discovered["jwks_uri"])
        document = await self._fetch(self._jwks_uri)
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.warning("unusable key in the provider's JWKS", kid=entry["kid"], error=str(exc))
        self._keys = keys

    async def key(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            now = self._clock()
            stale = (
                self._fetched_at is None
                or now - self._fetched_at >= self._settings.jwks_cache_seconds
            )
            may_refetch = (
                self._fetched_at is None
                or now - self._fetched_at >= self._settings.jwks_refetch_min_seconds
            )
            if stale or (kid not in self._keys and may_refetch):
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    # Keys we already hold stay good while the provider is unreachable.
                    log.warning("could not fetch the provider's keys", error=repr(exc))
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken("token signed by an unknown key")
        return found


class OidcVerifier:
    def __init__(self, settings: OidcSettings, leeway_seconds: int, keys: JwksCache) -> None:
        self._settings = settings
        self._leeway = leeway_seconds
        self.keys = keys

    async def verify(self, token: str, header: dict[str, Any]) -> Principal:
        algorithm = header.get("alg")
        if algorithm not in self._settings.algorithms:
            raise InvalidToken(f"algorithm {algorithm!r} not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token without kid")
        key = await self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise InvalidToken("key and token algorithms differ")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._settings.audience,
                issuer=self.keys.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return principal_of(
            claims,
            role=self._settings.role_claim,
            departement=self._settings.departement_claim,
            scope=self._settings.scope_claim,
        )
