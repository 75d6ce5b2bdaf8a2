"""Which verification a bearer token gets: the provider's keys (OIDC, RS256/ES256) or the
local shared secret (HS256, ``mg-token``), each only where it is switched on (ADR 0021)."""

from __future__ import annotations

import jwt

from shared.auth.oidc import JwksCache, OidcVerifier
from shared.auth.tokens import InvalidToken, Principal, verify
from shared.settings import AuthSettings, OidcSettings


class Authenticator:
    def __init__(
        self, auth: AuthSettings, oidc: OidcSettings, keys: JwksCache | None = None
    ) -> None:
        self._auth = auth
        self.oidc: OidcVerifier | None = None
        if oidc.issuer:
            self.oidc = OidcVerifier(oidc, auth.leeway_seconds, keys or JwksCache(oidc))

    async def principal(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        algorithm = str(header.get("alg", ""))
        if algorithm.startswith("HS"):
            # The algorithm is the settings', never the token's: no RS/HS confusion.
            if not self._auth.local_tokens:
                raise InvalidToken("shared-secret tokens are switched off")
            return verify(self._auth, token)
        if self.oidc is None:
            raise InvalidToken(f"algorithm {algorithm!r} not accepted")
        return await self.oidc.verify(token, header)
