"""Who may act for which département."""

from __future__ import annotations

from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.errors import Forbidden


def ensure_team(principal: Principal, departement: str | None) -> str | None:
    """The département a team member or an administrator acts for (None: an
    administrator acting for all)."""
    if principal.role is PrincipalRole.ADMIN:
        return departement
    if principal.role is not PrincipalRole.DEPARTEMENT:
        raise Forbidden("Réservé à l'équipe du département.")
    if departement is not None and departement != principal.departement:
        raise Forbidden("Vous ne pouvez agir que pour votre département.")
    return principal.departement
