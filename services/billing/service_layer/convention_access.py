"""Who may do what with a convention: the actor (its own) or the département's team
prepares, sends and amends; only the collectivité it is addressed to signs or refuses;
those three and the administration read it."""

from __future__ import annotations

from uuid import UUID

from services.billing.domain.convention import Convention, ConventionFilter, ConventionStatus
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden, NotFound


def _is_team(principal: Principal, convention: Convention) -> bool:
    return principal.role is Role.ADMIN or (
        principal.role is Role.DEPARTEMENT and principal.departement == convention.departement
    )


def _is_actor(principal: Principal, convention: Convention) -> bool:
    return (
        principal.role is Role.ACTOR
        and principal.scope == convention.parties.actor_id
        and principal.departement == convention.departement
    )


def _is_collectivite(principal: Principal, convention: Convention) -> bool:
    return (
        principal.role is Role.COLLECTIVITE
        and principal.scope == convention.parties.collectivite.code
    )


def ensure_convention_reader(principal: Principal, convention: Convention) -> None:
    # Someone else's convention is "not found": its existence is not told.
    if not (
        _is_team(principal, convention)
        or _is_actor(principal, convention)
        or _is_collectivite(principal, convention)
    ):
        raise NotFound("Convention introuvable.")


def ensure_may_prepare(principal: Principal, convention: Convention) -> None:
    ensure_convention_reader(principal, convention)
    if not (_is_team(principal, convention) or _is_actor(principal, convention)):
        raise Forbidden("Seul l'acteur de la mission ou l'équipe du département peut le faire.")


def ensure_signatory(principal: Principal, convention: Convention) -> None:
    ensure_convention_reader(principal, convention)
    if not _is_collectivite(principal, convention):
        raise Forbidden("Seule la collectivité destinataire peut signer ou refuser la convention.")


def listing_filter(
    principal: Principal,
    departement: str | None,
    status: ConventionStatus | None,
    demande_id: UUID | None,
) -> ConventionFilter:
    """What a listing may show: the team its département, an actor and a collectivité
    their own conventions, the administration everything."""
    if principal.role is Role.ADMIN:
        return ConventionFilter(departement, status, demande_id=demande_id)
    if principal.role is Role.COLLECTIVITE:
        return ConventionFilter(
            None, status, collectivite_code=principal.scope, demande_id=demande_id
        )
    if departement is not None and departement != principal.departement:
        raise Forbidden("Vous ne pouvez consulter que votre département.")
    actor = principal.scope if principal.role is Role.ACTOR else None
    return ConventionFilter(principal.departement, status, actor, demande_id=demande_id)
