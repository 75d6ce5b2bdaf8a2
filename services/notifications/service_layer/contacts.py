"""Contacts and preferences, managed over HTTP: the actors' and teams' addresses, and
what each recipient chose to receive."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Kind, Preferences
from services.notifications.domain.views import ActorContact, Contact
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.scope import ensure_team
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.errors import Forbidden, NotFound

UNKNOWN_CONTACT = "Contact introuvable dans ce département."


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
    contact = ActorContact(departement, email.lower(), name)
    await uow.contacts.save_actor(actor_id, contact, principal.subject, now)
    await uow.commit()
    return contact


async def read_actor_contact(
    uow: UnitOfWork, principal: Principal, departement: str | None, actor_id: str
) -> ActorContact:
    """``departement``: the actor's; a principal other than an administrator has its own."""
    departement = (
        principal.departement if principal.role is not PrincipalRole.ADMIN else departement
    )
    found = await uow.contacts.actor(departement, actor_id) if departement else None
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


async def may_manage(uow: UnitOfWork, principal: Principal, departement: str, email: str) -> None:
    """A contact is managed within its own département only (ADR 0021): by an
    administrator, its département's team, the collectivité whose demandes name it, the
    actor it is the address of. Outside, it does not exist."""
    if not principal.can_act_for(departement):
        raise NotFound(UNKNOWN_CONTACT)
    repository = uow.contacts
    match principal.role:
        case PrincipalRole.ADMIN:
            return
        case PrincipalRole.ACTOR:
            allowed = await repository.known_to(
                email, departement=departement, actor_id=principal.scope
            )
        case PrincipalRole.COLLECTIVITE:
            allowed = await repository.known_to(
                email, departement=departement, requester_code=principal.scope
            )
        case _:
            allowed = await repository.known_to(email, departement=departement)
    if not allowed:
        raise Forbidden("Ce contact n'est pas de votre périmètre.")


async def find_contact(
    uow: UnitOfWork, principal: Principal, departement: str, address: str, now: datetime
) -> Contact:
    """The contact of ``address`` in ``departement``, if the principal may manage it."""
    await may_manage(uow, principal, departement, address)
    contact = await uow.preferences.contact(departement, address, now)
    await uow.commit()
    return contact


async def _visible(
    uow: UnitOfWork, principal: Principal, departement: str, contact_id: uuid.UUID
) -> tuple[Contact, Preferences]:
    found = await uow.preferences.get(contact_id)
    if found is None or found[0].departement != departement:
        raise NotFound(UNKNOWN_CONTACT)
    await may_manage(uow, principal, departement, found[0].email)
    return found


async def save_preferences(
    uow: UnitOfWork,
    principal: Principal,
    departement: str,
    contact_id: uuid.UUID,
    chosen: Preferences,
    now: datetime,
) -> Contact:
    contact, _ = await _visible(uow, principal, departement, contact_id)
    await uow.preferences.save(contact_id, chosen, principal.subject, now)
    await uow.commit()
    return contact


async def read_preferences(
    uow: UnitOfWork, principal: Principal, departement: str, contact_id: uuid.UUID
) -> tuple[Contact, Preferences]:
    return await _visible(uow, principal, departement, contact_id)


async def unsubscribe(
    uow: UnitOfWork, contact_id: uuid.UUID, now: datetime
) -> tuple[Contact, Preferences]:
    """The signed link of a message: every message that is not essential stops, in the
    contact's département."""
    found = await uow.preferences.get(contact_id)
    if found is None:
        raise NotFound("Lien de désabonnement inconnu.")
    contact, current = found
    chosen = Preferences(
        opted_out=frozenset(k for k in Kind if not k.essential and k is not Kind.WEBHOOK),
        digest=current.digest,
    )
    await uow.preferences.save(contact_id, chosen, "lien de désabonnement", now)
    await uow.commit()
    return contact, chosen
