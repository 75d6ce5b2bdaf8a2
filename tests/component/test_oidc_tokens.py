"""OIDC tokens (ADR 0021) against a real issuer served on 127.0.0.1 by the test: discovery,
JWKS, RS256 and ES256, key rotation, unknown keys, wrong audience, issuer and dates; and
the same through a service's HTTP stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import APIRouter

from shared.auth.authenticator import Authenticator
from shared.auth.oidc import JwksCache
from shared.auth.tokens import InvalidToken, Role, mint
from shared.http.security import CurrentPrincipal
from shared.settings import AuthSettings, OidcSettings
from tests.support.bare_service import bare_client
from tests.support.oidc_issuer import Issuer, SigningKey, oidc_issuer

RSA = SigningKey.generate("RS256")
EC = SigningKey.generate("ES256")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with oidc_issuer(RSA, EC) as running:
        yield running


def authenticator(
    issuer: Issuer, clock: Clock | None = None, *, local_tokens: bool = False
) -> Authenticator:
    oidc = OidcSettings(issuer=issuer.url, jwks_refetch_min_seconds=30, jwks_cache_seconds=600)
    keys = JwksCache(oidc, clock=clock or Clock())
    return Authenticator(AuthSettings(local_tokens=local_tokens), oidc, keys)


async def test_rs256_and_es256_tokens_of_the_issuer_map_to_principals(issuer: Issuer) -> None:
    auth = authenticator(issuer)

    team = await auth.principal(issuer.token(RSA, role="departement", departement="49"))
    actor = await auth.principal(issuer.token(EC, role="actor", departement="35", scope="caue-35"))

    assert (team.role, team.departement, team.scope) == (Role.DEPARTEMENT, "49", None)
    assert (actor.role, actor.departement, actor.scope) == (Role.ACTOR, "35", "caue-35")
    # One discovery, one JWKS fetch: the keys are cached.
    assert issuer.jwks_fetches == 1


async def test_a_rotated_key_is_fetched_once_and_an_unknown_key_is_refused(issuer: Issuer) -> None:
    clock = Clock()
    auth = authenticator(issuer, clock)
    await auth.principal(issuer.token(RSA))
    assert issuer.jwks_fetches == 1

    # The provider rotates: the new key is published, the old one withdrawn.
    rotated = SigningKey.generate("RS256")
    issuer.published = [rotated, EC]
    clock.now += 31
    assert (await auth.principal(issuer.token(rotated))).role is Role.DEPARTEMENT
    assert issuer.jwks_fetches == 2

    # A key nobody published: refused, and the refetch it caused is not repeated at once.
    stranger = SigningKey.generate("RS256")
    clock.now += 1
    for _ in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            await auth.principal(issuer.token(stranger))
    assert issuer.jwks_fetches == 2
    # The withdrawn key is gone from the cache too.
    with pytest.raises(InvalidToken, match="unknown key"):
        await auth.principal(issuer.token(RSA))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"audience": "another-application"}, "audience"),
        ({"issuer": "https://evil.example.org"}, "issuer"),
        ({"expires_in": timedelta(minutes=-5)}, "expired"),
        ({"not_before": timedelta(minutes=10)}, "not yet valid"),
        ({"role": "superuser"}, "unknown role"),
        ({"role": "collectivite", "scope": None}, "without scope"),
    ],
)
async def test_wrong_audience_issuer_dates_or_claims_are_refused(
    issuer: Issuer, changes: dict[str, object], reason: str
) -> None:
    auth = authenticator(issuer)
    with pytest.raises(InvalidToken, match=f"(?i){reason}"):
        await auth.principal(issuer.token(RSA, **changes))  # type: ignore[arg-type]


async def test_clock_skew_within_the_leeway_is_tolerated(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    # 20 s in the future, within the 30 s leeway.
    token = issuer.token(RSA, not_before=timedelta(seconds=20))
    assert (await auth.principal(token)).role is Role.DEPARTEMENT


async def test_shared_secret_tokens_only_where_switched_on(issuer: Issuer) -> None:
    local = mint(AuthSettings(), role=Role.ADMIN, subject="ops", departement=None)

    with pytest.raises(InvalidToken, match="switched off"):
        await authenticator(issuer, local_tokens=False).principal(local)
    admin = await authenticator(issuer, local_tokens=True).principal(local)
    assert admin.role is Role.ADMIN


async def test_a_token_signed_with_the_public_key_as_hmac_secret_is_refused(
    issuer: Issuer,
) -> None:
    """The classic RS/HS confusion: the algorithm comes from our settings, never the token."""
    published_modulus = RSA.jwk()["n"]
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "iss": issuer.url, "aud": "matiere-grise"},
        published_modulus,
        algorithm="HS256",
        headers={"kid": RSA.kid},
    )
    with pytest.raises(InvalidToken):
        await authenticator(issuer, local_tokens=False).principal(forged)


# --- through a service's HTTP stack ---------------------------------------------------------

whoami = APIRouter()


@whoami.get("/v1/whoami")
async def who(principal: CurrentPrincipal) -> dict[str, str | None]:
    return {"role": principal.role.value, "departement": principal.departement}


@pytest.fixture
async def client(issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    oidc = OidcSettings(issuer=issuer.url)
    async with bare_client([whoami], auth=AuthSettings(local_tokens=False), oidc=oidc) as http:
        yield http


async def test_the_api_accepts_the_issuers_tokens_and_answers_401_otherwise(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    ok = await client.get("/v1/whoami", headers=bearer(issuer.token(EC, departement="2A")))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"role": "departement", "departement": "2A"}

    stranger = SigningKey.generate("ES256")
    refused = [
        issuer.token(stranger),
        issuer.token(RSA, audience="other"),
        issuer.token(RSA, issuer="https://other.example.org"),
        issuer.token(RSA, expires_in=timedelta(minutes=-2)),
        mint(AuthSettings(), role=Role.ADMIN, subject="ops", departement=None),
    ]
    for token in refused:
        answer = await client.get("/v1/whoami", headers=bearer(token))
        assert answer.status_code == 401, answer.text
        assert answer.json()["detail"] == "Jeton invalide ou expiré."
