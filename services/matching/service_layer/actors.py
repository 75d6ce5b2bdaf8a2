"""Use cases of the actor catalogue: register or update actors, one by one or a whole
département's catalogue at once; list and read them."""

from __future__ import annotations

from datetime import datetime

from services.matching.domain.catalogue import actor_to_dict
from services.matching.domain.model import Actor
from services.matching.service_layer.ports import UnitOfWork
from services.matching.service_layer.scopes import scope_departement
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import ActorRegistered, ActorUpdated
from shared.errors import Conflict, Forbidden, NotFound


def ensure_may_manage(principal: Principal, departement: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.DEPARTEMENT or principal.departement != departement:
        raise Forbidden("Seule l'équipe du département gère son catalogue d'acteurs.")


def _snapshot(
    actor: Actor, created: bool, version: int, now: datetime
) -> ActorRegistered | ActorUpdated:
    fields = actor_to_dict(actor)
    fields["actor_id"] = fields.pop("id")
    event_type = ActorRegistered if created else ActorUpdated
    return event_type.model_validate(fields | {"version": version, "changed_at": now})


async def save_actor(uow: UnitOfWork, principal: Principal, actor: Actor, now: datetime) -> int:
    """Register or update an actor of the catalogue; returns its version, -1 if unchanged."""
    ensure_may_manage(principal, actor.departement)
    existing = await uow.actors.get(actor.id)
    if existing is not None and existing.departement != actor.departement:
        raise Conflict("Cet identifiant d'acteur appartient à un autre département.")
    if existing == actor:
        return -1
    version, created = await uow.actors.upsert(actor, now)
    await uow.outbox.add(_snapshot(actor, created, version, now), departement=actor.departement)
    await uow.commit()
    return version


async def load_catalogue(
    uow: UnitOfWork, principal: Principal, actors: list[Actor], now: datetime
) -> int:
    """Save each actor of a catalogue in its own transaction; returns how many changed."""
    changed = 0
    for actor in actors:
        changed += await save_actor(uow, principal, actor, now) > 0
    return changed


async def list_actors(
    uow: UnitOfWork, principal: Principal, departement: str | None
) -> list[Actor]:
    return await uow.actors.of_departement(scope_departement(principal, departement))


async def read_actor(uow: UnitOfWork, principal: Principal, actor_id: str) -> Actor:
    actor = await uow.actors.get(actor_id)
    if actor is None or not principal.can_act_for(actor.departement):
        raise NotFound("Acteur introuvable.")
    return actor
