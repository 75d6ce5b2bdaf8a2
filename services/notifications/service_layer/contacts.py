"""Contacts and preferences, managed over HTTP: the actors' and teams' addresses, and
what each recipient chose to receive."""

from __future__ import annotations

from datetime import datetime

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Preferences
from services.notifications.domain.views import ActorContact
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.scope import ensure_team
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.errors import Forbidden, NotFound


async def save_actor_contact(
    uow: UnitOfWork,
    principal: Principal,
    actor_id: str,
    departement: str | None,
    email: str,
    name: str | None,
    now: datetime,
) -> ActorContact:
    """What was saved (the département is the actor's own)."""
    if principal.role is PrincipalRole.ACTOR:
        if principal.scope != actor_id:
            raise Forbidden("Un acteur ne modifie que sa propre adresse.")
        departement = principal.departement
    else:
        departement = ensure_team(principal, departement)
    if departement is None:
        raise Forbidden("Précisez le département de l'acteur.")
    existing = await uow.contacts.actor(actor_id)
    if existing is not None and existing.departement != departement:
        raise Forbidden("Cet acteur relève d'un autre département.")
    contact = ActorContact(departement, email.lower(), name)
    await uow.contacts.save_actor(actor_id, contact, principal.subject, now)
    await uow.commit()
    return contact


async def read_actor_contact(uow: UnitOfWork, principal: Principal, actor_id: str) -> ActorContact:
    found = await uow.contacts.actor(actor_id)
    if found is None or not principal.can_act_for(found.departement):
        raise NotFound("Aucune adresse enregistrée pour cet acteur.")
    if principal.role is PrincipalRole.ACTOR and principal.scope != actor_id:
        raise Forbidden("Un acteur ne consulte que sa propre adresse.")
    if principal.role is PrincipalRole.COLLECTIVITE:
        raise Forbidden("Réservé aux équipes et aux acteurs.")
    return found


async def save_team_contact(
    uow: UnitOfWork, principal: Principal, departement: str, email: str, now: datetime
) -> None:
    ensure_team(principal, departement)
    await uow.contacts.save_team(departement, email.lower(), principal.subject, now)
    await uow.commit()


async def read_team_contact(
    uow: UnitOfWork, principal: Principal, departement: str, settings: NotificationSettings
) -> tuple[str, bool]:
    """The team's address, and whether the team set it (else the settings' default)."""
    ensure_team(principal, departement)
    configured = await uow.contacts.team(departement)
    return configured or settings.team_address(departement), configured is not None


async def may_manage_preferences(uow: UnitOfWork, principal: Principal, address: str) -> None:
    contacts = uow.contacts
    match principal.role:
        case PrincipalRole.ADMIN:
            return
        case PrincipalRole.ACTOR:
            allowed = await contacts.known_to(
                address, departement=principal.departement, actor_id=principal.scope
            )
        case PrincipalRole.COLLECTIVITE:
            allowed = await contacts.known_to(
                address, departement=principal.departement, requester_code=principal.scope
            )
        case _:
            allowed = await contacts.known_to(address, departement=principal.departement)
    if not allowed:
        raise Forbidden("Cette adresse n'est pas un contact de votre périmètre.")


async def save_preferences(
    uow: UnitOfWork, principal: Principal, address: str, chosen: Preferences, now: datetime
) -> None:
    await may_manage_preferences(uow, principal, address)
    await uow.preferences.save(address, chosen, principal.subject, now)
    await uow.commit()


async def read_preferences(uow: UnitOfWork, principal: Principal, address: str) -> Preferences:
    await may_manage_preferences(uow, principal, address)
    return (await uow.preferences.of([address])).get(address, Preferences())
