"""Bearer headers for tests."""

from __future__ import annotations

from shared.auth.tokens import Role, mint
from shared.settings import AuthSettings


def bearer(role: Role, departement: str | None, scope: str | None = None) -> dict[str, str]:
    token = mint(
        AuthSettings(),
        role=role,
        subject=f"test-{role.value}",
        departement=departement,
        scope=scope,
    )
    return {"Authorization": f"Bearer {token}"}
