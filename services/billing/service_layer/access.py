"""Who may do what in billing: the département's team acts for its département, the
administration for all, a collectivité reads its own invoices, actors see nothing."""

from __future__ import annotations

from services.billing.domain.invoice import Invoice
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden, NotFound


def ensure_team(principal: Principal, departement: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.DEPARTEMENT or principal.departement != departement:
        raise Forbidden("Réservé à l'équipe du département concerné.")


def readable_departement(principal: Principal, departement: str | None) -> str | None:
    """The département a listing is restricted to (None: all, for the administration)."""
    if principal.role is Role.ADMIN:
        return departement
    if principal.role is Role.ACTOR:
        raise Forbidden("Les acteurs n'ont pas accès à la facturation.")
    if departement is not None and departement != principal.departement:
        raise Forbidden("Vous ne pouvez consulter que votre département.")
    return principal.departement


def ensure_reader(principal: Principal, invoice: Invoice) -> None:
    # Another département's invoice is "not found": its existence is not told.
    if not principal.can_act_for(invoice.departement) or principal.role is Role.ACTOR:
        raise NotFound("Facture introuvable.")
    if principal.role is Role.COLLECTIVITE and principal.scope != invoice.collectivite.code:
        raise Forbidden("Cette facture est adressée à une autre collectivité.")
