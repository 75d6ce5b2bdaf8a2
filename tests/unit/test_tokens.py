from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from shared.auth.tokens import InvalidToken, Role, mint, verify
from shared.settings import AuthSettings

SETTINGS = AuthSettings()


def test_a_minted_token_names_role_departement_and_scope() -> None:
    token = mint(SETTINGS, role=Role.COLLECTIVITE, subject="maire", departement="49", scope="49007")
    principal = verify(SETTINGS, token)
    assert (principal.role, principal.departement, principal.scope) == (
        Role.COLLECTIVITE,
        "49",
        "49007",
    )
    assert principal.can_act_for("49") and not principal.can_act_for("44")


def test_admin_acts_for_every_departement() -> None:
    principal = verify(SETTINGS, mint(SETTINGS, role=Role.ADMIN, subject="ops", departement=None))
    assert principal.can_act_for("2A") and principal.can_act_for("971")


def test_forged_expired_and_incomplete_tokens_are_refused() -> None:
    other = AuthSettings(secret="another-secret-that-is-long-enough-for-hs256")  # type: ignore[arg-type]
    forged = mint(other, role=Role.ADMIN, subject="x", departement=None)
    expired = mint(
        SETTINGS, role=Role.ADMIN, subject="x", departement=None, ttl=timedelta(hours=-1)
    )
    no_role = jwt.encode(
        {"sub": "x", "iss": SETTINGS.issuer, "aud": SETTINGS.audience, "exp": 4102444800, "iat": 0},
        SETTINGS.secret.get_secret_value(),
    )
    for token in (forged, expired, no_role, "not-a-jwt"):
        with pytest.raises(InvalidToken):
            verify(SETTINGS, token)


def test_roles_need_their_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        mint(SETTINGS, role=Role.ACTOR, subject="x", departement="49")
    with pytest.raises(ValueError, match="département"):
        mint(SETTINGS, role=Role.DEPARTEMENT, subject="x", departement=None)
