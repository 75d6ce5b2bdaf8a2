"""Which part of the matching data a caller may see or change."""

from __future__ import annotations

from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden


def scope_departement(principal: Principal, departement: str | None) -> str | None:
    """The département a listing is limited to (None: all, for an administrator)."""
    if principal.role is Role.ADMIN:
        return departement
    if departement is not None and departement != principal.departement:
        raise Forbidden("Vous ne pouvez consulter que votre département.")
    return principal.departement
