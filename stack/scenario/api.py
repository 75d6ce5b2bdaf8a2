"""How the scenario speaks to the services' APIs: whose token, and every page of a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shared.auth.tokens import Role, mint
from shared.settings import AuthSettings


def token(auth: AuthSettings, departement: str, collectivite: str | None) -> str:
    """The collectivité's own token when it files for itself, else its département team's."""
    if collectivite:
        return mint(
            auth,
            role=Role.COLLECTIVITE,
            subject=f"maire-{collectivite}",
            departement=departement,
            scope=collectivite,
        )
    return mint(
        auth, role=Role.DEPARTEMENT, subject=f"agent-{departement}", departement=departement
    )


def team_headers(auth: AuthSettings, departement: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(auth, departement, None)}"}


def actor_headers(auth: AuthSettings, departement: str, actor_id: str) -> dict[str, str]:
    actor = mint(auth, role=Role.ACTOR, subject=actor_id, departement=departement, scope=actor_id)
    return {"Authorization": f"Bearer {actor}"}


def admin_headers() -> dict[str, str]:
    admin = mint(AuthSettings(), role=Role.ADMIN, subject="demo", departement=None)
    return {"Authorization": f"Bearer {admin}"}


async def all_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int = 500
) -> list[Any]:
    found: list[Any] = []
    separator = "&" if "?" in path else "?"
    while True:
        response = await client.get(
            f"{path}{separator}limit={limit}&offset={len(found)}", headers=headers
        )
        response.raise_for_status()
        page = response.json()
        found += page
        if len(page) < limit:
            return found


async def assignments(
    matching: httpx.AsyncClient, auth: AuthSettings, status: str, departements: Sequence[str]
) -> list[Any]:
    """The départements' assignments in ``status``, as their teams see them."""
    found: list[Any] = []
    for departement in departements:
        found += await all_pages(
            matching, f"/v1/assignments?status={status}", team_headers(auth, departement)
        )
    return found
